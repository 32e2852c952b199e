"""The KubernetesExecutor for real: each task runs in a pod the scheduler creates through the
stand-in Kubernetes API, and the runtime's kubelet runs that pod as local processes.

One stack serves the module: values/kubernetes-executor.yaml with DAGs on a claim
(values/dags-persistent-volume.yaml: task pods find them only through the pod template's DAG
volume) and tests/data/kubernetes-executor-values.yaml (a ResourceQuota with room for two task
pods, two pods per scheduler loop, quick adoption). The last test kills the scheduler.
"""

from __future__ import annotations

import copy
import datetime as dt
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chart_tools import ROOT
from chart_tools.airflow_api import FINISHED
from chart_tools.chart.render import NAMESPACE, find
from chart_tools.chart.validate import validate
from chart_tools.runtime.kubeauth import TERMINAL_PHASES
from chart_tools.runtime.kubelet import PodRun
from chart_tools.runtime.kubestore import Key
from chart_tools.runtime.processes import process_env, wait_until
from chart_tools.runtime.smoke import DAGS
from tests.runtime.stacks import DEADLINE, Run, Stack, running

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.usefixtures("runtime_ready"),
    pytest.mark.xdist_group("kubernetes-executor"),
]

DATA = ROOT / "tests" / "data"
VALUES = [
    ROOT / "values" / "kubernetes-executor.yaml",
    ROOT / "values" / "dags-persistent-volume.yaml",
    DATA / "kubernetes-executor-values.yaml",
]
SCHEDULER = "system:serviceaccount:airflow:airflow-scheduler"
QUOTA = 6  # tests/data/kubernetes-executor-values.yaml


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    dag_files = [*sorted(DAGS.glob("*.py")), DATA / "dags" / "fan_out.py", DATA / "dags" / "faults.py"]
    with running(tmp_path_factory.mktemp("kubernetes-executor"), VALUES, dag_files=dag_files) as stack:
        yield stack


def pods_of(stack: Stack, dag_id: str, run_id: str, ended: bool = True) -> dict[str, list[PodRun]]:
    """Task id -> every pod the run's task ran in, oldest first; with `ended`, once each has ended
    (a task reports success to the api-server a moment before its process exits)."""
    pods: dict[str, list[PodRun]] = {}
    for run in list(stack.cluster.kubelet.runs.values()):
        annotations = run.pod["metadata"].get("annotations") or {}
        if (annotations.get("dag_id"), annotations.get("run_id")) == (dag_id, run_id):
            pods.setdefault(annotations["task_id"], []).append(run)
    done = lambda: all(r.phase in TERMINAL_PHASES for runs in pods.values() for r in runs)  # noqa: E731
    if ended:
        wait_until(f"the pods of {run_id} ended", done, DEADLINE, stack.runner, 0.5)
    return pods


def calls(stack: Stack, method: str, pod: str) -> list:
    """The API requests of one method on one pod, oldest first."""
    return [
        c
        for c in list(stack.cluster.api.calls)
        if c.method == method and c.path.split("?")[0].endswith(f"/{pod}")
    ]


def created(stack: Stack, pod: str) -> dict:
    """The Pod as the scheduler sent it (the POST body), with the kind the executor leaves out."""
    posts = [c for c in list(stack.cluster.api.calls) if c.method == "POST" and c.status == 201
             and (c.body or {}).get("metadata", {}).get("name") == pod]  # fmt: skip
    assert len(posts) == 1 and posts[0].user == SCHEDULER, posts
    return {"apiVersion": "v1", "kind": "Pod", **posts[0].body}


def succeed(stack: Stack, dag_id: str, conf: dict | None = None) -> tuple[str, dict]:
    run_id = stack.trigger(dag_id, conf)
    state, tasks = stack.wait_run(dag_id, run_id)
    assert state == "success", {k: t.state for k, t in tasks.items()}
    return run_id, tasks


@pytest.fixture(scope="module")
def examples(stack: Stack) -> dict[str, str]:
    """The tutorial and executor_config_example, run at the same time: DAG id -> run id."""
    runs = {dag_id: stack.trigger(dag_id) for dag_id in ("tutorial", "executor_config_example")}
    for dag_id, run_id in runs.items():
        state, tasks = stack.wait_run(dag_id, run_id)
        assert state == "success", {k: t.state for k, t in tasks.items()}
    return runs


