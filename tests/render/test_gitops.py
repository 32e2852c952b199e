"""The GitOps mode (generateSecrets: false) and `chart-tools secrets create`: a render that is the
same bytes every time, and Secrets made once that cover everything the render references."""

import base64
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from chart_tools import ROOT
from chart_tools.chart import secrets
from chart_tools.chart.render import RenderRequest, parse, run_helm_template
from chart_tools.runtime.kubeapi import StandInKubeAPI
from tests.helpers import of_kind

GITOPS = ROOT / "values" / "gitops.yaml"
BASE_ONLY = ROOT / "values" / "base-only.yaml"
ON_BASE = ("base.enabled=false", "cluster.airflowbase.name=base")
PROFILES = {
    "celery": (),
    "mysql": ("base.database.type=mysql",),
    "kubernetes": ("cluster.executor=KubernetesExecutor",),
    "flower": ("cluster.flower.enabled=true",),
    "cluster-on-base": ON_BASE,
}


def gitops_render(helm_major: int, set_values: tuple[str, ...]) -> str:
    request = RenderRequest(values_files=(GITOPS,), set_values=set_values, helm_major=helm_major)
    return run_helm_template(request)


@pytest.mark.parametrize("set_values", PROFILES.values(), ids=PROFILES.keys())
def test_gitops_render_is_byte_identical_and_generates_nothing(helm_major, set_values):
    first = gitops_render(helm_major, set_values)
    assert gitops_render(helm_major, set_values) == first
    assert not of_kind(parse(first), "Secret")


def test_the_default_render_is_not_deterministic(helm_major):
    """What the GitOps mode is for: outside a cluster, each default render draws new secrets."""
    request = RenderRequest(helm_major=helm_major)
    assert run_helm_template(request) != run_helm_template(request)


def references(node: Any) -> Iterator[tuple[str, str | None]]:
    """Every (Secret name, key) an object reads; key None where it reads the whole Secret."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    if not isinstance(node, dict):
        return
    if "secretKeyRef" in node:
        yield node["secretKeyRef"]["name"], node["secretKeyRef"]["key"]
    if "secretRef" in node:
        yield node["secretRef"]["name"], None
    if "secretName" in node.get("secret", {}):
        keys = [item["key"] for item in node["secret"].get("items", [])] or [None]
        yield from ((node["secret"]["secretName"], key) for key in keys)
    for value in node.values():
        yield from references(value)


@pytest.mark.parametrize("set_values", PROFILES.values(), ids=PROFILES.keys())
def test_created_secrets_hold_every_key_the_gitops_render_reads(helm_major, set_values):
    made = secrets.generated([GITOPS], list(set_values), helm_major, "airflow", "team")
    if set_values == ON_BASE:  # the base release's Secrets, made by its own `secrets create`
        made += secrets.generated([BASE_ONLY, GITOPS], [], helm_major, "base", "team")
    provided = {s["metadata"]["name"]: set(s["data"]) for s in made}
    read = set(references(parse(gitops_render(helm_major, set_values))))
    assert read, "the render reads no Secret: the walk is broken"
    missing = {
        (name, key) for name, key in read if name not in provided or (key and key not in provided[name])
    }
    assert not missing
    assert all(s["metadata"]["namespace"] == "team" for s in made)


def test_each_run_draws_new_values_and_a_valid_fernet_key(helm_major):
    first, second = (
        {s["metadata"]["name"]: s["data"] for s in secrets.generated([], [], helm_major, "airflow", None)}
        for _ in range(2)
    )
    assert first.keys() == second.keys() == {"airflow-postgres", "airflow-redis", "airflow-airflow"}
    for name, data in first.items():
        for key, value in data.items():
            assert base64.b64decode(value), (name, key)
            assert value != second[name][key], (name, key)
    fernet = base64.b64decode(first["airflow-airflow"]["fernet-key"])
    assert len(base64.urlsafe_b64decode(fernet)) == 32


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chart_tools.cli", "secrets", "create", "--release", "demo", *args]
    return subprocess.run(command, capture_output=True, text=True)


def test_cli_prints_secrets_no_helm_release_owns():
    done = cli("--namespace", "team", "-f", str(GITOPS))
    assert done.returncode == 0, done.stderr
    made = [o for o in yaml.safe_load_all(done.stdout) if o]
    assert {o["metadata"]["name"] for o in made} == {
        "demo-airflow-postgres",
        "demo-airflow-redis",
        "demo-airflow-airflow",
    }
    for secret in made:
        meta = secret["metadata"]
        assert meta["namespace"] == "team"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "chart-tools"
        assert "helm.sh/chart" not in meta["labels"] and "annotations" not in meta


def test_cli_prints_nothing_when_every_secret_is_the_users():
    done = cli("-f", str(ROOT / "charts" / "airflow" / "ci" / "existing-secrets-values.yaml"))
    assert done.returncode == 0 and not done.stdout
    assert "every one is named by an existingSecret" in done.stderr


def test_cli_apply_creates_once_and_never_replaces(tmp_path):
    api = StandInKubeAPI(tmp_path, namespace="team")
    try:
        done = cli("--apply", "--kubeconfig", str(api.kubeconfig))
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            f"created secret team/demo-airflow-{name}" for name in ("postgres", "redis", "airflow")
        ]
        stored = {s["metadata"]["name"]: s["data"] for s in api.objects.list("secrets", "team")[0]}
        again = cli("--apply", "--kubeconfig", str(api.kubeconfig))
        assert again.returncode == 0 and again.stdout.count("kept secret team/") == 3
        assert {s["metadata"]["name"]: s["data"] for s in api.objects.list("secrets", "team")[0]} == stored
    finally:
        api.close()
    gone = cli("--apply", "--kubeconfig", str(api.kubeconfig))
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1
    assert "cannot reach the cluster" in gone.stderr and "Traceback" not in gone.stderr


def test_cli_apply_without_a_kubeconfig_is_one_line(tmp_path):
    done = cli("--apply", "--kubeconfig", str(tmp_path / "none"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "no kubeconfig" in done.stderr


def test_notes_say_where_generated_secrets_cannot_be_kept(install_notes, helm_major):
    generating = install_notes(helm_major)
    assert "under `helm template`, Argo CD or Flux every render makes new values" in generating
    gitops = install_notes(helm_major, "-f", str(GITOPS))
    assert "the chart created no Secret" in gitops
    assert "chart-tools secrets create --release r --namespace default --apply" in gitops
    assert "every render makes new values" not in gitops
