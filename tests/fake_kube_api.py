"""A minimal Kubernetes API (discovery + Secret GET) so `helm template --dry-run=server` can run
its `lookup` calls on this machine, which has no cluster. It serves only what helm asks for
and records every path, so tests can prove which objects the chart looked up."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# groupVersion -> kinds the chart renders (helm 4 maps every rendered kind before it renders).
KINDS = {
    "v1": ["Secret", "ConfigMap", "Service", "ServiceAccount", "PersistentVolumeClaim"],
    "apps/v1": ["Deployment", "StatefulSet"],
    "batch/v1": ["Job"],
    "policy/v1": ["PodDisruptionBudget"],
}


def _resource_list(group_version: str, kinds: list[str]) -> dict[str, Any]:
    resources = [
        {
            "name": k.lower() + ("es" if k.endswith("s") else "s"),
            "singularName": k.lower(),
            "namespaced": True,
            "kind": k,
            "verbs": ["get"],
        }
        for k in kinds
    ]
    return {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}


def _group(group_version: str) -> dict[str, Any]:
    name, version = group_version.split("/")
    entry = {"groupVersion": group_version, "version": version}
    return {"name": name, "versions": [entry], "preferredVersion": entry}


DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "35", "gitVersion": "v1.35.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(gv) for gv in KINDS if "/" in gv],
    },
    **{("/api/" if gv == "v1" else "/apis/") + gv: _resource_list(gv, kinds) for gv, kinds in KINDS.items()},
}


class FakeKubeAPI:
    """Serves stored Secrets at /api/v1/namespaces/<ns>/secrets/<name>; 404 for everything else."""

    def __init__(self, workdir: Path) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                api.requests.append(path)
                body = DISCOVERY.get(path)
                parts = path.strip("/").split("/")
                if body is None and len(parts) == 6 and parts[4] == "secrets":
                    body = api.secrets.get((parts[3], parts[5]))
                status = 200 if body is not None else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(
                    json.dumps(body or {"kind": "Status", "code": 404, "reason": "NotFound"}).encode()
                )

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.kubeconfig = workdir / "kubeconfig"
        server = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": server}}],
                    "users": [{"name": "fake", "user": {}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def store(self, secret: dict[str, Any], namespace: str, release: str) -> None:
        """Make a rendered Secret exist "in the cluster" with the ownership marks `helm install` adds."""
        meta = secret["metadata"]
        annotations = {
            **meta.get("annotations", {}),
            "meta.helm.sh/release-name": release,
            "meta.helm.sh/release-namespace": namespace,
        }
        stored = {**secret, "metadata": {**meta, "namespace": namespace, "annotations": annotations}}
        self.secrets[(namespace, meta["name"])] = stored

    def helm_args(self) -> tuple[str, ...]:
        return ("--dry-run=server", "--disable-openapi-validation", "--kubeconfig", str(self.kubeconfig))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
