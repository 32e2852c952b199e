"""The run plan from rendered objects: env, volumes, ports and Services, and their error paths."""

import copy
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chart_tools.chart.render import find, render
from chart_tools.runtime import pgbouncer
from chart_tools.runtime.plan import (
    Cluster,
    RunPlanError,
    build_plan,
    expand,
    materialise_mounts,
    resolve_env,
)
from chart_tools.runtime.services import Endpoint
from chart_tools.runtime.smoke import runtime_values
from tests.helpers import container, deployment, pod_of

PG = Endpoint("127.0.0.1", 15432, "airflow", "s3cret", "airflow")
POD = {"metadata": {"name": "pod", "namespace": "airflow"}, "spec": {"containers": [{"name": "c"}]}}
REDIS = Endpoint("127.0.0.1", 16379, password="br0ker")


@pytest.fixture
def objects(tmp_path):
    """The default render pointed at a (pretend) local database, plus the user's DB Secret."""
    values, secrets = runtime_values(PG, REDIS, tmp_path)
    return [*copy.deepcopy(render([values])), *secrets]


def test_env_resolves_secrets_and_expands_references(objects):
    cluster = Cluster(objects)
    scheduler = container(deployment(objects, "scheduler"), "scheduler")
    env = resolve_env(scheduler, cluster, POD, "scheduler")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql://airflow:s3cret@127.0.0.1:15432/airflow"
    secret = find(objects, "Secret", "-airflow")
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) == 64
    assert (
        env["AIRFLOW__API_AUTH__JWT_SECRET"]
        == Cluster([secret]).data("Secret", secret["metadata"]["name"], "")["jwt-secret"]
    )


def test_expansion_rules():
    assert expand("a$(X)b$$(X)", {"X": "1"}, "here") == "a1b$(X)"
    with pytest.raises(RunPlanError, match=r"here: \$\(Y\) refers to no variable"):
        expand("$(Y)", {}, "here")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}],
            "Secret 'nope' does not exist",
        ),
        (
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "chart-tools-smoke-db", "key": "k"}}}],
            "has no key 'k'",
        ),
        (
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
            "ConfigMap 'cm' does not",
        ),
        ([{"name": "A", "value": "$(UNDEFINED)"}], r"\$\(UNDEFINED\) refers to no variable"),
        (
            [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
            "resourceFieldRef limits.cpu of c is not set",
        ),
        ([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}}], "is not emulated"),
        ([{"name": "A", "valueFrom": {"fileKeyRef": {"path": "x"}}}], "unsupported valueFrom"),
    ],
)
def test_unresolvable_env_fails_naming_the_variable(objects, env, message):
    with pytest.raises(RunPlanError, match=message) as err:
        resolve_env({"name": "c", "env": env}, Cluster(objects), POD, "Deployment/x container c")
    assert "Deployment/x container c.env[A]" in str(err.value)


def test_optional_reference_to_a_missing_secret_is_skipped(objects):
    env = [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}}]
    assert resolve_env({"name": "c", "env": env}, Cluster(objects), POD, "x") == {}


def test_downward_api_answers_from_the_pod():
    """fieldRef and resourceFieldRef as the kubelet resolves them: limits in divisor units, rounded up."""
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}}
    pod = {
        "metadata": {"name": "task-1", "namespace": "team", "labels": {"dag_id": "tutorial"}},
        "spec": {"serviceAccountName": "runner", "containers": [{"name": "base", "resources": resources}]},
    }
    refs = {
        "NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "NS": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        "DAG": {"fieldRef": {"fieldPath": "metadata.labels['dag_id']"}},
        "SA": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}},
        "MEM_LIMIT": {"resourceFieldRef": {"resource": "limits.memory"}},
        "MEM_MI": {"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}},
        "CPU": {"resourceFieldRef": {"containerName": "base", "resource": "requests.cpu", "divisor": "1"}},
    }
    env = [{"name": k, "valueFrom": v} for k, v in refs.items()]
    assert resolve_env({"name": "base", "env": env}, Cluster([]), pod, "x") == {
        "NAME": "task-1",
        "NS": "team",
        "DAG": "tutorial",
        "SA": "runner",
        "MEM_LIMIT": str(2**30),
        "MEM_MI": "128",
        "CPU": "1",  # 100m in whole cores, rounded up as the kubelet does
    }


