"""Autoscaling as rendered: HorizontalPodAutoscalers for the api-server and the workers, and KEDA's
ScaledObject for the workers, with the rules that refuse what cannot work.
tests/runtime/test_autoscaling.py runs the ScaledObject's query."""

import copy

import pytest

from chart_tools.chart.render import RenderError, find, render
from chart_tools.chart.validate import check_schema
from tests.conftest import ci_file
from tests.helpers import of_kind

AUTOSCALING = ci_file("autoscaling")
KEDA = ["cluster.workers.keda.enabled=true"]
HPA = ["cluster.apiServer.autoscaling.enabled=true", "cluster.workers.autoscaling.enabled=true"]


def trigger(objects):
    (only,) = find(objects, "ScaledObject", "-worker")["spec"]["triggers"]
    return only


def names(objects, kind):
    return sorted(o["metadata"]["name"] for o in of_kind(objects, kind))


def test_hpas_take_the_replicas_of_their_deployments(helm_major):
    objects = render([], HPA, helm_major=helm_major)
    assert names(objects, "HorizontalPodAutoscaler") == ["airflow-api-server", "airflow-worker"]
    api = find(objects, "HorizontalPodAutoscaler", "-api-server")["spec"]
    assert api["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "airflow-api-server",
    }
    assert (api["minReplicas"], api["maxReplicas"]) == (2, 6)
    assert api["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
        }
    ]
    for component in ("api-server", "worker"):
        assert "replicas" not in find(objects, "Deployment", f"-{component}")["spec"], component
    # The api-server runs one replica by default, which has no budget; its autoscaler may run six.
    assert "airflow-api-server" in names(objects, "PodDisruptionBudget")


def test_no_autoscaler_by_default(defaults):
    assert not of_kind(defaults, "HorizontalPodAutoscaler") and not of_kind(defaults, "ScaledObject")
    assert find(defaults, "Deployment", "-worker")["spec"]["replicas"] == 2


def test_no_worker_autoscaler_without_celery(helm_major):
    objects = render([], [*HPA, "cluster.executor=LocalExecutor"], helm_major=helm_major)
    assert names(objects, "HorizontalPodAutoscaler") == ["airflow-api-server"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            [
                "cluster.apiServer.autoscaling.enabled=true",
                "cluster.apiServer.autoscaling.minReplicas=5",
                "cluster.apiServer.autoscaling.maxReplicas=3",
            ],
            r"cluster\.apiServer\.autoscaling\.minReplicas \(5\) is above maxReplicas \(3\)",
        ),
        (
            [*KEDA, "cluster.workers.autoscaling.enabled=true"],
            "cluster.workers.keda and cluster.workers.autoscaling",
        ),
        ([*KEDA, "cluster.executor=KubernetesExecutor"], r"cluster\.workers\.keda scales Celery workers"),
        (
            [*KEDA, "cluster.workers.keda.minReplicas=4", "cluster.workers.keda.maxReplicas=2"],
            r"cluster\.workers\.keda\.minReplicas \(4\) is above maxReplicas \(2\)",
        ),
        ([*KEDA, "cluster.config.celery.worker_concurrency=0"], r"worker_concurrency must be at least 1"),
    ],
)
def test_refused(helm_major, values, message):
    with pytest.raises(RenderError, match=message):
        render([], values, helm_major=helm_major)


def test_keda_scales_workers_on_their_queues_through_pgbouncer(helm_major):
    objects = render([AUTOSCALING], ["cluster.workers.queues={default,reports}"], helm_major=helm_major)
    scaled = find(objects, "ScaledObject", "-worker")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "airflow-worker"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 5)
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (10, 300)
    assert "replicas" not in find(objects, "Deployment", "-worker")["spec"]
    t = trigger(objects)
    assert t["type"] == "postgresql"
    assert t["metadata"] == {
        "host": "airflow-pgbouncer.airflow.svc",  # KEDA's operator runs in its own namespace
        "port": "6432",
        "userName": "airflow",
        "dbName": "airflow",
        "sslmode": "disable",  # PgBouncer serves no TLS; it reaches the server as configured
        "query": "SELECT CEIL(COUNT(*)::decimal / 2) FROM task_instance "
        "WHERE state IN ('queued', 'running') AND queue IN ('default', 'reports')",
        "targetQueryValue": "1",
    }
    auth = find(objects, "TriggerAuthentication", t["authenticationRef"]["name"])
    assert auth["spec"] == {
        "secretTargetRef": [{"parameter": "password", "name": "airflow-postgres", "key": "password"}]
    }