def test_the_tutorial_runs_one_pod_per_task(stack, examples):
    """Each task ran in a pod of its own, which succeeded and which the scheduler then deleted
    (cluster.kubernetes.deleteOnSuccess)."""
    pods = pods_of(stack, "tutorial", examples["tutorial"])
    assert {task: len(runs) for task, runs in pods.items()} == {"print_date": 1, "sleep": 1, "templated": 1}
    for (run,) in pods.values():
        gone = lambda run=run: stack.cluster.api.objects.get(run.key) is None  # noqa: E731
        wait_until(f"{run.key.name} deleted", gone, DEADLINE, stack.runner)
        assert run.phase == "Succeeded"
        assert run.states["base"]["terminated"]["exitCode"] == 0
        # The scheduler deletes it once more when the deletion's own event arrives: 404, ignored.
        deletions = calls(stack, "DELETE", run.key.name)
        assert deletions[0].status == 200 and {c.user for c in deletions} == {SCHEDULER}


def test_dags_on_the_claim_are_the_only_copy(stack, examples):
    """DAG mode `persistentVolume`: the claim (one folder every pod mounting it shares) is the only
    copy; a reader that did not mount it would not find the DAG, and the api-server does not."""
    claim = stack.run_dir / "claims/airflow-dags/dags"  # existingClaim + subPath of the profile
    assert (claim / "tutorial.py").is_file()
    for reader in ("dag-processor", "triggerer"):
        assert (stack.run_dir / "pods" / reader / "opt/airflow/dags").resolve() == claim
    assert not (stack.run_dir / "pods/api-server/opt/airflow/dags").exists()
    for (run,) in pods_of(stack, "tutorial", examples["tutorial"]).values():
        assert (run.plan.root / "opt/airflow/dags").resolve() == claim


def test_every_task_pod_passes_schema_and_pod_security(stack, examples):
    for dag_id, run_id in examples.items():
        for (run,) in pods_of(stack, dag_id, run_id).values():
            findings = validate([created(stack, run.key.name)])
            assert not findings, "\n".join(map(str, findings))


