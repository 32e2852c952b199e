"""Generated secrets: shape, reuse across upgrades (through a fake API server), user Secrets."""

import base64

import pytest

from chart_tools.chart.render import NAMESPACE, RELEASE, RenderRequest, find, parse, render, run_helm_template
from chart_tools.runtime.kubeapi import StandInKubeAPI
from tests.conftest import ci_file
from tests.helpers import AIRFLOW_COMPONENTS, container, deployment, env_map, of_kind, secret_data

AIRFLOW_SECRET_KEYS = {"fernet-key", "jwt-secret", "api-secret-key", "admin-password", "flower-password"}


def test_airflow_secret_has_every_key_and_is_kept(defaults):
    secret = find(defaults, "Secret", "-airflow")
    assert set(secret["data"]) == AIRFLOW_SECRET_KEYS
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_fernet_key_is_32_urlsafe_bytes(helm_major):
    # Render several times: the random source differs each time, so '+' and '/' would show up.
    for _ in range(5):
        objects = parse(run_helm_template(RenderRequest(helm_major=helm_major)))
        key = secret_data(objects, "-airflow")["fernet-key"]
        assert len(base64.urlsafe_b64decode(key.encode())) == 32
        assert "+" not in key and "/" not in key


@pytest.mark.parametrize("component", AIRFLOW_COMPONENTS)
def test_every_component_shares_the_same_secret_keys(defaults, component):
    secret = find(defaults, "Secret", "-airflow")["metadata"]["name"]
    env = env_map(container(deployment(defaults, component), component))
    for var, key in (
        ("AIRFLOW__CORE__FERNET_KEY", "fernet-key"),
        ("AIRFLOW__API_AUTH__JWT_SECRET", "jwt-secret"),
        ("AIRFLOW__API__SECRET_KEY", "api-secret-key"),
    ):
        assert env[var] == {"secretKeyRef": {"name": secret, "key": key}}


def test_existing_secrets_are_referenced_and_nothing_is_generated(helm_major):
    objects = render([ci_file("existing-secrets")], helm_major=helm_major)
    assert not of_kind(objects, "Secret")
    env = env_map(container(deployment(objects, "api-server"), "api-server"))
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]["secretKeyRef"]["name"] == "my-airflow-secrets"
    assert env["AIRFLOW_DB_PASSWORD"]["secretKeyRef"]["name"] == "my-postgres"
    postgres = env_map(container(find(objects, "StatefulSet", "-postgres"), "postgres"))
    assert postgres["POSTGRES_PASSWORD"]["secretKeyRef"]["name"] == "my-postgres"
    assert env["AIRFLOW_REDIS_PASSWORD"]["secretKeyRef"]["name"] == "my-redis"
    redis = env_map(container(find(objects, "StatefulSet", "-redis"), "redis"))
    assert redis["REDIS_PASSWORD"]["secretKeyRef"]["name"] == "my-redis"


@pytest.fixture
def fake_api(tmp_path):
    api = StandInKubeAPI(tmp_path)
    yield api
    api.close()


def helm_args(api):
    """`helm template` against the stand-in API, so `lookup` sees what it stores."""
    return ("--dry-run=server", "--disable-openapi-validation", "--kubeconfig", str(api.kubeconfig))


def installed(secret):
    """A rendered Secret as `helm install` leaves it: with Helm's ownership annotations."""
    marks = {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE}
    metadata = {**secret["metadata"], "annotations": {**secret["metadata"].get("annotations", {}), **marks}}
    return {**secret, "metadata": metadata}


@pytest.mark.parametrize(
    ("set_values", "generated"),
    [
        ((), {"airflow-airflow", "airflow-postgres", "airflow-redis"}),
        (("base.database.type=mysql",), {"airflow-airflow", "airflow-mysql", "airflow-redis"}),
        (
            ("base.enabled=false", "cluster.airflowbase.name=base"),
            {"airflow-airflow", "airflow-database", "airflow-redis"},
        ),
    ],
    ids=["postgres", "mysql", "cluster-on-base"],
)
def test_upgrade_reuses_every_generated_secret(fake_api, helm_major, set_values, generated):
    """Install, store the Secrets as the cluster would, upgrade: no value may change."""
    request = RenderRequest(set_values=set_values, helm_major=helm_major, extra_args=helm_args(fake_api))
    first = parse(run_helm_template(request))
    secrets = of_kind(first, "Secret")
    names = {s["metadata"]["name"] for s in secrets}
    assert names == generated
    for secret in secrets:
        fake_api.store(installed(secret), NAMESPACE)
    looked_up = {p.split("?")[0] for p in fake_api.requests if "/secrets/" in p}
    assert looked_up == {
        f"GET /api/v1/namespaces/{NAMESPACE}/secrets/{s['metadata']['name']}" for s in secrets
    }

    second = parse(run_helm_template(request))
    for secret in secrets:
        again = find(second, "Secret", secret["metadata"]["name"])
        assert again["data"] == secret["data"]
    for component in AIRFLOW_COMPONENTS:
        before, after = (deployment(o, component)["spec"]["template"]["metadata"] for o in (first, second))
        assert before["annotations"] == after["annotations"]


def test_upgrade_fills_in_a_key_missing_from_an_older_secret(fake_api, helm_major):
    request = RenderRequest(helm_major=helm_major, extra_args=helm_args(fake_api))
    secret = find(parse(run_helm_template(request)), "Secret", "-airflow")
    old = {**secret, "data": {k: v for k, v in secret["data"].items() if k != "api-secret-key"}}
    fake_api.store(installed(old), NAMESPACE)
    again = find(parse(run_helm_template(request)), "Secret", "-airflow")
    assert again["data"]["jwt-secret"] == secret["data"]["jwt-secret"]
    assert again["data"]["api-secret-key"]  # generated anew, not empty


def test_admin_password_given_in_values_wins(helm_major):
    objects = render([ci_file("hooks")], helm_major=helm_major)
    assert secret_data(objects, "-airflow")["admin-password"] == "change-me-now"
