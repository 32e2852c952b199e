"""Who calls the stand-in API and what they may do: tokens, RBAC and admission.

Every pod that mounts a service-account token gets a token of its own that names its service
account; the stand-in's own kubeconfig (helm, tests) holds the administrator's token, and a
request without credentials is the administrator's too (see Tokens.user). Requests
are authorised as the API server's RBAC authoriser does, from the Roles and RoleBindings in the
store at the time of the request (an edit takes effect at once). Admission refuses a pod whose
service account does not exist, and a pod over a ResourceQuota's `pods`, with the API server's
own messages (Airflow matches "exceeded quota" to retry a refused task pod).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from chart_tools.runtime.kubestore import Key, Obj, Store

ADMIN = "kubernetes-admin"
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class User:
    name: str  # system:serviceaccount:<namespace>:<name>, or ADMIN
    namespace: str = ""
    service_account: str = ""

    @property
    def groups(self) -> set[str]:
        if not self.service_account:
            return {"system:masters", "system:authenticated"}
        return {"system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"}


@dataclass(frozen=True)
class Request:
    """What RBAC looks at: verb, API group, resource (with subresource, `pods/log`), namespace, name."""

    verb: str
    group: str
    resource: str
    namespace: str
    name: str = ""


class Denied(Exception):
    """An answer other than success: HTTP status, reason and the API server's message."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


class Tokens:
    """Bearer tokens and the users they stand for."""

    def __init__(self) -> None:
        self.admin_token = secrets.token_urlsafe(24)
        self._users = {self.admin_token: User(ADMIN)}

    def for_service_account(self, namespace: str, name: str) -> str:
        """A token for a service account (one per account, as a projected token would be)."""
        for token, user in self._users.items():
            if (user.namespace, user.service_account) == (namespace, name):
                return token
        token = secrets.token_urlsafe(24)
        self._users[token] = User(f"system:serviceaccount:{namespace}:{name}", namespace, name)
        return token

    def user(self, authorization: str | None) -> User:
        """The caller. No credentials at all is the administrator, as on the insecure local port
        old API servers had: helm (client-go) sends no bearer token over plain HTTP. Every pod's
        client sends its own token, and a wrong one is refused."""
        if not authorization:
            return self._users[self.admin_token]
        token = authorization.removeprefix("Bearer ").strip()
        if token not in self._users:
            raise Denied(401, "Unauthorized", "Unauthorized")
        return self._users[token]


def _binds(binding: Obj, user: User) -> bool:
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "ServiceAccount":
            namespace = subject.get("namespace") or binding["metadata"].get("namespace", "")
            if (namespace, name) == (user.namespace, user.service_account):
                return True
        elif (kind == "User" and name == user.name) or (kind == "Group" and name in user.groups):
            return True
    return False


def _allows(rule: Obj, request: Request) -> bool:
    def has(field: str, value: str) -> bool:
        return value in (rule.get(field) or []) or "*" in (rule.get(field) or [])

    names = rule.get("resourceNames") or []
    named_ok = not names or request.name in names
    return has("verbs", request.verb) and has("apiGroups", request.group) and has(
        "resources", request.resource
    ) and named_ok  # fmt: skip


def authorize(store: Store, user: User, request: Request) -> None:
    """Pass, or raise the API server's 403 for this user and request."""
    if user.name == ADMIN:
        return
    for namespace in {request.namespace, ""}:
        bindings, _ = store.list("rolebindings" if namespace else "clusterrolebindings", namespace or None)
        for binding in bindings:
            if not _binds(binding, user):
                continue
            ref = binding["roleRef"]
            role_namespace = namespace if ref["kind"] == "Role" else ""
            role = store.get(Key(role_namespace, ref["kind"].lower() + "s", ref["name"]))
            if role and any(_allows(rule, request) for rule in role.get("rules") or []):
                return
    resource, _, subresource = request.resource.partition("/")
    qualified = f"{resource}.{request.group}" if request.group else resource  # without the subresource
    what = f'{qualified} "{request.name}"' if request.name else qualified
    where = f' in the namespace "{request.namespace}"' if request.namespace else " at the cluster scope"
    raise Denied(
        403,
        "Forbidden",
        f'{what} is forbidden: User "{user.name}" cannot {request.verb} resource "{request.resource}" '
        f'in API group "{request.group}"{where}',
        {"name": request.name, "kind": resource, **({"subresource": subresource} if subresource else {})},
    )


def admit_pod(store: Store, namespace: str, pod: Obj) -> None:
    """Admission of a new pod: its service account exists and the namespace's quotas hold it."""
    name = pod["metadata"]["name"]
    account = pod["spec"].get("serviceAccountName") or "default"
    if account != "default" and store.get(Key(namespace, "serviceaccounts", account)) is None:
        raise Denied(
            403,
            "Forbidden",
            f'pods "{name}" is forbidden: error looking up service account {namespace}/{account}: '
            f'serviceaccount "{account}" not found',
            {"name": name, "kind": "pods"},
        )
    quotas, _ = store.list("resourcequotas", namespace)
    for quota in quotas:
        limit = (quota.get("spec", {}).get("hard") or {}).get("pods")
        if limit is None:
            continue
        used = pods_counted(store, namespace)
        if used + 1 > int(limit):
            raise Denied(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: exceeded quota: {quota["metadata"]["name"]}, '
                f"requested: pods=1, used: pods={used}, limited: pods={limit}",
                {"name": name, "kind": "pods"},
            )


def pods_counted(store: Store, namespace: str) -> int:
    """Pods a quota's `pods` counts: every pod of the namespace not in a terminal phase."""
    pods, _ = store.list("pods", namespace)
    return sum(1 for p in pods if (p.get("status") or {}).get("phase") not in TERMINAL_PHASES)