def generated_pods(stack: Stack, out: Path) -> dict[tuple[str, str], dict]:
    """Pods as `airflow kubernetes generate-dag-yaml` builds them with the scheduler's config (and
    the DAG files from the claim, which the scheduler itself does not mount)."""
    scheduler = stack.plan.pod("scheduler").main[0]
    env = {
        **process_env(scheduler),
        "AIRFLOW__CORE__DAGS_FOLDER": str(stack.run_dir / "claims/airflow-dags/dags"),
    }
    for dag_id in ("tutorial", "executor_config_example"):
        cmd = ["airflow", "kubernetes", "generate-dag-yaml", dag_id, "--logical-date", "2024-01-02"]
        done = subprocess.run(
            [*cmd, "--output-path", str(out)], env=env, cwd=scheduler.root, capture_output=True
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    pods = [yaml.safe_load(p.read_text()) for p in out.rglob("*.yml")]
    return {
        (p["metadata"]["annotations"]["dag_id"], p["metadata"]["annotations"]["task_id"]): p for p in pods
    }


def shape(pod: dict) -> dict:
    """A task pod's spec without the workload arguments, which name the run and carry a token."""
    spec = copy.deepcopy(pod["spec"])
    for container in spec["containers"]:
        container.pop("args", None)
    return spec


def test_running_pods_are_what_generate_dag_yaml_builds_from_the_chart_template(stack, examples, tmp_path):
    """The pods the scheduler created are Airflow's own build from the chart's pod template
    (image, env, security context, DAG volume), as `generate-dag-yaml` shows them before any run."""
    generated = generated_pods(stack, tmp_path)
    assert len(generated) == 5
    for dag_id, run_id in examples.items():
        for task, (run,) in pods_of(stack, dag_id, run_id).items():
            assert shape(created(stack, run.key.name)) == shape(generated[(dag_id, task)]), (dag_id, task)
    configmap = stack.cluster.api.objects.get(Key("airflow", "configmaps", "airflow-pod-template"))
    template = yaml.safe_load(configmap["data"]["pod_template_file.yaml"])
    (run,) = pods_of(stack, "tutorial", examples["tutorial"])["print_date"]
    pod = created(stack, run.key.name)
    base, rendered = pod["spec"]["containers"][0], template["spec"]["containers"][0]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "task"
    assert pod["spec"]["serviceAccountName"] == "airflow-task"
    assert base["image"] == rendered["image"] == "apache/airflow:3.3.2"
    assert base["securityContext"] == rendered["securityContext"]
    assert pod["spec"]["securityContext"] == template["spec"]["securityContext"]
    # Task pods get no secret from the chart (the rendered list may be empty); Airflow adds its own.
    running = {e["name"] for e in base.get("env", [])}
    assert running >= {e["name"] for e in rendered.get("env", [])}
    secrets = {"AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"}
    assert not running & (secrets | {"AIRFLOW_DB_PASSWORD", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"})
    assert base["resources"]["limits"]["memory"] == "1Gi"  # cluster.kubernetes.resources
    claim = {"name": "dags", "persistentVolumeClaim": {"claimName": "airflow-dags", "readOnly": True}}
    assert claim in pod["spec"]["volumes"]


def test_executor_config_override_is_in_effect_inside_the_task(stack, examples):
    """`small_pod` reads its own memory request and limit through the downward API: the 128Mi of
    its pod_override, not the template's 512Mi/1Gi."""
    run_id = examples["executor_config_example"]
    assert stack.api.xcom("executor_config_example", run_id, "small_pod") == {
        "memory_request_mi": "128",
        "memory_limit_mi": "128",
    }
    pods = pods_of(stack, "executor_config_example", run_id)
    small = created(stack, pods["small_pod"][0].key.name)["spec"]["containers"][0]
    other = created(stack, pods["default_executor"][0].key.name)["spec"]["containers"][0]
    assert small["image"] == "apache/airflow:3.3.2-python3.12" and other["image"] == "apache/airflow:3.3.2"
    assert small["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "128Mi"},
    }
    assert small["securityContext"]["readOnlyRootFilesystem"] is True  # the template's, kept


def test_a_deferred_sensor_is_resumed_by_the_triggerer(stack):
    """`wait` defers: its first pod ends, the triggerer takes the trigger, and a second pod with
    the same try resumes the task when the trigger fires."""
    run_id = stack.trigger("deferrable_sensor")
    seen: dict[str, object] = {}

    def finished() -> bool:
        wait = {t.task_id: t for t in stack.api.task_instances("deferrable_sensor", run_id)}["wait"]
        if wait.state and wait.state.value == "deferred" and wait.trigger and wait.trigger.triggerer_id:
            seen["triggerer"] = wait.trigger.triggerer_id
        return stack.api.run_state("deferrable_sensor", run_id) in FINISHED

    wait_until("deferrable_sensor run", finished, DEADLINE, stack.runner, 0.5)
    state, tasks = stack.wait_run("deferrable_sensor", run_id)
    assert state == "success"
    assert "triggerer" in seen, "the task was never seen deferred to a triggerer"
    waits = pods_of(stack, "deferrable_sensor", run_id)["wait"]
    assert [r.phase for r in waits] == ["Succeeded", "Succeeded"]
    assert {r.pod["metadata"]["annotations"]["try_number"] for r in waits} == {"1"}
    assert tasks["wait"].try_number == 1


def peak_pods(stack: Stack) -> int:
    """The most pods the namespace held at once that a quota counts (not Succeeded or Failed),
    replayed from the API's change history."""
    phases: dict[str, str] = {}
    peak = 0
    for change in stack.cluster.api.objects.changes_after(0):
        if change.key.resource != "pods" or change.key.namespace != "airflow":
            continue
        if change.type == "DELETED":
            phases.pop(change.key.name, None)
        else:
            phases[change.key.name] = (change.obj.get("status") or {}).get("phase", "")
        peak = max(peak, sum(1 for p in phases.values() if p not in TERMINAL_PHASES))
    return peak


def quota_refusals(stack: Stack) -> int:
    """Pod creations the API refused because the namespace's quota was used up."""
    return sum(1 for c in list(stack.cluster.api.calls) if c.status == 403 and "exceeded quota" in c.message)


def test_pod_creation_stays_within_the_quota_and_every_task_finishes(stack):
    """Six tasks ready at once, room for two task pods: the API refuses the pods over the quota,
    the scheduler tries them again (cluster.kubernetes.podCreationRetries) and all finish."""
    before = quota_refusals(stack)
    run_id, tasks = succeed(stack, "fan_out")
    assert len(tasks) == 6
    pods = pods_of(stack, "fan_out", run_id)
    assert sorted(len(runs) for runs in pods.values()) == [1] * 6  # a refused pod was never made
    assert peak_pods(stack) <= QUOTA
    assert quota_refusals(stack) > before, "the quota never refused a pod: this run proves nothing"


def finished_pod(name: str, phase: str, hours_ago: float | None, labels: dict[str, str]) -> dict:
    """A task pod as the API holds it once its container ended `hours_ago` (None: still running)."""
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago or 0)
    state = {"terminated": {"exitCode": 0, "finishedAt": ended.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    status = {"name": "base", "image": "x", "imageID": "", "ready": False, "restartCount": 0}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {"containers": [{"name": "base", "image": "x"}]},
        "status": {
            "phase": phase,
            "containerStatuses": [{**status, "state": state if hours_ago is not None else {"running": {}}}],
        },
    }


def test_pod_cleanup_deletes_finished_task_pods_older_than_the_limit(stack):
    """values/kubernetes-executor.yaml runs the cleanup CronJob (maxAgeHours 72): its pod, with
    its own service account and Role, deletes the task pods that ended before then, and only them."""
    task = {"kubernetes_executor": "True", "test": "cleanup"}
    pods = {
        "old-failed": ("Failed", 100, task),
        "old-succeeded": ("Succeeded", 73, task),
        "recent-failed": ("Failed", 71, task),
        "still-running": ("Running", None, task),
        "old-not-a-task": ("Failed", 100, {"test": "cleanup"}),
    }
    for name, (phase, hours, labels) in pods.items():
        stack.cluster.api.store(finished_pod(name, phase, hours, labels), NAMESPACE)
    stack.run_cron_job(find(stack.objects, "CronJob", "-task-pod-cleanup"), stack.objects)
    left = {p["metadata"]["name"] for p in stack.cluster.api.pods(NAMESPACE)}
    assert left & set(pods) == {"recent-failed", "still-running", "old-not-a-task"}
    deleted_by = {c.user for name in ("old-failed", "old-succeeded") for c in calls(stack, "DELETE", name)}
    assert deleted_by == {"system:serviceaccount:airflow:airflow-task-pod-cleanup"}


def test_a_killed_scheduler_adopts_its_running_task_pod(stack, tmp_path):
    """SIGKILL the scheduler while `hold` runs in its pod: the restarted scheduler finds the pod
    (labelled with the dead scheduler's job id), relabels it as its own, watches it to the end and
    deletes it; the task ran once and the run succeeds."""
    run = Run(stack, tmp_path / "ledger", hold=50)
    run.wait_started("hold")
    (hold,) = pods_of(stack, "faults", run.run_id, ended=False)["hold"]
    old_owner = hold.pod["metadata"]["labels"]["airflow-worker"]
    scheduler = stack.runner.container("scheduler")
    restarts = scheduler.restarts
    scheduler.signal(signal.SIGKILL)
    tries = run.wait_success()
    assert run.ran()["hold"] == 1 and tries["hold"] == 1
    assert scheduler.restarts == restarts + 1
    adopted = [
        c for c in calls(stack, "PATCH", hold.key.name)
        if c.user == SCHEDULER and c.body["metadata"]["labels"].get("airflow-worker") not in (None, old_owner)
    ]  # fmt: skip
    assert adopted, [(c.user, c.body) for c in calls(stack, "PATCH", hold.key.name)]
    relabelled = [
        change.obj for change in stack.cluster.api.objects.changes_after(0)
        if change.key == hold.key and change.obj["metadata"]["labels"]["airflow-worker"] != old_owner
    ]  # fmt: skip
    assert relabelled[0]["status"]["phase"] == "Running"  # adopted while it ran
    wait_until(
        "hold's pod deleted", lambda: stack.cluster.api.objects.get(hold.key) is None, DEADLINE, stack.runner
    )
    assert {c.user for c in calls(stack, "DELETE", hold.key.name)} == {SCHEDULER}
