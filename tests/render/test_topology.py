"""Base and cluster releases: a base-only release, clusters on a base, the default single release."""

import pytest

from chart_tools.chart.render import RenderError, find, render
from chart_tools.chart.validate import validate
from tests.conftest import ci_file
from tests.helpers import container, deployment, env_map, of_kind, pod_of

ON_BASE = ["base.enabled=false", "cluster.airflowbase.name=base"]


def test_a_base_only_release_holds_the_database_and_nothing_of_airflow(helm_major):
    objects = render(set_values=["cluster.enabled=false"], helm_major=helm_major, release="base")
    components = {o["metadata"]["labels"]["app.kubernetes.io/component"] for o in objects}
    assert components == {"postgres", "network"}  # network: the release-wide deny-ingress policy
    assert find(objects, "Service", "-postgres")["metadata"]["name"] == "base-airflow-postgres"
    assert find(objects, "Secret", "-postgres")["metadata"]["name"] == "base-airflow-postgres"
    assert not validate(objects)


@pytest.fixture
def team_a(helm_major):
    return render(set_values=ON_BASE, helm_major=helm_major, release="team-a")


def test_a_cluster_on_a_base_uses_the_bases_service_and_admin_secret(team_a):
    assert not [o for o in team_a if o["metadata"]["labels"]["app.kubernetes.io/component"] == "postgres"]
    job = of_kind(team_a, "Job")[0]
    create = container(job, "create-database")
    assert pod_of(job)["initContainers"].index(create) == 0  # before `airflow db migrate`
    assert "--dbname=postgresql://postgres@base-airflow-postgres:5432/postgres" in create["args"]
    env = env_map(create)
    assert env["PGPASSWORD"]["secretKeyRef"] == {"name": "base-airflow-postgres", "key": "postgres-password"}
    assert env["AIRFLOW_DB_NAME"] == "team_a_airflow"
    own = find(team_a, "Secret", "-database")
    assert env["AIRFLOW_DB_PASSWORD"]["secretKeyRef"] == {"name": own["metadata"]["name"], "key": "password"}
    assert own["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    scheduler = env_map(container(deployment(team_a, "scheduler"), "scheduler"))
    assert scheduler["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql://team_a_airflow:$(AIRFLOW_DB_PASSWORD)@base-airflow-postgres:5432/team_a_airflow"
    )
    assert scheduler["AIRFLOW_DB_PASSWORD"] == env["AIRFLOW_DB_PASSWORD"]
    sql = find(team_a, "ConfigMap", "-create-database")["data"]["create-database.sql"]
    assert "REVOKE ALL ON DATABASE" in sql and "FROM PUBLIC" in sql
    assert not validate(team_a)


def test_each_cluster_on_a_base_has_its_own_database(helm_major):
    urls = set()
    for release in ("team-a", "team-b", "airflow-ml"):
        objects = render(set_values=ON_BASE, helm_major=helm_major, release=release)
        urls.add(
            env_map(container(deployment(objects, "scheduler"), "scheduler"))[
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
            ]
        )
    assert len(urls) == 3
    assert any("/airflow_ml?" in u or u.endswith("/airflow_ml") for u in urls)


def test_the_bases_existing_admin_secret_is_used(helm_major):
    objects = render(
        set_values=[*ON_BASE, "base.database.postgres.existingSecret=pg-admin"], helm_major=helm_major
    )
    create = container(of_kind(objects, "Job")[0], "create-database")
    assert env_map(create)["PGPASSWORD"]["secretKeyRef"]["name"] == "pg-admin"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["base.enabled=false"], "cluster.airflowbase.name is required when base.enabled is false"),
        (["base.enabled=false", "cluster.enabled=false"], "base.enabled and cluster.enabled are both false"),
    ],
)
def test_bad_topologies_fail_naming_the_keys(helm_major, overrides, message):
    with pytest.raises(RenderError, match=message):
        render(set_values=overrides, helm_major=helm_major)


def conn(objects):
    return env_map(container(deployment(objects, "scheduler"), "scheduler"))[
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    ]


