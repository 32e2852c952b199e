"""Generated secrets: shape, reuse across upgrades (through a fake API server), user Secrets."""

import base64

import pytest
import yaml

from chart_tools.chart.render import NAMESPACE, RELEASE, RenderRequest, find, parse, render, run_helm_template
from chart_tools.runtime.kubeapi import StandInKubeAPI
from tests.conftest import ci_file
from tests.helpers import AIRFLOW_COMPONENTS, container, deployment, env_map, of_kind, pod_of, secret_data

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


# Secret -> the variable that carries it, and the Secret key it comes from ("" for other Secrets).
CARRIERS = {
    "fernet-key": ("AIRFLOW__CORE__FERNET_KEY", "fernet-key"),
    "jwt-secret": ("AIRFLOW__API_AUTH__JWT_SECRET", "jwt-secret"),
    "api-secret-key": ("AIRFLOW__API__SECRET_KEY", "api-secret-key"),
    "admin-password": ("AIRFLOW_ADMIN_PASSWORD", "admin-password"),
    "flower-password": ("AIRFLOW_FLOWER_PASSWORD", "flower-password"),
    "database": ("AIRFLOW_DB_PASSWORD", ""),
    "redis": ("AIRFLOW_REDIS_PASSWORD", ""),
}
# What each container needs, from Airflow 3.3's code (docs/security.md#secrets-per-component):
# only the scheduler and api-server sign or check task tokens; the fernet key only where
# connections, variables or trigger kwargs are encrypted or decrypted; the API secret key where
# logs are served to the api-server; task pods get nothing.
NEEDS = {
    ("api-server", "api-server"): {"fernet-key", "jwt-secret", "api-secret-key", "database"},
    ("scheduler", "scheduler"): {"fernet-key", "jwt-secret", "database", "redis"},
    ("dag-processor", "dag-processor"): {"fernet-key", "database"},
    ("triggerer", "triggerer"): {"fernet-key", "api-secret-key", "database"},
    ("worker", "worker"): {"api-secret-key", "database", "redis"},
    ("flower", "flower"): {"database", "redis", "flower-password"},
    ("migrations", "migrate"): {"database"},
    ("migrations", "create-admin"): {"database", "admin-password"},
}


def secrets_of(c):
    """The secrets a container receives, by the variables that carry them."""
    env = env_map(c)
    found = {name for name, (var, _) in CARRIERS.items() if var in env}
    for name in found:
        var, key = CARRIERS[name]
        if key:
            assert env[var]["secretKeyRef"]["key"] == key
    return found


def test_each_container_receives_only_the_secrets_it_needs(helm_major):
    objects = render(set_values=["cluster.flower.enabled=true"], helm_major=helm_major)
    received = {}
    for obj in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        component = obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = pod_of(obj)
        for c in pod.get("initContainers", []) + pod["containers"]:
            received[(component, c["name"])] = secrets_of(c)
    for (component, name), secrets in received.items():
        if name == "wait-for-migrations":
            assert secrets == {"database"}, component
        elif component not in ("postgres", "redis"):
            assert secrets == NEEDS[(component, name)], (component, name)
    assert set(NEEDS) <= set(received)


def test_task_pods_receive_no_secret_and_a_local_scheduler_serves_logs(helm_major):
    """KubernetesExecutor task pods run DAG code only; with LocalExecutor the scheduler runs the
    tasks and their log server, so it gets the API secret key that log server checks."""
    objects = render(set_values=["cluster.executor=KubernetesExecutor"], helm_major=helm_major)
    template = yaml.safe_load(find(objects, "ConfigMap", "-pod-template")["data"]["pod_template_file.yaml"])
    assert secrets_of(template["spec"]["containers"][0]) == set()
    objects = render(set_values=["cluster.executor=LocalExecutor"], helm_major=helm_major)
    scheduler = container(deployment(objects, "scheduler"), "scheduler")
    assert secrets_of(scheduler) == {"fernet-key", "jwt-secret", "api-secret-key", "database"}


def test_existing_secrets_are_referenced_and_nothing_is_generated(helm_major):
    objects = render([ci_file("existing-secrets")], helm_major=helm_major)
    assert not of_kind(objects, "Secret")
    env = env_map(container(deployment(objects, "api-server"), "api-server"))
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]["secretKeyRef"]["name"] == "my-airflow-secrets"
    assert env["AIRFLOW_DB_PASSWORD"]["secretKeyRef"]["name"] == "my-postgres"
    postgres = env_map(container(find(objects, "StatefulSet", "-postgres"), "postgres"))
    assert postgres["POSTGRES_PASSWORD"]["secretKeyRef"]["name"] == "my-postgres"
    worker = env_map(container(deployment(objects, "worker"), "worker"))  # the api-server has no broker
    assert worker["AIRFLOW_REDIS_PASSWORD"]["secretKeyRef"]["name"] == "my-redis"
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
