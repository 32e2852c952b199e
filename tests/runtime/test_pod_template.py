"""KubernetesExecutor pods as Airflow itself builds them from the chart's pod template.

`airflow kubernetes generate-dag-yaml` (cncf.kubernetes provider) runs with the scheduler's
rendered configuration, so it reads the chart's `pod_template_file` and applies each task's
`executor_config`. The pods it writes are what the executor would create; they must pass the
same strict checks as every rendered object.
"""

import copy
import subprocess

import pytest
import yaml

from chart_tools.chart.render import render
from chart_tools.chart.validate import validate
from chart_tools.runtime.plan import build_plan
from chart_tools.runtime.processes import Runner, process_env
from chart_tools.runtime.services import services
from chart_tools.runtime.smoke import DAGS, provide_dags, runtime_values

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]
DAG_IDS = ("tutorial", "executor_config_example")


@pytest.fixture(scope="module")
def task_pods(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("pods")
    with services(run_dir / "services") as (pg, redis):
        values, secrets = runtime_values(pg, redis, run_dir)
        rendered = render([values], set_values=["cluster.executor=KubernetesExecutor"])
        objects = [*copy.deepcopy(rendered), *secrets]
        plan = build_plan(objects, run_dir)
        runner = Runner(run_dir / "logs")
        for migrate in plan.migration.init:  # the schema, as the migration Job leaves it
            runner.run_to_completion(migrate, timeout=300)
        scheduler = plan.pod("scheduler")
        provide_dags(plan, sorted(DAGS.glob("*.py")))
        process = scheduler.main[0]
        out = run_dir / "out"
        for dag_id in DAG_IDS:
            cmd = ["airflow", "kubernetes", "generate-dag-yaml", dag_id, "--logical-date", "2024-01-02"]
            cmd += ["--output-path", str(out)]
            done = subprocess.run(cmd, env=process_env(process), cwd=process.root, capture_output=True)
            assert done.returncode == 0, done.stderr.decode()[-2000:]
    pods = {}
    for path in out.rglob("*.yml"):
        pod = yaml.safe_load(path.read_text())
        pods[(pod["metadata"]["annotations"]["dag_id"], pod["metadata"]["annotations"]["task_id"])] = pod
    return pods


def test_a_pod_per_task(task_pods):
    assert set(task_pods) == {
        ("tutorial", "print_date"),
        ("tutorial", "sleep"),
        ("tutorial", "templated"),
        ("executor_config_example", "small_pod"),
        ("executor_config_example", "default_executor"),
    }


def test_every_task_pod_passes_schema_and_pod_security(task_pods):
    for pod in task_pods.values():
        findings = validate([pod])
        assert not findings, "\n".join(map(str, findings))


def test_pods_come_from_the_chart_template(task_pods):
    pod = task_pods[("tutorial", "print_date")]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "task"
    assert pod["spec"]["serviceAccountName"] == "airflow-task"
    base = pod["spec"]["containers"][0]
    assert base["name"] == "base" and base["image"] == "apache/airflow:3.3.2"
    assert base["resources"]["limits"]["memory"] == "1Gi"  # cluster.kubernetes.resources
    assert {m["mountPath"] for m in base["volumeMounts"]} >= {"/opt/airflow/airflow.cfg", "/tmp"}


def test_executor_config_override_took_effect(task_pods):
    base = task_pods[("executor_config_example", "small_pod")]["spec"]["containers"][0]
    assert base["image"] == "apache/airflow:3.3.2-python3.12"
    assert base["resources"]["requests"]["memory"] == "128Mi"
    assert base["resources"]["limits"]["memory"] == "128Mi"
    other = task_pods[("executor_config_example", "default_executor")]["spec"]["containers"][0]
    assert other["image"] == "apache/airflow:3.3.2"
    # the template's security context survives the override
    assert base["securityContext"]["readOnlyRootFilesystem"] is True