def test_mounts_materialise_configmap_files_and_emptydirs(objects, tmp_path):
    obj = deployment(objects, "api-server")
    c = container(obj, "api-server")
    paths = materialise_mounts(pod_of(obj), c, Cluster(objects), tmp_path / "pod", tmp_path, "x")
    config = find(objects, "ConfigMap", "-config")["data"]
    assert (tmp_path / "pod/opt/airflow/airflow.cfg").read_text() == config["airflow.cfg"]
    assert (tmp_path / "pod/opt/airflow/webserver_config.py").read_text() == config["webserver_config.py"]
    assert (tmp_path / "pod/tmp").is_dir() and (tmp_path / "pod/opt/airflow/logs").is_dir()
    assert "/opt/airflow/airflow.cfg" in paths


@pytest.mark.parametrize(
    ("volumes", "mounts", "message"),
    [
        ([], [{"name": "v", "mountPath": "/x"}], "volume 'v' is not declared"),
        ([{"name": "v", "hostPath": {"path": "/"}}], [{"name": "v", "mountPath": "/x"}], "not emulated"),
        (
            [{"name": "v", "configMap": {"name": "missing"}}],
            [{"name": "v", "mountPath": "/x"}],
            "does not exist",
        ),
        (
            [{"name": "v", "secret": {"secretName": "chart-tools-smoke-db"}}],
            [{"name": "v", "mountPath": "/x", "subPath": "nokey"}],
            "has no key 'nokey'",
        ),
    ],
)
def test_bad_mounts_fail_naming_the_mount(objects, tmp_path, volumes, mounts, message):
    with pytest.raises(RunPlanError, match=message) as err:
        materialise_mounts(
            {"volumes": volumes}, {"volumeMounts": mounts}, Cluster(objects), tmp_path, tmp_path, "c"
        )
    assert "c.volumeMounts[/x]" in str(err.value)


def test_plan_wires_the_execution_api_through_the_api_server_service(objects, tmp_path):
    plan = build_plan(objects, tmp_path)
    api_server = plan.pod("api-server").main[0]
    service = find(objects, "Service", "-api-server")
    local = plan.endpoints[(service["metadata"]["name"], str(service["spec"]["ports"][0]["port"]))]
    assert api_server.env["AIRFLOW__API__PORT"] == str(local)
    url = urlsplit(plan.pod("scheduler").main[0].env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", local, "/execution/")


def test_every_process_agrees_on_the_log_server_ports(objects, tmp_path):
    """The api-server fetches a task's log from the port in its own config: locally that must be the
    port the worker's (and triggerer's) log server listens on, so all processes share one per option."""
    plan = build_plan(objects, tmp_path)
    processes = [p for pod in plan.workloads for p in pod.main]
    for option in ("WORKER_LOG_SERVER_PORT", "TRIGGER_LOG_SERVER_PORT"):
        assert len({p.env[f"AIRFLOW__LOGGING__{option}"] for p in processes}) == 1, option
    worker = plan.pod("worker").main[0]
    served = container(deployment(objects, "worker"), "worker")["ports"][0]
    assert (
        str(worker.ports[str(served["containerPort"])])
        == worker.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]
    )
    api_port = {p.env["AIRFLOW__API__PORT"] for p in processes}
    assert len(api_port) == len(processes)  # servers that are not log servers keep a port each


