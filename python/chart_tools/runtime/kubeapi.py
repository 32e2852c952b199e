"""A stand-in Kubernetes API server for a machine without a cluster.

Two users:
- the runtime tier gives it to pods that mount a service-account token (a scheduler running the
  KubernetesExecutor lists and watches its worker pods from the start): it answers with an empty
  namespace, records pod creations and keeps watches open briefly so the watcher idles;
- the render tier runs `helm template --dry-run=server` against it, so the chart's `lookup`
  calls find the objects `store()` put there (Secrets reused on upgrade).
It serves discovery, stored objects, pod/event lists and watches, and records every request.
It runs no pods: that is the cluster tier's job.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

WATCH_HOLD_SECONDS = 5.0
# groupVersion -> kinds to announce (helm 4 maps every rendered kind through discovery).
KINDS = {
    "v1": ["Secret", "ConfigMap", "Service", "ServiceAccount", "PersistentVolumeClaim", "Pod", "Event",
           "ResourceQuota"],
    "apps/v1": ["Deployment", "StatefulSet"],
    "batch/v1": ["Job"],
    "policy/v1": ["PodDisruptionBudget"],
    "rbac.authorization.k8s.io/v1": ["Role", "RoleBinding"],
}  # fmt: skip


def plural(kind: str) -> str:
    return kind.lower() + ("es" if kind.endswith("s") else "s")


def _resource_list(group_version: str, kinds: list[str]) -> dict[str, Any]:
    verbs = ["create", "delete", "get", "list", "patch", "watch"]
    resources = [
        {"name": plural(k), "singularName": k.lower(), "namespaced": True, "kind": k, "verbs": verbs}
        for k in kinds
    ]
    if group_version == "v1":
        resources.append(
            {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}
        )
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
NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "code": 404, "reason": "NotFound"}


class StandInKubeAPI:
    """A loopback API server with a kubeconfig pointing at it."""

    def __init__(self, workdir: Path) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (namespace, plural, name)
        self.created: list[dict[str, Any]] = []
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm on, each
            # kept-alive request waits ~40 ms for a delayed ACK.
            disable_nagle_algorithm = True

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                api.requests.append(f"GET {self.path}")
                parts = url.path.strip("/").split("/")
                if url.path in DISCOVERY:
                    return self._send(200, DISCOVERY[url.path])
                if url.path.endswith(("/pods", "/events")):
                    query = parse_qs(url.query)
                    if query.get("watch", [""])[0].lower() == "true":
                        return self._hold_watch(query)
                    kind = "PodList" if url.path.endswith("/pods") else "EventList"
                    metadata = {"resourceVersion": "1"}
                    return self._send(
                        200, {"kind": kind, "apiVersion": "v1", "metadata": metadata, "items": []}
                    )
                if parts[-4:-3] == ["namespaces"]:  # /.../namespaces/<ns>/<plural>/<name>
                    stored = api.objects.get((parts[-3], parts[-2], parts[-1]))
                    return self._send(200, stored) if stored else self._send(404, NOT_FOUND)
                self._send(404, NOT_FOUND)

            def _hold_watch(self, query: dict[str, list[str]]) -> None:
                """An open watch with no events, ended after a while (or the client's timeout)."""
                timeout = min(float(query.get("timeoutSeconds", [WATCH_HOLD_SECONDS])[0]), WATCH_HOLD_SECONDS)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                time.sleep(timeout)
                self.wfile.write(b"0\r\n\r\n")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                api.created.append(body)
                self._send(201, body)

            def do_DELETE(self) -> None:
                self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

            do_PATCH = do_DELETE

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = workdir / "kubeconfig"
        server = f"http://127.0.0.1:{self.server.server_address[1]}"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": server}}],
            "users": [{"name": "stand-in", "user": {"token": "stand-in"}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "stand-in"}}],
            "current-context": "stand-in",
        }
        self.kubeconfig.write_text(json.dumps(config))
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def store(self, obj: dict[str, Any], namespace: str) -> None:
        """Make an object exist "in the cluster" (namespaced, core or any group)."""
        self.objects[(namespace, plural(obj["kind"]), obj["metadata"]["name"])] = obj

    def env(self) -> dict[str, str]:
        """What a token-mounting pod gets instead of in-cluster credentials."""
        return {
            "AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER": "False",
            "AIRFLOW__KUBERNETES_EXECUTOR__CONFIG_FILE": str(self.kubeconfig),
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
