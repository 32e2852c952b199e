"""The Secrets of a GitOps install (`generateSecrets: false`), made once outside the render.

In that mode the chart renders no Secret, so every render is the same bytes, and its workloads
name the Secrets the chart would otherwise have generated. `generated` renders the chart with
generation on: under `helm template` the chart's `lookup` finds nothing, so every value is new,
drawn by helm from a cryptographic source. Those Secrets are kept and marked as not Helm's.
`apply` creates them and never replaces one that exists: a new fernet key would make every
stored connection unreadable, a new password would no longer match the database's role.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from chart_tools.chart.render import Manifest, RenderRequest, parse, run_helm_template

# Labels helm sets that say an object belongs to a chart release; these Secrets belong to none.
HELM_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


class SecretsError(RuntimeError):
    """The cluster could not be reached or refused a Secret."""


def generated(
    values_files: list[Path], set_values: list[str], helm_major: int, release: str, namespace: str | None
) -> list[Manifest]:
    """Fresh Secrets the chart generates for these values, as objects no Helm release owns (in
    `namespace` when given). Not cached: each call draws new values."""
    request = RenderRequest(
        values_files=tuple(values_files),
        set_values=(*set_values, "generateSecrets=true"),
        helm_major=helm_major,
        release=release,
        namespace=namespace or "default",
    )
    return [standalone(o, namespace) for o in parse(run_helm_template(request)) if o["kind"] == "Secret"]


def standalone(secret: Manifest, namespace: str | None) -> Manifest:
    """The Secret without Helm's marks and annotations (its keep policy means nothing outside a
    release), labelled as made by chart-tools."""
    meta = secret["metadata"]
    labels = {k: v for k, v in meta.get("labels", {}).items() if k not in HELM_LABELS}
    labels["app.kubernetes.io/managed-by"] = "chart-tools"
    where = {"namespace": namespace} if namespace else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": meta["name"], **where, "labels": labels},
        "type": secret["type"],
        "data": secret["data"],
    }


def _core_api(kubeconfig: Path | None) -> tuple[client.CoreV1Api, str]:
    """A client for the kubeconfig's current context, and that context's namespace."""
    path = str(kubeconfig) if kubeconfig else None
    try:
        _, context = config.list_kube_config_contexts(config_file=path)
        api_client = config.new_client_from_config(config_file=path)
    except (ConfigException, OSError) as err:
        raise SecretsError(f"no kubeconfig to apply with: {err}") from None
    return client.CoreV1Api(api_client), context["context"].get("namespace", "default")


def apply(secrets: list[Manifest], namespace: str | None, kubeconfig: Path | None) -> Iterator[str]:
    """Create each Secret in the namespace (default: the context's), keeping any that exists.
    Yields one line per Secret."""
    api, context_namespace = _core_api(kubeconfig)
    namespace = namespace or context_namespace
    for secret in secrets:
        name = secret["metadata"]["name"]
        try:
            api.create_namespaced_secret(
                namespace, {**secret, "metadata": {**secret["metadata"], "namespace": namespace}}
            )
        except ApiException as err:
            if err.status != 409:
                raise SecretsError(f"secret {namespace}/{name}: {err.status} {err.reason}") from None
            yield f"kept secret {namespace}/{name}: it exists; its values are unchanged"
            continue
        except urllib3.exceptions.HTTPError as err:
            raise SecretsError(f"cannot reach the cluster: {err}") from None
        yield f"created secret {namespace}/{name}"
