"""Base and cluster releases: a base-only release, clusters on a base, the default single release."""

import pytest

from chart_tools.render import RenderError, find, render
from chart_tools.validate import validate
from tests.helpers import container, deployment, env_map, of_kind, pod_of

ON_BASE = ["base.enabled=false", "cluster.airflowbase.name=base"]


def test_a_base_only_release_holds_the_database_and_nothing_of_airflow(helm_major):
    objects = render(set_values=["cluster.enabled=false"], helm_major=helm_major, release="base")
    components = {o["metadata"]["labels"]["app.kubernetes.io/component"] for o in objects}
    assert components == {"postgres"}
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
