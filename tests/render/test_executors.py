"""Executors, Celery, KubernetesExecutor, KubernetesPodOperator RBAC, placement and PDBs."""

from urllib.parse import urlsplit

import pytest
import yaml

from chart_tools import ROOT
from chart_tools.chart import values
from chart_tools.chart.render import RenderError, find, render
from chart_tools.chart.validate import validate
from tests.conftest import SCENARIOS, ci_file, scenario_id
from tests.helpers import AIRFLOW_COMPONENTS, airflow_cfg, container, deployment, env_map, of_kind, pod_of

EXECUTORS = list(values.EXECUTORS.values())


def executor_set(executor):
    """--set syntax for an executor list (helm splits unescaped commas)."""
    escaped = executor.replace(",", r"\,")
    return [f"cluster.executor={escaped}"]


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_every_executor_and_scenario_validates(scenario, executor, helm_major):
    try:
        objects = render([scenario], executor_set(executor), helm_major=helm_major)
    except RenderError as err:  # Flower and KEDA need Celery, HA schedulers a remote executor, the
        # task pod cleanup the KubernetesExecutor; each says so
        flower = "CeleryExecutor" not in executor and "cluster.flower.enabled" in str(err)
        keda = "CeleryExecutor" not in executor and "cluster.workers.keda scales Celery workers" in str(err)
        ha = executor == "LocalExecutor" and "cluster.scheduler.replicas > 1" in str(err)
        pods = "KubernetesExecutor" not in executor and "cluster.kubernetes.podCleanup.enabled" in str(err)
        assert flower or keda or ha or pods, err
        return
    findings = validate(objects)
    assert not findings, "\n".join(map(str, findings))
    if yaml.safe_load(scenario.read_text()).get("cluster", {}).get("enabled", True):  # not base-only
        assert airflow_cfg(objects)["core"]["executor"] == executor


@pytest.mark.parametrize("executor", ["CeleryExecutor", "CeleryExecutor,KubernetesExecutor"])
def test_everything_switched_on_validates(executor, helm_major):
    extra = ["cluster.flower.enabled=true", "cluster.podOperator.enabled=true",
             "cluster.podOperator.extraNamespaces={jobs}", "cluster.kubernetes.resourceQuota.enabled=true",
             "cluster.redis.embedded.persistence.enabled=true"]  # fmt: skip
    objects = render(set_values=executor_set(executor) + extra, helm_major=helm_major)
    assert not validate(objects)


# ---------------------------------------------------------------- Celery


def test_celery_consumers_share_one_broker_and_result_backend(defaults):
    redis = find(defaults, "Service", "-redis")
    secret = find(defaults, "Secret", "-redis")["metadata"]["name"]
    envs = [env_map(container(deployment(defaults, c), c)) for c in ("scheduler", "worker")]
    assert "AIRFLOW__CELERY__BROKER_URL" not in env_map(
        container(deployment(defaults, "api-server"), "api-server")
    )
    for env in envs:
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", redis["metadata"]["name"], 6379)
        assert broker.password == "$(AIRFLOW_REDIS_PASSWORD)"
        assert env["AIRFLOW_REDIS_PASSWORD"]["secretKeyRef"] == {"name": secret, "key": "password"}
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_workers_drain_before_stopping(defaults):
    worker = deployment(defaults, "worker")
    pod = pod_of(worker)
    main = container(worker, "worker")
    assert main["args"] == ["airflow", "celery", "worker", "--queues", "default"]
    assert pod["terminationGracePeriodSeconds"] == 600
    # dumb-init passes SIGTERM to Celery alone, which then does a warm shutdown
    assert env_map(main)["DUMB_INIT_SETSID"] == "0"
    assert worker["spec"]["replicas"] == 2


def test_worker_queues_and_replicas(helm_major, tmp_path):
    values = tmp_path / "v.yaml"
    values.write_text("cluster:\n  workers:\n    replicas: 5\n    queues: [default, gpu]\n")
    worker = deployment(render([values], helm_major=helm_major), "worker")
    assert container(worker, "worker")["args"][-1] == "default,gpu"
    assert worker["spec"]["replicas"] == 5


def test_embedded_redis_is_password_protected_and_restricted(defaults):
    sts = find(defaults, "StatefulSet", "-redis")
    main = container(sts, "redis")
    assert main["image"] == "redis:7.4.6"
    assert main["args"][:3] == ["redis-server", "--requirepass", "$(REDIS_PASSWORD)"]
    assert pod_of(sts)["securityContext"]["runAsNonRoot"] is True


def test_external_redis_with_tls(helm_major):
    objects = render(
        set_values=[
            "cluster.redis.type=external",
            "cluster.redis.external.host=redis.example",
            "cluster.redis.external.tls=true",
            "cluster.redis.external.database=3",
        ],
        helm_major=helm_major,
    )
    assert not of_kind(objects, "StatefulSet")[1:]  # only PostgreSQL, no Redis
    env = env_map(container(deployment(objects, "worker"), "worker"))
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "rediss://redis.example:6379/3"
    assert "AIRFLOW_REDIS_PASSWORD" not in env


