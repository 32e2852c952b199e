"""A stand-in Kubernetes API for the runtime tier's pods that mount a service-account token.

There is no cluster here. A scheduler running the KubernetesExecutor (alone or beside Celery)
lists and watches its worker pods from the start; this server answers those calls with an
empty namespace, accepts pod creations (recording them), and keeps watches open briefly so
the executor's watcher idles instead of spinning. It proves the executor starts and runs
with the chart's configuration; it does not run task pods (the cluster tier does).
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
_RESOURCES = [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
     "verbs": ["create", "delete", "get", "list", "patch", "watch"]},
    {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event", "verbs": ["list"]},
]  # fmt: skip
DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "35", "gitVersion": "v1.35.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": _RESOURCES},
}


class StandInKubeAPI:
    """Serves /api/v1 pods and events in every namespace; records created pods."""

    def __init__(self, workdir: Path) -> None:
        self.created: list[dict[str, Any]] = []
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                api.requests.append(f"GET {self.path}")
                if url.path in DISCOVERY:
                    return self._send(200, DISCOVERY[url.path])
                if url.path.endswith(("/pods", "/events")):
                    if query.get("watch", [""])[0].lower() == "true":
                        return self._hold_watch(query)
                    kind = "PodList" if url.path.endswith("/pods") else "EventList"
                    metadata = {"resourceVersion": "1"}
                    return self._send(
                        200, {"kind": kind, "apiVersion": "v1", "metadata": metadata, "items": []}
                    )
                self._send(404, {"kind": "Status", "apiVersion": "v1", "code": 404, "reason": "NotFound"})

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
        self.kubeconfig = workdir / "kubeconfig"
        workdir.mkdir(parents=True, exist_ok=True)
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
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        """What a token-mounting pod gets instead of in-cluster credentials."""
        return {
            "AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER": "False",
            "AIRFLOW__KUBERNETES_EXECUTOR__CONFIG_FILE": str(self.kubeconfig),
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
