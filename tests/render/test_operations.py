"""Operations features as rendered: connections and variables from Secrets only where DAG code
runs, pools for the migration Job, the cleanup CronJobs, and the rules that refuse bad input.
tests/runtime/test_operations.py runs them."""

import json

import pytest
import yaml

from chart_tools.chart.render import RenderError, find, render
from tests.conftest import ci_file
from tests.helpers import container, env_map, of_kind

OPS = ci_file("operations")
DAG_CODE = {"AIRFLOW_CONN_OPS_DB", "AIRFLOW_VAR_OPS_ENVIRONMENT"}


def pod_spec(cron_job):
    return cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def migration_job(objects):
    (job,) = of_kind(objects, "Job")
    return job


def received(c):
    return {name for name in env_map(c) if name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}


@pytest.fixture
def ops(helm_major):
    return render([OPS], helm_major=helm_major)


def test_connections_and_variables_reach_only_containers_that_run_dag_code(ops):
    by_container = {}
    for obj in of_kind(ops, "Deployment") + of_kind(ops, "Job"):
        pod = obj["spec"]["template"]["spec"]
        component = obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            by_container[(component, c["name"])] = received(c)
    runs_dag_code = {("dag-processor", "dag-processor"), ("triggerer", "triggerer"), ("worker", "worker")}
    for key, names in by_container.items():
        assert names == (DAG_CODE if key in runs_dag_code else set()), key
    worker = env_map(container(find(ops, "Deployment", "-worker"), "worker"))
    assert worker["AIRFLOW_CONN_OPS_DB"] == {"secretKeyRef": {"name": "ops-as-code", "key": "connection"}}
    assert worker["AIRFLOW_VAR_OPS_ENVIRONMENT"] == {
        "secretKeyRef": {"name": "ops-as-code", "key": "environment"}
    }
    assert not [o for o in ops if o["kind"] == "Secret" and o["metadata"]["name"] == "ops-as-code"]


@pytest.mark.parametrize(
    ("executor", "where"),
    [("LocalExecutor", "scheduler"), ("KubernetesExecutor", "task pod")],
)
def test_tasks_outside_workers_receive_them_too(helm_major, executor, where):
    objects = render([OPS], [f"cluster.executor={executor}"], helm_major=helm_major)
    if where == "scheduler":
        c = container(find(objects, "Deployment", "-scheduler"), "scheduler")
    else:
        template = find(objects, "ConfigMap", "-pod-template")["data"]["pod_template_file.yaml"]
        c = yaml.safe_load(template)["spec"]["containers"][0]
    assert received(c) == DAG_CODE