def test_plan_maps_paths_into_each_pod_root(objects, tmp_path):
    scheduler = build_plan(objects, tmp_path).pod("scheduler").main[0]
    assert scheduler.env["AIRFLOW_HOME"] == str(tmp_path / "pods/scheduler/opt/airflow")
    assert scheduler.env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "pods/scheduler/opt/airflow/dags")
    assert scheduler.env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] == str(
        tmp_path / "pods/scheduler/opt/airflow/logs"
    )
    assert scheduler.argv == ["airflow", "scheduler"]


def test_execution_api_url_to_a_wrong_service_port_is_caught(objects, tmp_path):
    cfg = find(objects, "ConfigMap", "-config")["data"]
    cfg["airflow.cfg"] = cfg["airflow.cfg"].replace(
        "-api-server:8080/execution/", "-api-server:9090/execution/"
    )
    with pytest.raises(RunPlanError, match=r"airflow-api-server:9090, but no running container serves"):
        build_plan(objects, tmp_path)


def test_execution_api_url_to_an_unknown_host_is_caught(objects, tmp_path):
    cfg = find(objects, "ConfigMap", "-config")["data"]
    cfg["airflow.cfg"] = cfg["airflow.cfg"].replace("http://airflow-api-server:", "http://api-servr:")
    with pytest.raises(RunPlanError, match="'api-servr', which is no Service"):
        build_plan(objects, tmp_path)


def test_container_port_airflow_does_not_listen_on_is_caught(objects, tmp_path):
    api = container(deployment(objects, "api-server"), "api-server")
    api["ports"][0]["containerPort"] = 8000
    with pytest.raises(RunPlanError, match="containerPort 8000 is not a port Airflow listens on"):
        build_plan(objects, tmp_path)


@pytest.fixture
def pooled(tmp_path):
    """The render with PgBouncer, pointed at the (pretend) local database."""
    values, secrets = runtime_values(PG, REDIS, tmp_path)
    return [*copy.deepcopy(render([values], ["cluster.pgbouncer.enabled=true"])), *secrets]


def test_pgbouncer_runs_the_rendered_ini_on_a_local_port(pooled, tmp_path):
    plan = build_plan(pooled, tmp_path)
    bouncer = plan.pod("pgbouncer").main[0]
    local = bouncer.ports["pgbouncer"]
    assert bouncer.ports["6432"] == local == plan.endpoints[("airflow-pgbouncer", "6432")]
    assert bouncer.argv[1:3] == ["-m", "chart_tools.runtime.pgbouncer"]
    copy_ini = pgbouncer.read(Path(bouncer.argv[-1]))
    rendered = find(pooled, "ConfigMap", "-pgbouncer")["data"]["pgbouncer.ini"]
    assert copy_ini["pgbouncer"]["listen_addr"] == "127.0.0.1"
    assert copy_ini["pgbouncer"]["listen_port"] == str(local)
    assert copy_ini["pgbouncer"]["auth_file"] == str(tmp_path / "pods/pgbouncer/etc/pgbouncer-auth/users.txt")
    assert copy_ini["databases"]["airflow"] == "host=127.0.0.1 port=15432 dbname=airflow"
    assert "pool_mode = transaction" in rendered and copy_ini["pgbouncer"]["pool_mode"] == "transaction"
    # The components reach it through its Service; the migration Job reaches the server itself.
    scheduler = urlsplit(plan.pod("scheduler").main[0].env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (scheduler.hostname, scheduler.port) == ("127.0.0.1", local)
    migrate = urlsplit(plan.migration.init[0].env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (migrate.hostname, migrate.port) == ("127.0.0.1", 15432)


def test_pgbouncer_with_another_command_is_refused(tmp_path):
    with pytest.raises(pgbouncer.PgBouncerPlanError, match="expected `pgbouncer CONFIG`"):
        pgbouncer.plan(["pgbouncer", "-d", "/etc/pgbouncer/pgbouncer.ini"], lambda p: tmp_path / p)
