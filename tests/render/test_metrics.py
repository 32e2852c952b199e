"""Metrics: StatsD wiring, the exporter, Prometheus Operator objects, alerts and the dashboard.

Alerts and dashboard queries are checked by the real promtool (Debian package `prometheus`);
the Prometheus Operator objects by their CRD schemas (cloudcoil models, made strict).
"""

import json
import os
import shutil
import subprocess

import pytest
import yaml

from chart_tools import CHART, ROOT
from chart_tools.chart.render import RenderError, RenderRequest, find, parse, render, run_helm_template
from chart_tools.chart.validate import validate
from tests.conftest import ci_file
from tests.helpers import airflow_cfg, container, deployment, of_kind, statsd_map

ON = ["cluster.metrics.enabled=true"]
ALERTS = {
    "AirflowSchedulerHeartbeatMissing", "AirflowDagImportErrors", "AirflowTaskFailureRateHigh",
    "AirflowExecutorSlotsExhausted", "AirflowPoolStarving", "AirflowZombieOrOrphanedTasks",
    "AirflowCeleryQueueBacklog",
}  # fmt: skip


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing: run `make setup-runtime` (Debian package prometheus)")
        pytest.skip("promtool is missing: run `make setup-runtime` (Debian package prometheus)")
    return path


@pytest.fixture
def metrics(helm_major):
    return render([ci_file("metrics")], helm_major=helm_major)


def rule_groups(objects):
    return find(objects, "PrometheusRule")["spec"]


def test_airflow_sends_statsd_to_the_exporter_service(metrics):
    cfg = airflow_cfg(metrics)["metrics"]
    service = find(metrics, "Service", "-statsd")
    (udp,) = [p for p in service["spec"]["ports"] if p.get("protocol") == "UDP"]
    assert (cfg["statsd_on"], cfg["statsd_host"], cfg["statsd_port"]) == (
        "True",
        service["metadata"]["name"],
        str(udp["port"]),
    )
    exporter = container(deployment(metrics, "statsd"), "statsd-exporter")
    listen = next(a for a in exporter["args"] if a.startswith("--statsd.listen-udp="))
    target = next(p for p in exporter["ports"] if p["name"] == udp["targetPort"])
    assert listen == f"--statsd.listen-udp=:{target['containerPort']}" and target["protocol"] == "UDP"
    assert exporter["image"] == "quay.io/prometheus/statsd-exporter:v0.28.0"


def test_service_monitor_scrapes_the_exporter(metrics):
    monitor = find(metrics, "ServiceMonitor")
    service = find(metrics, "Service", "-statsd")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert not validate(metrics)  # the CRD schemas included


def test_operator_objects_follow_the_api(helm_major):
    without = render(set_values=ON, helm_major=helm_major)
    assert not [o for o in without if o["apiVersion"].startswith("monitoring.coreos.com")]
    assert find(without, "Deployment", "-statsd")  # the exporter itself does not need the API
    request = RenderRequest(
        set_values=(*ON,), helm_major=helm_major, extra_args=("--api-versions", "monitoring.coreos.com/v1")
    )
    kinds = {o["kind"] for o in parse(run_helm_template(request))}
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds and "PodMonitor" not in kinds


def test_pod_monitor_instead(helm_major):
    objects = render(
        [ci_file("metrics")],
        ["cluster.metrics.serviceMonitor.enabled=false", "cluster.metrics.podMonitor.enabled=true"],
        helm_major=helm_major,
    )
    assert not of_kind(objects, "ServiceMonitor")
    monitor = find(objects, "PodMonitor")
    pod = deployment(objects, "statsd")["spec"]["template"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert not validate(objects)
    with pytest.raises(RenderError, match="choose one"):
        render([ci_file("metrics")], ["cluster.metrics.podMonitor.enabled=true"], helm_major=helm_major)


def test_every_alert_has_summary_description_and_runbook(metrics):
    rules = [r for g in rule_groups(metrics)["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning")


def test_promtool_accepts_the_rendered_rules(metrics, promtool, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_groups(metrics)))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_promtool_unit_tests_of_the_heartbeat_and_failure_alerts(metrics, promtool, tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups(metrics)))
    tests = yaml.safe_load((ROOT / "tests" / "data" / "prometheus-rules-test.yaml").read_text())
    (tmp_path / "test.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], **tests}))
    done = subprocess.run(
        [promtool, "test", "rules", "test.yaml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_dashboard_query_is_valid_promql(metrics, promtool, tmp_path):
    configmap = find(metrics, "ConfigMap", "-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["airflow.json"])
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(queries) == len(dashboard["panels"]) >= 10
    rules = [{"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)]
    (tmp_path / "queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    done = subprocess.run(
        [promtool, "check", "rules", "queries.yaml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr


def mappings(objects):
    return yaml.safe_load(find(objects, "ConfigMap", "-statsd")["data"]["mappings.yml"])["mappings"]


def test_the_mapping_turns_airflow_names_into_labelled_metrics(metrics):
    m = mappings(metrics)
    assert statsd_map("airflow.ti.finish.tutorial.print_date.success", m) == (
        "airflow_ti_finish",
        {"dag_id": "tutorial", "task_id": "print_date", "state": "success"},
    )
    assert statsd_map("airflow.dagrun.duration.failed.etl", m) == (
        "airflow_dagrun_duration_seconds",
        {"state": "failed", "dag_id": "etl"},
    )
    assert statsd_map("airflow.pool.starving_tasks.default_pool", m) == (
        "airflow_pool_starving_tasks",
        {"pool": "default_pool"},
    )
    assert statsd_map("airflow.executor.open_slots.CeleryExecutor", m) == (
        "airflow_executor_open_slots",
        {"executor": "CeleryExecutor"},
    )
    assert statsd_map("airflow.scheduler_heartbeat", m) == ("airflow_scheduler_heartbeat", {})
    assert statsd_map("airflow.dag_processing.import_errors", m) == (
        "airflow_dag_processing_import_errors",
        {},
    )
    assert statsd_map("other.metric", m) is None


def test_users_extend_or_replace_the_mapping(helm_major, tmp_path):
    extra = {"match": "airflow.custom.*", "name": "my_custom", "labels": {"what": "$1"}}
    values = tmp_path / "v.yaml"
    values.write_text(
        yaml.safe_dump({"cluster": {"metrics": {"enabled": True, "exporter": {"extraMappings": [extra]}}}})
    )
    objects = render([values], helm_major=helm_major)
    assert mappings(objects)[0] == extra and len(mappings(objects)) > 1
    values.write_text(
        yaml.safe_dump({"cluster": {"metrics": {"enabled": True, "exporter": {"overrideMappings": [extra]}}}})
    )
    assert mappings(render([values], helm_major=helm_major)) == [extra]


def test_the_shipped_files_are_what_the_chart_renders(metrics):
    shipped = yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())
    assert rule_groups(metrics) == shipped
