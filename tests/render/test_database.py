"""AirflowBase: the embedded PostgreSQL and the external database."""

from urllib.parse import urlsplit

import pytest

from chart_tools.chart.render import find, render
from tests.conftest import ci_file
from tests.helpers import AIRFLOW_COMPONENTS, container, deployment, env_map, of_kind, pod_of

PGDATA_OF_IMAGE = "/var/lib/postgresql/data"  # the official image's VOLUME / default PGDATA


def test_postgres_uses_the_official_image_and_keeps_data_in_the_claim(defaults):
    sts = find(defaults, "StatefulSet", "-postgres")
    main = container(sts, "postgres")
    assert main["image"].startswith("postgres:")
    env = env_map(main)
    claim = find(defaults, "PersistentVolumeClaim", "-postgres-data")
    volume = next(v for v in pod_of(sts)["volumes"] if "persistentVolumeClaim" in v)
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    mount = next(m for m in main["volumeMounts"] if m["name"] == volume["name"])
    assert mount["mountPath"] == PGDATA_OF_IMAGE
    # PGDATA lives inside the claim's mount (a sub-folder tolerates lost+found on fresh volumes).
    assert env["PGDATA"].startswith(mount["mountPath"] + "/")


def test_uninstall_keeps_data_claim_and_its_passwords(defaults):
    for kind, suffix in (("PersistentVolumeClaim", "-postgres-data"), ("Secret", "-postgres")):
        obj = find(defaults, kind, suffix)
        assert obj["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_postgres_service_selects_the_database_pod(defaults):
    service = find(defaults, "Service", "-postgres")
    labels = find(defaults, "StatefulSet", "-postgres")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["port"] == 5432


def test_airflow_connects_to_the_embedded_service_with_the_generated_password(defaults):
    service = find(defaults, "Service", "-postgres")
    secret = find(defaults, "Secret", "-postgres")
    for component in AIRFLOW_COMPONENTS:
        env = env_map(container(deployment(defaults, component), component))
        url = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert url.hostname == service["metadata"]["name"]
        assert url.port == service["spec"]["ports"][0]["port"]
        assert url.password == "$(AIRFLOW_DB_PASSWORD)"
        ref = env["AIRFLOW_DB_PASSWORD"]["secretKeyRef"]
        assert ref == {"name": secret["metadata"]["name"], "key": "password"}
        # Kubernetes only expands $(VAR) for variables declared earlier in the list.
        names = [e["name"] for e in container(deployment(defaults, component), component)["env"]]
        assert names.index("AIRFLOW_DB_PASSWORD") < names.index("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")


def test_initdb_creates_the_airflow_role_the_connection_uses(defaults):
    sts = find(defaults, "StatefulSet", "-postgres")
    env = env_map(container(sts, "postgres"))
    assert env["POSTGRES_USER"] == "postgres"  # Airflow's user is not the superuser
    script = find(defaults, "ConfigMap", "-postgres-initdb")["data"]["10-airflow-user.sh"]
    assert "CREATE ROLE" in script and "CREATE DATABASE" in script
    url = urlsplit(
        env_map(container(deployment(defaults, "scheduler"), "scheduler"))[
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
        ]
    )
    assert url.username == env["AIRFLOW_DB_USER"]
    assert url.path == "/" + env["AIRFLOW_DB_NAME"]


def test_external_database(helm_major):
    objects = render([ci_file("external-database")], helm_major=helm_major)
    assert not [o for o in objects if o["metadata"]["labels"]["app.kubernetes.io/component"] == "postgres"]
    env = env_map(container(deployment(objects, "scheduler"), "scheduler"))
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql://airflow_app:$(AIRFLOW_DB_PASSWORD)@db.example.internal:6432/airflow_prod?sslmode=require"
    )
    assert env["AIRFLOW_DB_PASSWORD"]["secretKeyRef"] == {"name": "airflow-db", "key": "db-password"}


def test_existing_claim_is_used_not_created(helm_major):
    objects = render([ci_file("existing-secrets")], helm_major=helm_major)
    assert not of_kind(objects, "PersistentVolumeClaim")
    sts = find(objects, "StatefulSet", "-postgres")
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod_of(sts)["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["my-postgres-data"]


def pods_reading_the_database(objects):
    """(pod spec, container) for every container given the database URL, init containers too."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            spec = pod_of(obj)
            for c in spec.get("initContainers", []) + spec["containers"]:
                if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in env_map(c):
                    yield spec, c


@pytest.mark.parametrize(
    ("scheme", "port", "tls_query"),
    [
        ("postgresql", 5432, "sslmode=verify-full&sslrootcert=/etc/airflow/database-ca/ca.crt"),
        ("mysql+mysqldb", 3306, "ssl_ca=/etc/airflow/database-ca/ca.crt&ssl_check_hostname=true"),
    ],
)
def test_external_database_ca_verifies_the_server_from_every_container(helm_major, scheme, port, tls_query):
    external = {
        "host": "db.example.com", "port": port, "scheme": scheme, "query": "connect_timeout=10",
        "passwordSecret.name": "db", "caSecret": "db-ca",
    }  # fmt: skip
    objects = render(
        set_values=[
            "base.database.type=external",
            *(f"base.database.external.{k}={v}" for k, v in external.items()),
        ],
        helm_major=helm_major,
    )
    readers = list(pods_reading_the_database(objects))
    assert len(readers) >= 8  # every Airflow component and init container, and the migration Job
    for spec, c in readers:
        url = env_map(c)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert urlsplit(url).query == f"connect_timeout=10&{tls_query}"
        mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/etc/airflow/database-ca")
        volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        assert volume["secret"] == {"secretName": "db-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}


def test_no_ca_volume_without_a_ca_secret(defaults):
    for spec, c in pods_reading_the_database(defaults):
        assert not [v for v in spec["volumes"] if v["name"].endswith("-ca")]
        assert "sslrootcert" not in env_map(c)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
