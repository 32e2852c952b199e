"""A stand-in Kubernetes API server for a machine without a cluster.

Two users:
- the runtime tier loads the rendered release into it and gives every pod that mounts a
  service-account token a kubeconfig with a token of that account: the scheduler's
  KubernetesExecutor and KubernetesPodOperator tasks create, watch, read, patch and delete pods,
  which the runtime's kubelet (chart_tools.runtime.kubelet) runs as local processes;
- the render tier runs `helm template --dry-run=server` against it, so the chart's `lookup`
  calls find the objects `store()` put there (Secrets reused on upgrade).

What it serves, as the real API does for these clients: discovery; get, list, watch (with
`resourceVersion`, label and field selectors), create, replace, patch and delete of the kinds in
KINDS; `pods/log` (follow, timestamps, sinceSeconds/sinceTime, tailLines). Every request is
authenticated by its bearer token and authorised by RBAC (kubeauth); pod creation passes
admission (service account, ResourceQuota `pods`). Every request is recorded in `calls`.
"""

from __future__ import annotations

import copy
import json
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chart_tools.runtime import kubeauth
from chart_tools.runtime.kubeauth import Denied, Request, Tokens, User
from chart_tools.runtime.kubestore import (
    Change,
    Expired,
    Key,
    Obj,
    PatchError,
    SelectorError,
    Store,
    apply_patch,
    now,
    selector,
    watch_event,
)

# A watch without timeoutSeconds ends after this long (the real server picks 30-60 minutes);
# clients then watch again from the last version they saw.
WATCH_DEFAULT_SECONDS = 300.0
# groupVersion -> kinds to announce (helm 4 maps every rendered kind through discovery).
KINDS = {
    "v1": [
        "Secret",
        "ConfigMap",
        "Service",
        "ServiceAccount",
        "PersistentVolumeClaim",
        "Pod",
        "Event",
        "ResourceQuota",
    ],
    "apps/v1": ["Deployment", "StatefulSet"],
    "batch/v1": ["Job"],
    "policy/v1": ["PodDisruptionBudget"],
    "networking.k8s.io/v1": ["NetworkPolicy"],
    "rbac.authorization.k8s.io/v1": ["Role", "RoleBinding"],
}
SUBRESOURCES = {"pods": ["log", "status"]}
LogReader = Callable[[Key, dict[str, str]], Iterator[str]]


def plural(kind: str) -> str:
    name = kind.lower()
    if name.endswith("y"):
        return name[:-1] + "ies"
    return name + ("es" if name.endswith("s") else "s")


RESOURCES = {plural(kind): (gv, kind) for gv, kinds in KINDS.items() for kind in kinds}


def _resource_list(group_version: str, kinds: list[str]) -> dict[str, Any]:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    resources = [
        {"name": plural(k), "singularName": k.lower(), "namespaced": True, "kind": k, "verbs": verbs}
        for k in kinds
    ]
    for name, subs in SUBRESOURCES.items():
        if RESOURCES[name][0] == group_version:
            kind = RESOURCES[name][1]
            resources += [
                {
                    "name": f"{name}/{s}",
                    "singularName": "",
                    "namespaced": True,
                    "kind": kind,
                    "verbs": ["get"],
                }
                for s in subs
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


@dataclass(frozen=True)
class Call:
    """One request as the stand-in saw it."""

    method: str
    path: str  # with the query
    user: str
    status: int
    body: Any = None  # the request body (create, patch), parsed
    message: str = ""  # why it was refused, as the answer's Status says

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Route:
    """A resource URL: /api/v1/namespaces/NS/RESOURCE/NAME/SUB or the /apis/GROUP/VERSION form."""

    group: str
    resource: str
    namespace: str = ""
    name: str = ""
    sub: str = ""

    @property
    def key(self) -> Key:
        return Key(self.namespace, self.resource, self.name)


def parse_route(path: str) -> Route:
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        raise Denied(404, "NotFound", f"the server could not find the requested resource ({path})")
    namespace = ""
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in RESOURCES or len(rest) > 3:
        raise Denied(404, "NotFound", f"the server could not find the requested resource ({path})")
    resource, name, sub = rest[0], *[*rest[1:], "", ""][:2]
    if sub and sub not in SUBRESOURCES.get(resource, []):
        raise Denied(404, "NotFound", f"the server could not find the requested resource ({path})")
    return Route(group, resource, namespace, name, sub)


def verb_of(method: str, route: Route, query: dict[str, str]) -> str:
    if method == "GET":
        if not route.name:
            return "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
        return "get"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method) or (
        "delete" if route.name else "deletecollection"
    )