def test_pools_are_imported_after_the_migration_and_a_change_reruns_the_job(ops, helm_major):
    job = migration_job(ops)
    pod = job["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["migrate", "import-pools"]
    importer = container(job, "import-pools")
    assert importer["args"] == ["airflow", "pools", "import", "/etc/airflow/pools/pools.json"]
    mount = next(m for m in importer["volumeMounts"] if m["name"] == "pools")
    volume = next(v for v in pod["volumes"] if v["name"] == "pools")
    configmap = find(ops, "ConfigMap", volume["configMap"]["name"])
    assert mount["mountPath"] == "/etc/airflow/pools"
    assert json.loads(configmap["data"]["pools.json"]) == {
        "ops_pool": {"slots": 3, "description": "Pool from values", "include_deferred": False}
    }
    resized = render([OPS], ["cluster.pools[0].slots=4"], helm_major=helm_major)
    assert migration_job(resized)["metadata"]["name"] != job["metadata"]["name"]


def test_no_pools_no_import(defaults):
    job = migration_job(defaults)
    assert "import-pools" not in [c["name"] for c in job["spec"]["template"]["spec"]["initContainers"]]
    assert not [o for o in defaults if "-pools-" in o["metadata"]["name"]]


def test_database_cleanup_cleans_every_table_but_the_skipped_ones(helm_major):
    objects = render([OPS], ["cluster.databaseCleanup.skipTables={log,xcom}"], helm_major=helm_major)
    cron = find(objects, "CronJob", "-database-cleanup")
    assert cron["spec"]["schedule"] == "17 3 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = pod_spec(cron)
    (c,) = pod["containers"]
    env = env_map(c)
    assert env["RETENTION_DAYS"] == "7"
    tables = env["CLEAN_TABLES"].split(",")
    assert "log" not in tables and "xcom" not in tables and {"dag_run", "task_instance", "job"} <= set(tables)
    assert len(tables) == len(set(tables)) == 19
    # The script is the same whatever the values: they reach it only through the environment.
    assert '"$CLEAN_TABLES"' in c["args"][0] and '"-$RETENTION_DAYS days"' in c["args"][0]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["airflow/database"]  # the database's NetworkPolicy admits it


def test_log_retention_runs_find_on_the_log_claim(ops):
    cron = find(ops, "CronJob", "-log-retention")
    pod = pod_spec(cron)
    (c,) = pod["containers"]
    assert c["command"] == ["find"]
    assert c["args"][:2] == ["/opt/airflow/logs", "-mindepth"]
    assert c["args"][c["args"].index("-mtime") + 1] == "+30"
    claim = find(ops, "PersistentVolumeClaim", "-logs")["metadata"]["name"]
    assert pod["volumes"] == [{"name": "logs", "persistentVolumeClaim": {"claimName": claim}}]
    assert c["volumeMounts"] == [{"name": "logs", "mountPath": "/opt/airflow/logs"}]


def test_nothing_scheduled_by_default(defaults):
    assert not of_kind(defaults, "CronJob")


SECOND_CONNECTION = "cluster.connections[1].secretName=s,cluster.connections[1].secretKey=k"
SECOND_VARIABLE = "cluster.variables[1].secretName=s,cluster.variables[1].secretKey=k"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ["cluster.connections[1].id=OPS_DB", SECOND_CONNECTION],
            "cluster.connections[1].id: OPS_DB is given twice",
        ),
        (
            ["cluster.variables[1].key=ops_environment", SECOND_VARIABLE],
            "cluster.variables[1].key: ops_environment",
        ),
        (
            ["cluster.pools[1].name=ops_pool", "cluster.pools[1].slots=1"],
            "cluster.pools[1].name: ops_pool is given",
        ),
        (
            ["cluster.logging.persistence.enabled=false"],
            "cluster.logging.persistence.retention.enabled needs",
        ),
        (["cluster.connections[0].id=my-db"], "cluster.connections.0.id"),
        (["cluster.variables[0].key=x;y"], "cluster.variables.0.key"),
        (["cluster.databaseCleanup.schedule=TZ=UTC 0 3 * * *"], "cluster.databaseCleanup.schedule"),
        (["cluster.databaseCleanup.skipTables={users}"], "cluster.databaseCleanup.skipTables.0"),
        (["cluster.pools[0].slots=-2"], "cluster.pools.0.slots"),
    ],
)
def test_bad_input_is_refused_naming_the_key(helm_major, values, message):
    with pytest.raises(RenderError) as err:
        render([OPS], values, helm_major=helm_major)
    # helm 4 names a schema finding's key as a JSON pointer (/cluster/pools/0/slots)
    assert message in str(err.value) or message.replace(".", "/") in str(err.value)


def test_task_pod_cleanup_may_only_list_and_delete_pods(helm_major):
    objects = render(
        [ci_file("default")],
        ["cluster.executor=KubernetesExecutor", "cluster.kubernetes.podCleanup.enabled=true"],
        helm_major=helm_major,
    )
    cron = find(objects, "CronJob", "-task-pod-cleanup")
    pod = pod_spec(cron)
    assert pod["automountServiceAccountToken"] is True
    account = pod["serviceAccountName"]
    assert find(objects, "ServiceAccount", account)
    (binding,) = [b for b in of_kind(objects, "RoleBinding") if b["subjects"][0]["name"] == account]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": cron["metadata"]["namespace"]}
    ]
    role = find(objects, "Role", binding["roleRef"]["name"])
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]}]
    env = env_map(pod["containers"][0])
    assert env["MAX_AGE_HOURS"] == "72"
    assert env["NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert 'label_selector="kubernetes_executor=True"' in pod["containers"][0]["args"][0]


def test_task_pod_cleanup_needs_the_kubernetes_executor(helm_major):
    with pytest.raises(RenderError) as err:
        render(set_values=["cluster.kubernetes.podCleanup.enabled=true"], helm_major=helm_major)
    assert (
        "cluster.kubernetes.podCleanup.enabled needs cluster.executor to include KubernetesExecutor"
        in str(err.value)
    )