def test_flower_has_basic_auth_from_the_secret(helm_major):
    objects = render(set_values=["cluster.flower.enabled=true"], helm_major=helm_major)
    env = env_map(container(deployment(objects, "flower"), "flower"))
    assert env["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"] == "admin:$(AIRFLOW_FLOWER_PASSWORD)"
    assert env["AIRFLOW_FLOWER_PASSWORD"]["secretKeyRef"]["key"] == "flower-password"
    assert find(objects, "Service", "-flower")["spec"]["ports"][0]["port"] == 5555


@pytest.mark.parametrize(
    ("overrides", "keys"),
    [
        (
            ["cluster.executor=LocalExecutor", "cluster.flower.enabled=true"],
            ["cluster.flower.enabled", "cluster.executor"],
        ),
        (
            ["cluster.podOperator.extraNamespaces={a}"],
            ["cluster.podOperator.extraNamespaces", "cluster.podOperator.enabled"],
        ),
        (["cluster.redis.type=external"], ["cluster.redis.external.host", "cluster.executor"]),
        (["cluster.executor=LocalExecutor", "cluster.scheduler.replicas=2"], ["cluster.scheduler.replicas"]),
        (
            ["cluster.podOperator.enabled=true", "cluster.podOperator.extraNamespaces={jobs,kube-system}"],
            ["cluster.podOperator.extraNamespaces", "kube-system is a Kubernetes system namespace"],
        ),
        (["cluster.executor=KubernetesExecutor\\,CeleryExecutor"], ["executor"]),
    ],
)
def test_invalid_combinations_fail_naming_the_keys(helm_major, overrides, keys):
    with pytest.raises(RenderError) as err:
        render(set_values=overrides, helm_major=helm_major)
    for key in keys:
        assert key in str(err.value)


# ---------------------------------------------------------------- KubernetesExecutor and RBAC


@pytest.fixture
def k8s(helm_major):
    return render(set_values=executor_set("KubernetesExecutor"), helm_major=helm_major)


def test_scheduler_mounts_the_pod_template_airflow_is_configured_with(k8s):
    cfg = airflow_cfg(k8s)["kubernetes_executor"]
    scheduler = deployment(k8s, "scheduler")
    mount = next(m for m in container(scheduler, "scheduler")["volumeMounts"] if m["name"] == "pod-template")
    assert mount["mountPath"] == cfg["pod_template_file"]
    volume = next(v for v in pod_of(scheduler)["volumes"] if v["name"] == "pod-template")
    configmap = find(k8s, "ConfigMap", volume["configMap"]["name"])
    assert mount["subPath"] in configmap["data"]
    assert cfg["namespace"] == "airflow"
    assert (cfg["delete_worker_pods"], cfg["delete_worker_pods_on_failure"]) == ("True", "False")
    assert cfg["worker_pods_creation_batch_size"] == "4"
    assert cfg["task_publish_max_retries"] == "-1"  # a refused pod is tried again (quota, throttling)


def test_only_the_scheduler_may_manage_pods(k8s):
    assert not [o for o in k8s if o["kind"].startswith("Cluster")]  # never cluster-wide
    (role,) = of_kind(k8s, "Role")
    verbs = {r["resources"][0]: set(r["verbs"]) for r in role["rules"]}
    assert verbs == {
        "pods": {"create", "get", "list", "watch", "patch", "delete"},
        "pods/log": {"get"},
        "events": {"list"},
    }
    (binding,) = of_kind(k8s, "RoleBinding")
    assert [s["name"] for s in binding["subjects"]] == ["airflow-scheduler"]
    for component in AIRFLOW_COMPONENTS:
        pod = pod_of(deployment(k8s, component))
        assert pod["serviceAccountName"] == f"airflow-{component}"
        assert pod["automountServiceAccountToken"] is (component == "scheduler")


def test_no_pod_rights_without_kubernetes_features(defaults):
    assert not of_kind(defaults, "Role") and not of_kind(defaults, "RoleBinding")


def test_pod_operator_rights_in_every_listed_namespace(helm_major):
    objects = render(
        set_values=["cluster.podOperator.enabled=true", "cluster.podOperator.extraNamespaces={jobs,batch}"],
        helm_major=helm_major,
    )
    bindings = {b["metadata"].get("namespace"): b for b in of_kind(objects, "RoleBinding")}
    assert set(bindings) == {"airflow", "jobs", "batch"}
    for binding in bindings.values():
        # Celery: tasks run on workers; deferrable pods are watched by the triggerer
        assert {s["name"] for s in binding["subjects"]} == {"airflow-worker", "airflow-triggerer"}
        assert {s["namespace"] for s in binding["subjects"]} == {"airflow"}
    find(objects, "ServiceAccount", "-launched-pod")
    env = env_map(container(deployment(objects, "worker"), "worker"))
    assert env["AIRFLOW_VAR_POD_OPERATOR_SERVICE_ACCOUNT"] == "airflow-launched-pod"


