"""Migrations: a plain Job by default (works with --wait, kstatus and Argo CD), hooks on request."""

import pytest

from chart_tools.chart.render import render
from tests.conftest import ci_file
from tests.helpers import AIRFLOW_COMPONENTS, container, deployment, env_map, of_kind, pod_of


def migration_job(objects):
    (job,) = of_kind(objects, "Job")
    return job


def test_default_job_is_not_a_hook(defaults):
    job = migration_job(defaults)
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    assert container(job, "migrate")["args"] == ["airflow", "db", "migrate"]


def test_job_name_changes_with_its_spec_and_only_then(defaults, helm_major):
    same = render(set_values=["cluster.scheduler.replicas=2"], helm_major=helm_major)
    new_image = render(set_values=["cluster.image.tag=3.3.3"], helm_major=helm_major)
    name = migration_job(defaults)["metadata"]["name"]
    assert migration_job(same)["metadata"]["name"] == name
    assert migration_job(new_image)["metadata"]["name"] != name


@pytest.mark.parametrize("component", AIRFLOW_COMPONENTS)
def test_components_wait_for_the_schema_with_airflows_own_check(defaults, component):
    init = pod_of(deployment(defaults, component))["initContainers"]
    assert init[0]["args"][:3] == ["airflow", "db", "check-migrations"]
    assert init[0]["args"][-1] == "600"


def test_hooks_mode(helm_major):
    job = migration_job(render([ci_file("hooks")], helm_major=helm_major))
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    assert job["metadata"]["name"].endswith("-migrate")


def test_admin_user_is_created_with_the_password_from_the_secret(defaults):
    job = migration_job(defaults)
    create = container(job, "create-admin")
    args = create["args"]
    assert args[:3] == ["airflow", "users", "create"]
    assert "--role=Admin" in args and "--username=admin" in args
    assert "--password=$(AIRFLOW_ADMIN_PASSWORD)" in args
    env = env_map(create)
    assert env["AIRFLOW_ADMIN_PASSWORD"]["secretKeyRef"]["key"] == "admin-password"
    # migrate runs first: it is the init container
    assert [c["name"] for c in pod_of(job)["initContainers"]] == ["migrate"]