def test_embedded_mysql_keeps_its_data_and_passwords(helm_major):
    objects = render([ci_file("mysql")], helm_major=helm_major)
    assert conn(objects) == "mysql+mysqldb://airflow:$(AIRFLOW_DB_PASSWORD)@airflow-mysql:3306/airflow"
    secret, claim = find(objects, "Secret", "-mysql"), find(objects, "PersistentVolumeClaim", "-mysql-data")
    for kept in (secret, claim):
        assert kept["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert set(secret["data"]) == {"root-password", "password"}
    mysql = container(find(objects, "StatefulSet", "-mysql"), "mysql")
    assert mysql["image"] == "mysql:8.4.8"
    data = next(m for m in mysql["volumeMounts"] if m["name"] == "data")
    assert data["mountPath"] == "/var/lib/mysql"  # the image's data directory, data in a sub-folder
    assert mysql["args"] == ["mysqld", "--datadir=/var/lib/mysql/data"]
    assert env_map(mysql)["MYSQL_PASSWORD"]["secretKeyRef"] == {
        "name": secret["metadata"]["name"],
        "key": "password",
    }
    assert not [o for o in objects if "postgres" in o["metadata"]["name"]]


def test_a_cluster_on_a_mysql_base(helm_major):
    objects = render(
        set_values=[*ON_BASE, "base.database.type=mysql"], helm_major=helm_major, release="team-a"
    )
    assert (
        conn(objects)
        == "mysql+mysqldb://team_a_airflow:$(AIRFLOW_DB_PASSWORD)@base-airflow-mysql:3306/team_a_airflow"
    )
    create = container(of_kind(objects, "Job")[0], "create-database")
    assert create["image"] == "mysql:8.4.8"
    env = env_map(create)
    assert env["MYSQL_ADMIN_PASSWORD"]["secretKeyRef"] == {
        "name": "base-airflow-mysql",
        "key": "root-password",
    }
    assert env["MYSQL_HOST"] == "base-airflow-mysql"
    script = find(objects, "ConfigMap", "-create-database")["data"]["create-database.sh"]
    assert "CREATE DATABASE IF NOT EXISTS" in script and "CREATE USER IF NOT EXISTS" in script
    assert "ON \\`$AIRFLOW_DB_NAME\\`.* TO" in script  # rights on its own database only
    assert not validate(objects)


def test_cloud_sql_proxy(helm_major):
    objects = render([ci_file("sqlproxy")], helm_major=helm_major)
    assert conn(objects) == "postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@airflow-sqlproxy:5432/airflow"
    proxy = container(deployment(objects, "sqlproxy"), "sqlproxy")
    assert proxy["image"] == "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.2"
    assert proxy["args"][-1] == "my-project:europe-west1:airflow"
    assert {"--private-ip", "--port=5432", "--credentials-file=/secrets/cloudsql/credentials.json"} <= set(
        proxy["args"]
    )
    assert {p["httpGet"]["path"] for k, p in proxy.items() if k.endswith("Probe")} == {
        "/startup",
        "/liveness",
        "/readiness",
    }
    service = find(objects, "Service", "-sqlproxy")
    assert service["spec"]["ports"][0]["port"] == 5432


def test_cloud_sql_proxy_with_workload_identity_and_mysql(helm_major):
    objects = render(
        [ci_file("sqlproxy")],
        [
            "base.database.sqlproxy.engine=mysql",
            "base.database.sqlproxy.credentialsSecret.name=",
            "base.database.sqlproxy.serviceAccountAnnotations.iam\\.gke\\.io/gcp-service-account=af@p.iam.gserviceaccount.com",
        ],
        helm_major=helm_major,
    )
    assert conn(objects).startswith("mysql+mysqldb://airflow:$(AIRFLOW_DB_PASSWORD)@airflow-sqlproxy:3306/")
    pod = pod_of(deployment(objects, "sqlproxy"))
    account = find(objects, "ServiceAccount", "-sqlproxy")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "af@p.iam.gserviceaccount.com"
    }
    assert not any(a.startswith("--credentials-file") for a in pod["containers"][0]["args"])
    assert not validate(objects)


def test_shared_storage_serves_the_dag_volume(helm_major):
    objects = render([ci_file("shared-storage")], helm_major=helm_major)
    claim = find(objects, "PersistentVolumeClaim", "-shared")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pod = pod_of(deployment(objects, "dag-processor"))
    volume = next(v for v in pod["volumes"] if v["name"] == "dags")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "dags")
    assert mount["subPath"] == "airflow"  # the cluster's own folder
    # a cluster on that base mounts the base's claim, in its own folder
    on_base = render([ci_file("shared-storage")], ON_BASE, helm_major=helm_major, release="team-a")
    pod = pod_of(deployment(on_base, "dag-processor"))
    assert (
        next(v for v in pod["volumes"] if v["name"] == "dags")["persistentVolumeClaim"]["claimName"]
        == "base-airflow-shared"
    )
    assert (
        next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "dags")["subPath"]
        == "team-a-airflow"
    )
    assert not of_kind(on_base, "PersistentVolumeClaim")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["base.database.type=sqlproxy", "base.database.sqlproxy.passwordSecret.name=p"], "instance is"),
        (["base.database.type=sqlproxy", "base.database.sqlproxy.instance=p:r:i"], "passwordSecret.name is"),
        (["base.database.sqlproxy.instance=nocolons"], "instance"),
        (["cluster.dags.mode=persistentVolume", "cluster.dags.persistentVolume.useBaseStorage=true"],
         "needs base.storage.enabled"),
    ],
)  # fmt: skip
def test_bad_database_and_storage_settings_name_the_key(helm_major, overrides, message):
    with pytest.raises(RenderError, match=message):
        render(set_values=overrides, helm_major=helm_major)