def test_resource_quota_caps_pods(helm_major):
    objects = render(
        set_values=[
            "cluster.kubernetes.resourceQuota.enabled=true",
            "cluster.kubernetes.resourceQuota.pods=9",
        ],
        helm_major=helm_major,
    )
    assert find(objects, "ResourceQuota", "-pods")["spec"]["hard"] == {"pods": "9"}


def test_pod_creation_retries_can_be_airflows_own(helm_major):
    sets = [*executor_set("KubernetesExecutor"), "cluster.kubernetes.podCreationRetries=0"]
    assert (
        airflow_cfg(render(set_values=sets, helm_major=helm_major))["kubernetes_executor"][
            "task_publish_max_retries"
        ]
        == "0"
    )
    with pytest.raises(RenderError, match="podCreationRetries"):
        render(set_values=[*executor_set("KubernetesExecutor"), "cluster.kubernetes.podCreationRetries=-2"],
               helm_major=helm_major)  # fmt: skip


# ---------------------------------------------------------------- placement and availability


def test_default_spread_over_nodes_and_zones_per_component(defaults):
    for component in (*AIRFLOW_COMPONENTS, "worker"):
        obj = deployment(defaults, component)
        constraints = pod_of(obj)["topologySpreadConstraints"]
        assert [c["topologyKey"] for c in constraints] == [
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        ]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        for c in constraints:
            assert c["whenUnsatisfiable"] == "ScheduleAnyway"
            assert c["labelSelector"]["matchLabels"].items() <= labels.items()
            assert c["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component


def test_global_placement_and_component_override(helm_major, tmp_path):
    values = tmp_path / "v.yaml"
    values.write_text(
        "cluster:\n"
        "  placement:\n"
        "    nodeSelector: {pool: airflow}\n"
        "    tolerations: [{key: dedicated, operator: Equal, value: airflow, effect: NoSchedule}]\n"
        "    priorityClassName: airflow-high\n"
        "    topologySpreadConstraints: []\n"
        "  workers:\n"
        "    placement:\n"
        "      nodeSelector: {pool: workers}\n"
    )
    objects = render([values], helm_major=helm_major)
    for component in AIRFLOW_COMPONENTS:
        pod = pod_of(deployment(objects, component))
        assert pod["nodeSelector"] == {"pool": "airflow"}
        assert pod["priorityClassName"] == "airflow-high"
        assert "topologySpreadConstraints" not in pod
    worker = pod_of(deployment(objects, "worker"))
    assert worker["nodeSelector"] == {"pool": "workers"}
    assert worker["tolerations"][0]["key"] == "dedicated"  # not overridden: inherited


def test_bad_placement_is_rejected_by_the_schema(helm_major):
    with pytest.raises(RenderError, match="tolerations"):
        render(set_values=["cluster.placement.tolerations[0].keyy=x"], helm_major=helm_major)


def budgets(objects):
    return {p["metadata"]["name"]: p for p in of_kind(objects, "PodDisruptionBudget")}


def test_disruption_budgets_only_for_components_with_several_replicas(defaults):
    assert set(budgets(defaults)) == {"airflow-worker"}  # api-server and scheduler: one replica


def test_disruption_budgets_cover_every_scaled_component(helm_major):
    objects = render([ROOT / "values" / "production.yaml"], helm_major=helm_major)
    found = budgets(objects)
    names = ("api-server", "scheduler", "dag-processor", "triggerer", "worker", "pgbouncer")
    assert set(found) == {f"airflow-{n}" for n in names}
    for name, pdb in found.items():
        labels = deployment(objects, name.removeprefix("airflow-"))["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert pdb["spec"]["maxUnavailable"] == 1
    off = render(
        [ROOT / "values" / "production.yaml"],
        ["cluster.triggerer.podDisruptionBudget.enabled=false", "cluster.scheduler.replicas=1"],
        helm_major=helm_major,
    )
    assert set(budgets(off)) == set(found) - {"airflow-triggerer", "airflow-scheduler"}


def test_the_cloud_sql_proxy_gets_a_budget_at_its_two_replicas(helm_major):
    objects = render([ci_file("sqlproxy")], helm_major=helm_major)
    pdb = budgets(objects)["airflow-sqlproxy"]
    proxy = deployment(objects, "sqlproxy")
    assert (
        pdb["spec"]["selector"]["matchLabels"].items()
        <= proxy["spec"]["template"]["metadata"]["labels"].items()
    )
    one = render([ci_file("sqlproxy")], ["base.database.sqlproxy.replicas=1"], helm_major=helm_major)
    assert "airflow-sqlproxy" not in budgets(one)
