"""The old Airflow operator's API as data, and the check that a resource has its shapes.

GO_TYPES describes the Go API types of GoogleCloudPlatform/airflow-operator (package
`pkg/apis/airflow/v1alpha1`); the Kubernetes types they embed are checked against Kubernetes'
own strict schemas with the API server's rules. `check_resource` accepts exactly what the
operator would have decoded, so a field of the wrong shape is a one-line error naming the
resource and the field, and the converter (operator.py) only ever sees the shapes it expects.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from chart_tools.chart import kube_schema
from chart_tools.chart.formats import go_patterns
from chart_tools.chart.values import ValuesError

API_VERSION = "airflow.k8s.io/v1alpha1"

# ---------------------------------------------------------------- the operator's API as data

# Each Go struct of the operator's API (package v1alpha1 of GoogleCloudPlatform/airflow-operator)
# as {JSON key: (Go field, Go type)}. A key starting with a capital letter is a Go field without
# a json tag: Go's decoder matches such keys case-insensitively, and so does the check here.
GO_TYPES: dict[str, dict[str, tuple[str, str]]] = {
    "AirflowBase": {
        "apiVersion": ("APIVersion", "string"),  # from the inlined metav1.TypeMeta
        "kind": ("Kind", "string"),  # from the inlined metav1.TypeMeta
        "metadata": ("ObjectMeta", "metav1.ObjectMeta"),
        "spec": ("Spec", "AirflowBaseSpec"),
        "status": ("Status", "AirflowBaseStatus"),
    },
    "AirflowBaseSpec": {
        "nodeSelector": ("NodeSelector", "map[string]string"),
        "affinity": ("Affinity", "*corev1.Affinity"),
        "annotations": ("Annotations", "map[string]string"),
        "labels": ("Labels", "map[string]string"),
        "mysql": ("MySQL", "*MySQLSpec"),
        "sqlproxy": ("SQLProxy", "*SQLProxySpec"),
        "postgres": ("Postgres", "*PostgresSpec"),
        "storage": ("Storage", "*NFSStoreSpec"),
    },
    "PostgresSpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "replicas": ("Replicas", "int32"),
        "volumeClaimTemplate": ("VolumeClaimTemplate", "*corev1.PersistentVolumeClaim"),
        "operator": ("Operator", "bool"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
        "Options": ("Options", "map[string]string"),  # no json tag
    },
    "MySQLSpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "replicas": ("Replicas", "int32"),
        "volumeClaimTemplate": ("VolumeClaimTemplate", "*corev1.PersistentVolumeClaim"),
        "backupVolumeClaimTemplate": ("BackupVolumeClaimTemplate", "*corev1.PersistentVolumeClaim"),
        "operator": ("Operator", "bool"),
        "backup": ("Backup", "*MySQLBackup"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
        "Options": ("Options", "map[string]string"),  # no json tag
    },
    "MySQLBackup": {
        "schedule": ("Schedule", "string"),
        "storage": ("Storage", "StorageSpec"),
    },
    "StorageSpec": {
        "storageprovider": ("StorageProvider", "string"),
        "secretRef": ("SecretRef", "*corev1.LocalObjectReference"),
        "config": ("Config", "map[string]string"),
    },
    "SQLProxySpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "project": ("Project", "string"),
        "region": ("Region", "string"),
        "instance": ("Instance", "string"),
        "type": ("Type", "string"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
    },
    "NFSStoreSpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
        "volumeClaimTemplate": ("Volume", "*corev1.PersistentVolumeClaim"),
    },
    "AirflowCluster": {
        "apiVersion": ("APIVersion", "string"),  # from the inlined metav1.TypeMeta
        "kind": ("Kind", "string"),  # from the inlined metav1.TypeMeta
        "metadata": ("ObjectMeta", "metav1.ObjectMeta"),
        "spec": ("Spec", "AirflowClusterSpec"),
        "status": ("Status", "AirflowClusterStatus"),
    },
    "AirflowClusterSpec": {
        "nodeSelector": ("NodeSelector", "map[string]string"),
        "affinity": ("Affinity", "*corev1.Affinity"),
        "annotations": ("Annotations", "map[string]string"),
        "labels": ("Labels", "map[string]string"),
        "executor": ("Executor", "string"),
        "config": ("Config", "ClusterConfig"),
        "memoryStore": ("MemoryStore", "*MemoryStoreSpec"),
        "redis": ("Redis", "*RedisSpec"),
        "scheduler": ("Scheduler", "*SchedulerSpec"),
        "worker": ("Worker", "*WorkerSpec"),
        "ui": ("UI", "*AirflowUISpec"),
        "flower": ("Flower", "*FlowerSpec"),
        "dags": ("DAGs", "*DagSpec"),
        "airflowbase": ("AirflowBaseRef", "*corev1.LocalObjectReference"),
    },
    "ClusterConfig": {
        "airflow": ("AirflowEnv", "map[string]string"),
        "airflowsecret": ("AirflowSecretEnv", "[]SecretEnv"),
    },
    "SecretEnv": {  # no json tags at all
        "Env": ("Env", "string"),
        "Secret": ("Secret", "string"),
        "Field": ("Field", "string"),
    },
    "MemoryStoreSpec": {
        "project": ("Project", "string"),
        "region": ("Region", "string"),
        "alternativeLocationId": ("AlternativeLocationID", "string"),
        "authorizedNetwork": ("AuthorizedNetwork", "string"),
        "locationId": ("LocationID", "string"),
        "memorySizeGb": ("MemorySizeGb", "int64"),
        "redisConfigs": ("RedisConfigs", "map[string]string"),
        "redisVersion": ("RedisVersion", "string"),
        "tier": ("Tier", "string"),
        "maxMemoryPolicy": ("MaxMemoryPolicy", "string"),
        "notifyKeyspaceEvents": ("NotifyKeyspaceEvents", "string"),
        "status": ("Status", "MemoryStoreStatus"),
    },
    "MemoryStoreStatus": {  # written by the operator: checked, never converted
        "createTime": ("CreateTime", "string"),
        "currentLocationId": ("CurrentLocationID", "string"),
        "statusMessage": ("StatusMessage", "string"),
        "host": ("Host", "string"),
        "port": ("Port", "int64"),
        "state": ("State", "string"),
        "observedGeneration": ("ObservedGeneration", "int64"),  # from the inlined status.Meta
        "conditions": ("Conditions", "[]status.Condition"),  # from the inlined status.Meta
        "components": ("Objects", "[]status.ObjectStatus"),  # from the inlined status.ComponentMeta
    },
    "RedisSpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "operator": ("Operator", "bool"),
        "redisHost": ("RedisHost", "string"),
        "redisPort": ("RedisPort", "string"),
        "redisPassword": ("RedisPassword", "bool"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
        "volumeClaimTemplate": ("VolumeClaimTemplate", "*corev1.PersistentVolumeClaim"),
        "additionalargs": ("AdditionalArgs", "string"),
    },
    "SchedulerSpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "database": ("DBName", "string"),
        "dbuser": ("DBUser", "string"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
    },
    "WorkerSpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "replicas": ("Replicas", "int32"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
    },
    "AirflowUISpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "replicas": ("Replicas", "int32"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
    },
    "FlowerSpec": {
        "image": ("Image", "string"),
        "version": ("Version", "string"),
        "replicas": ("Replicas", "int32"),
        "resources": ("Resources", "corev1.ResourceRequirements"),
    },
    "DagSpec": {
        "subdir": ("DagSubdir", "string"),
        "git": ("Git", "*GitSpec"),
        "nfspv": ("NfsPV", "*corev1.PersistentVolumeClaim"),
        "storage": ("Storage", "*StorageSpec"),
        "gcs": ("GCS", "*GCSSpec"),
    },
    "GitSpec": {
        "repo": ("Repo", "string"),
        "branch": ("Branch", "string"),
        "rev": ("Rev", "string"),
        "user": ("User", "string"),
        "once": ("Once", "bool"),
        "cred": ("CredSecretRef", "*corev1.LocalObjectReference"),
    },
    "GCSSpec": {
        "bucket": ("Bucket", "string"),
        "once": ("Once", "bool"),
    },
}
# Status the operator writes: accepted in any shape and ignored, so an older or newer operator's
# status never blocks a conversion.
OUTPUT_ONLY = {"AirflowBaseStatus", "AirflowClusterStatus", "status.Condition", "status.ObjectStatus"}
# Kubernetes types the operator embeds, checked against Kubernetes' strict JSON schemas.
K8S_TYPES = {
    "corev1.Affinity": "io.k8s.api.core.v1.Affinity",
    "corev1.LocalObjectReference": "io.k8s.api.core.v1.LocalObjectReference",
    "corev1.PersistentVolumeClaim": "io.k8s.api.core.v1.PersistentVolumeClaim",
    "corev1.ResourceRequirements": "io.k8s.api.core.v1.ResourceRequirements",
    "metav1.ObjectMeta": "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
}
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
SCALAR_WORDS = {"string": "a string", "bool": "true or false", "int32": "an integer", "int64": "an integer",
                "map[string]string": "a map of strings"}  # fmt: skip
JSON_TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
                   "number": "a number", "boolean": "true or false"}  # fmt: skip

# ---------------------------------------------------------------- shape check


class _ShapeError(Exception):
    """A field the operator's Go types would not decode; the message starts with its path."""


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    words = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return next((w for t, w in words.items() if isinstance(value, t)), type(value).__name__)