def test_keda_without_pgbouncer_queries_the_server(helm_major):
    external = [
        "base.database.type=external",
        "base.database.external.host=db.example.com",
        "base.database.external.passwordSecret.name=airflow-db",
        "base.database.external.caSecret=airflow-db-ca",
    ]
    meta = trigger(render([], [*KEDA, *external], helm_major=helm_major))["metadata"]
    # KEDA cannot read the chart's CA: it encrypts without verifying (docs/operations.md says so).
    assert (meta["host"], meta["port"], meta["sslmode"]) == ("db.example.com", "5432", "require")
    meta = trigger(render([], KEDA, helm_major=helm_major))["metadata"]
    assert (meta["host"], meta["sslmode"]) == ("airflow-postgres.airflow.svc", "disable")


def test_keda_with_mysql_uses_its_scaler(helm_major):
    t = trigger(render([], [*KEDA, "base.database.type=mysql"], helm_major=helm_major))
    assert t["type"] == "mysql"
    meta = t["metadata"]
    assert (meta["host"], meta["port"], meta["username"], meta["queryValue"]) == (
        "airflow-mysql.airflow.svc",
        "3306",
        "airflow",
        "1",
    )
    assert meta["query"].startswith("SELECT CEIL(COUNT(*) / 8) FROM task_instance")


def test_with_kubernetes_executor_beside_only_celery_tasks_count(helm_major):
    """A task that names no executor runs on the first one listed, CeleryExecutor; one that names
    Celery may spell it either way Airflow accepts (the runtime test counts both)."""
    executor = "cluster.executor=CeleryExecutor\\,KubernetesExecutor"
    query = trigger(render([], [*KEDA, executor], helm_major=helm_major))["metadata"]["query"]
    celery = "'CeleryExecutor', 'airflow.providers.celery.executors.celery_executor.CeleryExecutor'"
    assert query.endswith(f"queue IN ('default') AND (executor IS NULL OR executor IN ({celery}))")


def test_a_queue_name_cannot_break_out_of_the_query(helm_major):
    with pytest.raises(RenderError, match="queues"):
        render([], [*KEDA, "cluster.workers.queues={default',x}"], helm_major=helm_major)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["spec"].update(minReplicas=1),  # not a ScaledObject field
        lambda o: o["spec"]["triggers"][0]["metadata"].update(
            username="airflow"
        ),  # postgresql spells userName
        lambda o: o["spec"]["triggers"][0]["metadata"].update(port=6432),  # metadata values are strings
        lambda o: o["spec"]["triggers"][0].update(type="postgres"),  # no such scaler
        lambda o: o["spec"]["scaleTargetRef"].pop("name"),
    ],
)
def test_the_crd_schema_catches_mistakes(helm_major, mutate):
    scaled = find(render([AUTOSCALING], helm_major=helm_major), "ScaledObject", "-worker")
    assert not list(check_schema(scaled))
    broken = copy.deepcopy(scaled)
    mutate(broken)
    assert list(check_schema(broken))


def test_keda_reaches_the_database_through_the_policies(helm_major):
    keda_peer = {
        "namespaceSelector": {},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "keda-operator"}},
    }
    pooled = render([AUTOSCALING], helm_major=helm_major)
    rules = find(pooled, "NetworkPolicy", "-pgbouncer")["spec"]["ingress"]
    assert {"ports": [{"protocol": "TCP", "port": 6432}], "from": [keda_peer]} in rules
    direct = render([], KEDA, helm_major=helm_major)
    rules = find(direct, "NetworkPolicy", "-postgres")["spec"]["ingress"]
    assert {"ports": [{"protocol": "TCP", "port": 5432}], "from": [keda_peer]} in rules
    off = render([], [], helm_major=helm_major)
    assert len(find(off, "NetworkPolicy", "-postgres")["spec"]["ingress"]) == 1
