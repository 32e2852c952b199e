"""The stand-in Kubernetes API's object store, selectors and patches.

Objects live under (namespace, resource, name). One counter versions every change, as etcd's
revision does for a real API server: each object carries the version of its last change as
`metadata.resourceVersion`, a list carries the current version, and a watch replays the changes
after the version it names. The last HISTORY changes are kept; a watch from an older version is
answered 410 Gone, as after a real server's compaction. Selectors follow the API's grammar:
labels with `=`, `==`, `!=`, `in`, `notin`, `key` and `!key`; fields with `=`, `==` and `!=` on a
dotted path.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]
HISTORY = 10_000  # changes kept for watches (a long `chart-tools up` must not grow without bound)


class Expired(Exception):
    """The version a watch asks for is older than the history kept."""


@dataclass(frozen=True)
class Key:
    namespace: str  # "" for cluster-scoped objects
    resource: str  # the plural: pods, secrets, roles, ...
    name: str


@dataclass(frozen=True)
class Change:
    """One change, as a watch sees it: the object after it (before it, for a deletion)."""

    version: int
    type: str  # ADDED, MODIFIED, DELETED
    key: Key
    obj: Obj
    old: Obj | None  # the object before a modification


def now() -> str:
    """A timestamp as the API writes them (RFC 3339, seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Thread-safe objects plus their change history; watchers wait on `changed`."""

    def __init__(self) -> None:
        self._objects: dict[Key, Obj] = {}
        self._history: list[Change] = []
        self.version = 0
        self.changed = threading.Condition()

    def get(self, key: Key) -> Obj | None:
        with self.changed:
            obj = self._objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self, resource: str, namespace: str | None, match: Predicate | None = None
    ) -> tuple[list[Obj], int]:
        """Matching objects of a resource (every namespace when `namespace` is None) and the version."""
        with self.changed:
            items = [
                copy.deepcopy(o)
                for k, o in sorted(self._objects.items(), key=lambda item: item[0].name)
                if k.resource == resource and namespace in (None, k.namespace) and (match is None or match(o))
            ]
            return items, self.version

    def put(self, key: Key, obj: Obj) -> Obj:
        """Create or replace an object; fills in what the API server sets on creation."""
        with self.changed:
            old = self._objects.get(key)
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            if old is None:
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now())
            else:
                meta["uid"] = old["metadata"]["uid"]
                meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            if key.namespace:
                meta["namespace"] = key.namespace
            self.version += 1
            meta["resourceVersion"] = str(self.version)
            self._objects[key] = obj
            self._record(Change(self.version, "MODIFIED" if old else "ADDED", key, copy.deepcopy(obj), old))
            return copy.deepcopy(obj)

    def update(self, key: Key, change: Callable[[Obj], None]) -> Obj | None:
        """Apply `change` to the stored object in place (atomically); None when it is gone."""
        with self.changed:
            obj = self._objects.get(key)
            if obj is None:
                return None
            new = copy.deepcopy(obj)
            change(new)
            return self.put(key, new)

    def remove(self, key: Key) -> Obj | None:
        with self.changed:
            obj = self._objects.pop(key, None)
            if obj is not None:
                self.version += 1
                obj = copy.deepcopy(obj)
                obj["metadata"]["resourceVersion"] = str(self.version)
                # A deleted object's last state carries its deletion time (the KubernetesExecutor
                # tells a deletion from a relabelling, which also ends a watch's selection, by it).
                obj["metadata"].setdefault("deletionTimestamp", now())
                self._record(Change(self.version, "DELETED", key, obj, None))
            return obj

    def _record(self, change: Change) -> None:
        self._history.append(change)
        del self._history[:-HISTORY]
        self.changed.notify_all()

    def changes_after(self, version: int) -> list[Change]:
        """Changes newer than `version`, oldest first; Expired when some were dropped."""
        with self.changed:
            if self._history and version < self._history[0].version - 1:
                raise Expired(f"too old resource version: {version} ({self._history[0].version - 1})")
            start = len(self._history)
            while start > 0 and self._history[start - 1].version > version:
                start -= 1
            return self._history[start:]


def watch_event(change: Change, match: Predicate) -> tuple[str, Obj] | None:
    """What a watch with a selector sees of a change: an object entering the selection is ADDED,
    one leaving it DELETED (as the API server's watch cache reports them), others pass or not."""
    new_in = match(change.obj)
    if change.type == "MODIFIED" and change.old is not None:
        old_in = match(change.old)
        if old_in and not new_in:
            return "DELETED", change.obj
        if new_in and not old_in:
            return "ADDED", change.obj
    return (change.type, change.obj) if new_in else None


# ---------------------------------------------------------------- selectors

_SET_TERM = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_TERM = re.compile(r"^\s*(!?)([^\s!=]+)\s*(?:(==|=|!=)\s*(\S*))?\s*$")


class SelectorError(ValueError):
    """A selector the API server would refuse (400 Bad Request)."""


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b=c`)."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    return [t for t in [*terms, current] if t.strip()]


def label_selector(text: str) -> Predicate:
    """A predicate over objects for a labelSelector query parameter."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for term in _split_terms(text):
        if m := _SET_TERM.match(term):
            key, op, values = m[1], m[2], {v.strip() for v in m[3].split(",")}
            tests.append(
                lambda labels, k=key, vs=values, inside=(op == "in"): (
                    (labels.get(k) in vs) == inside if k in labels else not inside
                )
            )
        elif m := _TERM.match(term):
            negate, key, op, value = m[1], m[2], m[3], m[4]
            if negate and op:
                raise SelectorError(f"unable to parse requirement: {term!r}")
            if not op:
                tests.append(lambda labels, k=key, neg=bool(negate): (k in labels) != neg)
            elif op == "!=":
                tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return lambda obj: all(t(obj.get("metadata", {}).get("labels") or {}) for t in tests)


def field_value(obj: Obj, path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def field_selector(text: str) -> Predicate:
    """A predicate over objects for a fieldSelector query parameter."""
    tests: list[Predicate] = []
    for term in _split_terms(text):
        m = re.match(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(\S*)\s*$", term)
        if not m:
            raise SelectorError(f"invalid field selector: {term!r}")
        path, op, value = m[1], m[2], m[3]
        tests.append(lambda o, p=path, v=value, eq=(op != "!="): (field_value(o, p) == v) == eq)
    return lambda obj: all(t(obj) for t in tests)


def selector(labels: str, fields: str) -> Predicate:
    by_labels, by_fields = label_selector(labels), field_selector(fields)
    return lambda obj: by_labels(obj) and by_fields(obj)


# ---------------------------------------------------------------- patches


class PatchError(ValueError):
    """A patch the API server would refuse."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(target: Obj, ops: list[dict[str, Any]]) -> Obj:
    """RFC 6902 JSON patch with add, replace, remove and test."""
    result = copy.deepcopy(target)
    for op in ops:
        *parents, last = _pointer(op["path"])
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        kind = op["op"]
        if kind == "test":
            current = node[int(last)] if isinstance(node, list) else node.get(last)
            if current != op["value"]:
                raise PatchError(f"test failed at {op['path']}")
        elif kind == "remove":
            if isinstance(node, list):
                node.pop(int(last))
            elif node.pop(last, None) is None:
                raise PatchError(f"cannot remove {op['path']}: not found")
        elif kind in ("add", "replace"):
            if isinstance(node, list):
                index = len(node) if last == "-" else int(last)
                node.insert(index, op["value"]) if kind == "add" else node.__setitem__(index, op["value"])
            else:
                node[last] = op["value"]
        else:
            raise PatchError(f"patch operation {kind!r} is not emulated")
    return result


def apply_patch(obj: Obj, body: Any, content_type: str) -> Obj:
    """The object after a PATCH request. A strategic merge patch is applied as a merge patch:
    enough for what Airflow patches (labels and annotations), documented as a difference."""
    if content_type.startswith("application/json-patch+json"):
        if not isinstance(body, list):
            raise PatchError("a JSON patch is a list of operations")
        return json_patch(obj, body)
    if content_type.startswith(("application/merge-patch+json", "application/strategic-merge-patch+json")):
        if not isinstance(body, dict):
            raise PatchError("a merge patch is an object")
        return merge_patch(obj, body)
    raise PatchError(f"the body of the request was in an unknown format: {content_type}")