def not_found(route: Route) -> Denied:
    return Denied(
        404,
        "NotFound",
        f'{route.resource} "{route.name}" not found',
        {"name": route.name, "kind": route.resource},
    )


class StandInKubeAPI:
    """A loopback API server with an administrator's kubeconfig pointing at it."""

    def __init__(self, workdir: Path, namespace: str = "default") -> None:
        self.objects = Store()
        self.tokens = Tokens()
        self.calls: list[Call] = []
        self.namespace = namespace
        self.workdir = workdir
        # The kubelet's hooks: a pod was created / is to be deleted (grace seconds); its logs.
        self.on_pod_created: Callable[[Key], None] | None = None
        self.on_pod_deleted: Callable[[Key, int], bool] | None = None
        self.read_log: LogReader | None = None
        self.closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self._write_kubeconfig(workdir / "kubeconfig", self.tokens.admin_token, namespace)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def requests(self) -> list[str]:
        """Every request as "METHOD path?query", oldest first."""
        return [str(c) for c in list(self.calls)]

    def _write_kubeconfig(self, path: Path, token: str, namespace: str) -> Path:
        context = {"cluster": "stand-in", "user": "stand-in", "namespace": namespace}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "users": [{"name": "stand-in", "user": {"token": token}}],
            "contexts": [{"name": "stand-in", "context": context}],
            "current-context": "stand-in",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path

    # ------------------------------------------------------------ for the runtime and the tests

    def store(self, obj: Obj, namespace: str) -> Obj:
        """Make an object exist "in the cluster", as `kubectl apply` by an administrator would."""
        resource = plural(obj["kind"])
        scoped = "" if resource.startswith("cluster") else obj.get("metadata", {}).get("namespace", namespace)
        return self.objects.put(Key(scoped, resource, obj["metadata"]["name"]), obj)

    def pods(self, namespace: str | None = None) -> list[Obj]:
        return self.objects.list("pods", namespace)[0]

    def service_account_env(self, namespace: str, account: str, folder: Path) -> dict[str, str]:
        """What a token-mounting pod gets instead of in-cluster credentials, which the Kubernetes
        client reads from fixed paths: a kubeconfig with its service account's token, named where
        the KubernetesExecutor ([kubernetes_executor] config_file) and the client (KUBECONFIG)
        look, and the pod's namespace where the pod operator's hook looks when it finds no
        in-cluster namespace file (the `kubernetes_default` connection's `namespace`)."""
        token = self.tokens.for_service_account(namespace, account)
        path = self._write_kubeconfig(folder / "kubeconfig", token, namespace)
        connection = {"conn_type": "kubernetes", "extra": {"namespace": namespace}}
        return {
            "KUBECONFIG": str(path),
            "AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER": "False",
            "AIRFLOW__KUBERNETES_EXECUTOR__CONFIG_FILE": str(path),
            "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(connection),
        }

    def close(self) -> None:
        self.closed.set()
        with self.objects.changed:
            self.objects.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ the API

    def create(self, route: Route, body: Obj) -> Obj:
        body = copy.deepcopy(body)  # the request as sent stays in `calls`
        if not isinstance(body, dict) or body.get("kind") != RESOURCES[route.resource][1]:
            raise Denied(400, "BadRequest", f"the body must be a {RESOURCES[route.resource][1]}")
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if not meta.get("name"):
            raise Denied(422, "Invalid", f'{route.resource} "" is invalid: metadata.name: Required value')
        key = Key(route.namespace, route.resource, meta["name"])
        with self.objects.changed:
            if self.objects.get(key) is not None:
                raise Denied(
                    409,
                    "AlreadyExists",
                    f'{route.resource} "{key.name}" already exists',
                    {"name": key.name, "kind": route.resource},
                )
            if route.resource == "pods":
                self._default_pod(route.namespace, body)
                kubeauth.admit_pod(self.objects, route.namespace, body)
            created = self.objects.put(key, body)
        if route.resource == "pods" and self.on_pod_created:
            self.on_pod_created(key)
        return created

    def _default_pod(self, namespace: str, pod: Obj) -> None:
        spec = pod.setdefault("spec", {})
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        account = self.objects.get(Key(namespace, "serviceaccounts", spec["serviceAccountName"])) or {}
        spec.setdefault("automountServiceAccountToken", account.get("automountServiceAccountToken", True))
        pod["status"] = {"phase": "Pending", "qosClass": "Burstable"}

    def replace(self, route: Route, body: Obj) -> Obj:
        body = copy.deepcopy(body)
        with self.objects.changed:
            current = self.objects.get(route.key)
            if current is None:
                raise not_found(route)
            self._check_version(route, current, body)
            body.setdefault("metadata", {})["name"] = route.name
            if route.resource == "pods":
                body["status"] = current.get("status", {})
            return self.objects.put(route.key, body)

    def patch(self, route: Route, body: Any, content_type: str) -> Obj:
        with self.objects.changed:
            current = self.objects.get(route.key)
            if current is None:
                raise not_found(route)
            try:
                new = apply_patch(current, body, content_type)
            except (PatchError, KeyError, IndexError, ValueError) as err:
                raise Denied(422 if isinstance(err, PatchError) else 400, "BadRequest", str(err)) from None
            self._check_version(route, current, new)
            new["metadata"]["name"], new["metadata"]["uid"] = route.name, current["metadata"]["uid"]
            return self.objects.put(route.key, new)

    @staticmethod
    def _check_version(route: Route, current: Obj, new: Obj) -> None:
        wanted = new.get("metadata", {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise Denied(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {route.resource} "{route.name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                {"name": route.name, "kind": route.resource},
            )

    def delete(self, route: Route, body: Obj, query: dict[str, str]) -> Obj:
        current = self.objects.get(route.key)
        if current is None:
            raise not_found(route)
        if route.resource == "pods" and self.on_pod_deleted:
            grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
            grace = (
                int(grace) if grace is not None else current["spec"].get("terminationGracePeriodSeconds", 30)
            )

            def mark(pod: Obj) -> None:
                pod["metadata"].setdefault("deletionTimestamp", now())
                pod["metadata"].setdefault("deletionGracePeriodSeconds", grace)

            if self.on_pod_deleted(route.key, grace):  # the kubelet stops it, then removes it
                return self.objects.update(route.key, mark) or current
        return self.objects.remove(route.key) or current

    def listing(self, route: Route, query: dict[str, str]) -> Obj:
        items, version = self.objects.list(route.resource, route.namespace or None, self._selector(query))
        group_version, kind = RESOURCES[route.resource]
        return {
            "kind": f"{kind}List",
            "apiVersion": group_version,
            "metadata": {"resourceVersion": str(version)},
            "items": items,
        }

    @staticmethod
    def _selector(query: dict[str, str]) -> Callable[[Obj], bool]:
        try:
            return selector(query.get("labelSelector", ""), query.get("fieldSelector", ""))
        except SelectorError as err:
            raise Denied(400, "BadRequest", str(err)) from None

    def watch(self, route: Route, query: dict[str, str]) -> Iterator[Obj | None]:
        """Watch events for the route from the requested version; None marks a quiet moment (so the
        caller can notice a closed connection). Version "" or "0" starts with the current objects
        as ADDED events, as the real server does."""
        match = self._selector(query)
        timeout = float(query.get("timeoutSeconds") or WATCH_DEFAULT_SECONDS)
        deadline = time.monotonic() + timeout
        start = query.get("resourceVersion", "")
        if start in ("", "0"):
            items, version = self.objects.list(route.resource, route.namespace or None, match)
            yield from ({"type": "ADDED", "object": item} for item in items)
        elif start.isdigit():
            version = int(start)
        else:
            raise Denied(400, "BadRequest", f"invalid resource version: {start!r}")
        while not self.closed.is_set() and time.monotonic() < deadline:
            try:
                changes = self._wait_changes(version, deadline)
            except Expired as err:  # the real server says so in the stream, as an ERROR event
                gone = Denied(410, "Expired", str(err)).status()
                yield {"type": "ERROR", "object": gone}
                return
            if not changes:
                yield None
            for change in changes:
                version = change.version
                key = change.key
                if key.resource != route.resource or (route.namespace and key.namespace != route.namespace):
                    continue
                seen = watch_event(change, match)
                if seen:
                    yield {"type": seen[0], "object": seen[1]}

    def _wait_changes(self, version: int, deadline: float) -> list[Change]:
        """Changes after `version`, waiting up to a second (or the deadline) for one."""
        with self.objects.changed:
            changes = self.objects.changes_after(version)
            if not changes:
                self.objects.changed.wait(min(1.0, max(0.0, deadline - time.monotonic())))
                changes = self.objects.changes_after(version)
            return changes

    def log(self, route: Route, query: dict[str, str]) -> Iterator[str]:
        pod = self.objects.get(route.key)
        if pod is None:
            raise not_found(route)
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        inits = [c["name"] for c in pod["spec"].get("initContainers") or []]
        container = query.get("container") or (containers[0] if len(containers) == 1 else "")
        if not container:
            raise Denied(
                400,
                "BadRequest",
                f"a container name must be specified for pod {route.name}, choose one of: {containers}",
            )
        if container not in containers + inits:
            raise Denied(400, "BadRequest", f"container {container} is not valid for pod {route.name}")
        if self.read_log is None:
            raise Denied(
                400, "BadRequest", f'container "{container}" in pod "{route.name}" is waiting to start'
            )
        return self.read_log(route.key, {**query, "container": container})

    # ------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm on, each
            # kept-alive request waits ~40 ms for a delayed ACK.
            disable_nagle_algorithm = True

            def _send(self, status: int, body: Obj) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.status = status

            def _chunks(self, content_type: str, chunks: Iterator[bytes | None]) -> None:
                """A streamed answer (watch, followed log), ended when `chunks` ends."""
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.status = 200
                try:
                    for chunk in chunks:
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                        elif self._peer_gone():  # None: nothing new; stop when the client left
                            break
                    else:
                        self.wfile.write(b"0\r\n\r\n")
                        return
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _peer_gone(self) -> bool:
                """The client closed the connection (a watch it gave up on after its read timeout)."""
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def _body(self) -> Any:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    return json.loads(raw) if raw else {}
                except json.JSONDecodeError as err:
                    raise Denied(400, "BadRequest", f"the request body is not JSON: {err}") from None

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                self.status, user, body, message = 500, "", None, ""
                try:
                    caller = api.tokens.user(self.headers.get("Authorization"))
                    user = caller.name
                    body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
                    self._dispatch(method, url.path, query, caller, body)
                except Denied as err:
                    message = err.message
                    self._send(err.code, err.status())
                finally:
                    api.calls.append(Call(method, self.path, user, self.status, body, message))

            def _dispatch(
                self, method: str, path: str, query: dict[str, str], caller: User, body: Any
            ) -> None:
                if method == "GET" and path.rstrip("/") in DISCOVERY:
                    return self._send(200, DISCOVERY[path.rstrip("/")])
                route = parse_route(path)
                verb = verb_of(method, route, query)
                resource = f"{route.resource}/{route.sub}" if route.sub else route.resource
                kubeauth.authorize(
                    api.objects, caller, Request(verb, route.group, resource, route.namespace, route.name)
                )
                if route.sub == "log":
                    lines = api.log(route, query)
                    return self._chunks("text/plain", (line.encode() if line else None for line in lines))
                if verb == "watch":
                    events = api.watch(route, query)
                    return self._chunks(
                        "application/json", ((json.dumps(e) + "\n").encode() if e else None for e in events)
                    )
                if verb == "list":
                    return self._send(200, api.listing(route, query))
                if verb == "get":
                    found = api.objects.get(route.key)
                    return self._send(200, found) if found else self._send(404, not_found(route).status())
                if verb == "create":
                    return self._send(201, api.create(route, body))
                if verb == "update":
                    return self._send(200, api.replace(route, body))
                if verb == "patch":
                    return self._send(200, api.patch(route, body, self.headers.get("Content-Type", "")))
                if verb == "delete":
                    return self._send(200, api.delete(route, body or {}, query))
                raise Denied(405, "MethodNotAllowed", f"{verb} is not emulated")

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