def describe(go_type: str) -> str:
    """How an error message names what a Go type expects."""
    base = go_type.removeprefix("*")
    if base == "corev1.LocalObjectReference":
        return "an object reference {name: ...} (corev1.LocalObjectReference)"
    if base in SCALAR_WORDS:
        return f"{SCALAR_WORDS[base]} (Go {base})"
    return f"a list ({base})" if base.startswith("[]") else f"an object ({base})"


def _join(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)


def _wrong(path: str, go_type: str, value: Any) -> _ShapeError:
    hint = "; quote it" if go_type == "string" and isinstance(value, int | float) else ""
    return _ShapeError(f"{path}: expected {describe(go_type)}, got {_kind_of(value)}{hint}")


def _check(value: Any, go_type: str, path: str, seen: set[tuple[str, str]] | None) -> Any:
    """`value` as Go would decode it into `go_type` (a null is an unset field), or _ShapeError."""
    base = go_type.removeprefix("*")
    if value is None or base.removeprefix("[]") in OUTPUT_ONLY:
        return value
    if base.startswith("[]"):
        if not isinstance(value, list):
            raise _wrong(path, base, value)
        # a null item decodes to the element's zero value: an empty struct
        return [_check(item, base[2:], _join(path, i), seen) or {} for i, item in enumerate(value)]
    if base == "map[string]string":
        if not isinstance(value, dict):
            raise _wrong(path, base, value)
        # a null value decodes to the zero value, ""
        return {str(k): _check(v, "string", _join(path, str(k)), seen) or "" for k, v in value.items()}
    if base in SCALAR_WORDS:
        return _scalar(value, base, path)
    if base in K8S_TYPES:
        return _k8s(value, base, path)
    return _struct(value, base, path, seen)


