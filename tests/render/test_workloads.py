"""The Airflow 3 components: commands, images, labels, probes, service wiring."""

import pytest

from chart_tools.chart.render import find, render
from tests.helpers import AIRFLOW_COMPONENTS, airflow_cfg, container, deployment, of_kind, pod_of

COMMANDS = {
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
}
STANDARD_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
}


@pytest.mark.parametrize("component", AIRFLOW_COMPONENTS)
def test_component_runs_its_airflow_3_command(defaults, component):
    main = container(deployment(defaults, component), component)
    assert main["args"] == COMMANDS[component]
    assert main["image"] == "apache/airflow:3.3.2"


def test_every_object_has_standard_labels(rendered):
    for obj in rendered:
        assert set(obj["metadata"]["labels"]) >= STANDARD_LABELS, obj["metadata"]["name"]


def test_images_are_pinned(rendered):
    for obj in of_kind(rendered, "Deployment") + of_kind(rendered, "StatefulSet") + of_kind(rendered, "Job"):
        pod = pod_of(obj)
        for c in pod.get("initContainers", []) + pod["containers"]:
            repo, _, tag = c["image"].rpartition(":")
            assert repo and tag and tag != "latest", c["image"]


def test_default_executor_is_celery(defaults):
    assert airflow_cfg(defaults)["core"]["executor"] == "CeleryExecutor"


def test_api_server_service_selects_api_server_pods(defaults):
    service = find(defaults, "Service", "-api-server")
    pod_labels = deployment(defaults, "api-server")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    port_names = {p["name"] for p in container(deployment(defaults, "api-server"), "api-server")["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names


def test_execution_api_url_points_at_the_api_server_service(defaults):
    service = find(defaults, "Service", "-api-server")
    expected = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/execution/"
    assert airflow_cfg(defaults)["core"]["execution_api_server_url"] == expected


def test_api_server_probes_use_airflow_3_health_endpoint(defaults):
    main = container(deployment(defaults, "api-server"), "api-server")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"]["path"] == "/api/v2/monitor/health"
    port = next(p for p in main["ports"] if p["name"] == main["livenessProbe"]["httpGet"]["port"])
    assert str(port["containerPort"]) == airflow_cfg(defaults)["api"]["port"]


def test_scheduler_probe_hits_the_health_server_airflow_is_configured_with(defaults):
    cfg = airflow_cfg(defaults)["scheduler"]
    assert cfg["enable_health_check"] == "True"
    main = container(deployment(defaults, "scheduler"), "scheduler")
    port = next(p for p in main["ports"] if p["name"] == main["livenessProbe"]["httpGet"]["port"])
    assert str(port["containerPort"]) == cfg["scheduler_health_check_server_port"]
    assert main["livenessProbe"]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize(
    ("component", "job"), [("dag-processor", "DagProcessorJob"), ("triggerer", "TriggererJob")]
)
def test_job_check_probes(defaults, component, job):
    command = container(deployment(defaults, component), component)["livenessProbe"]["exec"]["command"]
    assert command[:3] == ["airflow", "jobs", "check"]
    assert command[command.index("--job-type") + 1] == job


def test_writable_paths_are_emptydirs_and_logs_follow_config(defaults):
    log_folder = airflow_cfg(defaults)["logging"]["base_log_folder"]
    for component in AIRFLOW_COMPONENTS:
        obj = deployment(defaults, component)
        volumes = {v["name"]: v for v in pod_of(obj)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container(obj, component)["volumeMounts"]}
        assert "emptyDir" in volumes[mounts[log_folder]]
        assert "emptyDir" in volumes[mounts["/tmp"]]


def test_config_is_mounted_where_airflow_home_expects_it(defaults):
    mounts = {
        m["mountPath"]: m for m in container(deployment(defaults, "scheduler"), "scheduler")["volumeMounts"]
    }
    assert mounts["/opt/airflow/airflow.cfg"]["subPath"] == "airflow.cfg"
    assert mounts["/opt/airflow/webserver_config.py"]["subPath"] == "webserver_config.py"


def test_replicas_follow_values(helm_major):
    objects = render(set_values=["cluster.scheduler.replicas=2"], helm_major=helm_major)
    assert deployment(objects, "scheduler")["spec"]["replicas"] == 2


def test_extra_env_and_pod_metadata_reach_every_airflow_container(helm_major, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(
        "cluster:\n"
        "  extraEnv: [{name: MY_VAR, value: '{{ .Release.Name }}-x'}]\n"
        "  podAnnotations: {team: data}\n"
        "  podLabels: {tier: batch}\n"
    )
    objects = render([values], helm_major=helm_major)
    for component in AIRFLOW_COMPONENTS:
        obj = deployment(objects, component)
        meta = obj["spec"]["template"]["metadata"]
        assert meta["annotations"]["team"] == "data"
        assert meta["labels"]["tier"] == "batch"
        env = {e["name"]: e.get("value") for e in container(obj, component)["env"]}
        assert env["MY_VAR"] == "{{ .Release.Name }}-x"  # used as written: values are never templates