def _scalar(value: Any, go_type: str, path: str) -> Any:
    if go_type == "string" and isinstance(value, str):
        return value
    if go_type == "bool" and isinstance(value, bool):
        return value
    if go_type in INT_RANGES and isinstance(value, int) and not isinstance(value, bool):
        low, high = INT_RANGES[go_type]
        if not low <= value <= high:
            raise _ShapeError(f"{path}: {value} is out of range for Go {go_type} ({low} to {high})")
        return value
    raise _wrong(path, go_type, value)


def _field_key(struct: str, key: Any, path: str) -> str:
    """The JSON key `key` decodes into: exact for tagged fields, any case for untagged ones."""
    fields = GO_TYPES[struct]
    if key in fields:
        return key
    shown = str(key)
    folded = [k for k in fields if k.lower() == shown.lower()]
    if folded and folded[0][0].isupper():
        return folded[0]
    hint = f" (the field is spelled {folded[0]})" if folded else ""
    raise _ShapeError(f"{_join(path, shown)} is not a field of {struct}{hint}")


def _struct(value: Any, struct: str, path: str, seen: set[tuple[str, str]] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(path, struct, value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _field_key(struct, key, path)
        if name in out:
            raise _ShapeError(
                f"{_join(path, str(key))}: {struct}.{name} is given twice (keys differ in case)"
            )
        checked = _check(item, GO_TYPES[struct][name][1], _join(path, name), seen)
        if checked is not None:
            out[name] = checked
            if seen is not None:
                seen.add((struct, name))
    return out


@functools.cache
def _k8s_validator(definition: str) -> jsonschema.Draft202012Validator:
    """A validator of one Kubernetes definition, as of the oldest Kubernetes the chart supports."""
    root = {"$ref": f"#/$defs/{definition}", "$defs": _k8s_definitions()}
    return go_patterns(jsonschema.Draft202012Validator)(root)


def _k8s_definitions() -> dict[str, Any]:
    return kube_schema.definitions(kube_schema.VERSIONS[0])["$defs"]


@functools.cache
def _k8s_names() -> dict[int, str]:
    """Kubernetes definitions by object identity, to name the type an error occurred in."""
    short = {"io.k8s.api.core.v1.": "corev1.", "io.k8s.apimachinery.pkg.apis.meta.v1.": "metav1."}
    names = {}
    for name, schema in _k8s_definitions().items():
        for prefix, alias in short.items():
            name = name.replace(prefix, alias)
        names[id(schema)] = name
    return names


def _k8s(value: Any, go_type: str, path: str) -> Any:
    if not isinstance(value, dict):
        raise _wrong(path, go_type, value)
    error = best_match(_k8s_validator(K8S_TYPES[go_type]).iter_errors(value))
    if error is not None:
        raise _ShapeError(_k8s_message(error, go_type, path))
    return value


def _k8s_message(error: jsonschema.ValidationError, go_type: str, path: str) -> str:
    where = path
    for part in error.absolute_path:
        where = _join(where, part)
    owner = _k8s_names().get(id(error.schema), go_type)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:
            return f"{_join(where, extra[0])} is not a field of {owner}"
    if error.validator == "type":
        wanted = [error.validator_value] if isinstance(error.validator_value, str) else error.validator_value
        words = " or ".join(JSON_TYPE_WORDS.get(t, t) for t in wanted if t != "null")
        return f"{where}: expected {words} (in {go_type}), got {_kind_of(error.instance)}"
    parent = list(error.absolute_path)[-2:-1]
    if parent in (["requests"], ["limits"]):  # a pattern or oneOf of the quantity schema
        return f"{where}: {error.instance!r} is not a Kubernetes quantity (e.g. 500m, 2Gi)"
    message = " ".join(error.message.split())
    return f"{where}: {message[:200]} (in {go_type})"


def check_resource(
    resource: Any, kind: str, seen: set[tuple[str, str]] | None = None
) -> tuple[str, dict[str, Any]]:
    """(name, the resource as the operator decoded it) or a one-line ValuesError naming the field.

    Keys come out as GO_TYPES spells them and nulls are dropped (Go leaves such fields unset).
    `seen` collects the (struct, JSON key) pairs present, for the fixture coverage test.
    """
    if not isinstance(resource, dict):
        raise ValuesError(f"{kind}: not a YAML mapping")
    metadata = resource.get("metadata")
    given = metadata.get("name") if isinstance(metadata, dict) else None
    name = given if isinstance(given, str) and given else "(unnamed)"
    if resource.get("apiVersion") != API_VERSION or resource.get("kind") != kind:
        found = f"{resource.get('apiVersion')}/{resource.get('kind')}"
        raise ValuesError(f"{kind} {name}: expected apiVersion {API_VERSION}, kind {kind} (found {found})")
    try:
        checked = _struct(resource, kind, "", seen)
    except _ShapeError as err:
        raise ValuesError(f"{kind} {name}: {err}") from None
    if name == "(unnamed)":
        raise ValuesError(f"{kind} {name}: metadata.name is required")
    return name, checked


def used_fields(resource: Any, kind: str) -> set[tuple[str, str]]:
    """The (Go struct, JSON key) pairs a resource sets."""
    seen: set[tuple[str, str]] = set()
    check_resource(resource, kind, seen)
    return seen
