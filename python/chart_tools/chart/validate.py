"""Validate rendered objects as the API server would, plus the policies every pod must meet.

Schemas: Kubernetes' strict OpenAPI schemas with the API server's own rules added
(kube_schema.py: name and label formats, quantities, operators), one validator built per
(Kubernetes version, apiVersion, kind) and cached. A kind with no schema in a version is an error
(that is how a removed or unknown API shows up). Custom resources of the Prometheus Operator are
checked against their CRD schemas, Gateway API HTTPRoutes against our own (gateway_api.py).
What a schema cannot say (names per kind, requests within limits, mounts naming volumes) is
checked by the `api-rules` functions below.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
from referencing import Registry, Resource

from chart_tools.chart import gateway_api, kube_schema
from chart_tools.chart.formats import DNS1035_LABEL, DNS_LABEL, anchored, go_patterns, go_regex, quantity
from chart_tools.chart.render import Manifest

KUBE_VERSIONS = kube_schema.VERSIONS
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
LONG_RUNNING_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
# Pod Security Standards "restricted": the only volume types allowed.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


@dataclass(frozen=True)
class Finding:
    """One problem with one object."""

    obj: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.obj}: [{self.check}] {self.message}"


def object_id(obj: Manifest) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


# ---------------------------------------------------------------- schemas


_Validator = go_patterns(jsonschema.Draft202012Validator)  # patterns as the API server reads them


@functools.cache
def _registry(version: str) -> Registry:
    return Resource.from_contents(kube_schema.definitions(version)) @ Registry()


@functools.cache
def schema_validator(version: str, api_version: str, kind: str) -> Any:
    """Cached validator for one kind in one Kubernetes version; None when the API does not exist there."""
    schema = kube_schema.kind_schema(version, api_version, kind)
    if schema is None:
        return None
    return _Validator(schema, registry=Resource.from_contents(schema) @ _registry(version))


def _strict(node: Any) -> Any:
    """A JSON schema with `additionalProperties: false` on every object that lists properties."""
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


# Metadata keys of the KEDA scalers the chart uses (KEDA's scaler docs): KEDA ignores unknown
# ones, so a misspelt key (`username` for PostgreSQL) would silently lose its setting.
KEDA_SCALER_METADATA = {
    "postgresql": ["host", "port", "userName", "dbName", "sslmode", "query", "targetQueryValue",
                   "activationTargetQueryValue", "connectionFromEnv", "passwordFromEnv"],
    "mysql": ["host", "port", "username", "dbName", "query", "queryValue", "activationQueryValue",
              "connectionStringFromEnv", "passwordFromEnv"],
}  # fmt: skip


def _keda_triggers(schema: dict[str, Any]) -> dict[str, Any]:
    """A ScaledObject schema whose triggers are the chart's scalers, with their metadata keys and
    string values (KEDA's `map[string]string`)."""
    trigger = schema["$defs"]["TriggerModel"]
    trigger["properties"]["type"] = {"enum": list(KEDA_SCALER_METADATA)}
    trigger["properties"]["metadata"] = {"type": "object", "additionalProperties": {"type": "string"}}
    trigger["allOf"] = [
        {
            "if": {"properties": {"type": {"const": scaler}}},
            "then": {"properties": {"metadata": {"propertyNames": {"enum": keys}}}},
        }
        for scaler, keys in KEDA_SCALER_METADATA.items()
    ]
    return schema


@functools.cache
def crd_validator(api_version: str, kind: str) -> Any:
    """Strict validator of a custom resource: a Prometheus Operator or KEDA one (from its cloudcoil
    model, which alone would accept unknown fields) or a Gateway API HTTPRoute (gateway_api.py);
    None for other kinds."""
    if (api_version, kind) == ("gateway.networking.k8s.io/v1", "HTTPRoute"):
        return _Validator(gateway_api.HTTPROUTE)
    if api_version == "monitoring.coreos.com/v1":
        from cloudcoil.models.prometheus_operator import v1 as models
    elif api_version == "keda.sh/v1alpha1":
        from cloudcoil.models.keda import v1alpha1 as models
    else:
        return None
    model = getattr(models, kind, None)
    if model is None:
        return None
    schema = _strict(model.model_json_schema(by_alias=True))
    return _Validator(_keda_triggers(schema) if kind == "ScaledObject" else schema)


def _schema_findings(obj: Manifest, validator: Any, label: str) -> Iterator[Finding]:
    for error in validator.iter_errors(obj):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        yield Finding(object_id(obj), "schema", f"{label}: {path}: {error.message}")


def check_schema(obj: Manifest, versions: tuple[str, ...] = KUBE_VERSIONS) -> Iterator[Finding]:
    crd = crd_validator(obj.get("apiVersion", ""), obj.get("kind", ""))
    if crd is not None:
        yield from _schema_findings(obj, crd, f"{obj['kind']} CRD")
        yield from _schema_findings(obj, _metadata_validator(), "metadata")
        return
    for version in versions:
        validator = schema_validator(version, obj.get("apiVersion", ""), obj.get("kind", ""))
        if validator is None:
            yield Finding(
                object_id(obj),
                "schema",
                f"{obj.get('apiVersion')} {obj.get('kind')} does not exist in {version}",
            )
            continue
        yield from _schema_findings(obj, validator, f"Kubernetes {version}")


@functools.cache
def _metadata_validator() -> Any:
    """ObjectMeta's rules (names, labels, annotations) for custom resources, whose CRD models
    leave metadata open."""
    version = KUBE_VERSIONS[0]
    ref = {
        "$ref": "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    return _Validator({"properties": {"metadata": ref}}, registry=_registry(version))


# ---------------------------------------------------------------- API-server rules beyond the schemas

# metadata.name formats that differ from the DNS subdomain every object needs.
NAME_RULES: dict[str, tuple[str, int, str]] = {
    "Service": (DNS1035_LABEL, 63, "a DNS-1035 label (a letter first)"),
    "Namespace": (DNS_LABEL, 63, "a DNS label"),
    # The controller-revision-hash label of each pod is "<name>-<10 characters>" (63 at most).
    "StatefulSet": (DNS_LABEL, 52, "a DNS label of at most 52 characters (longer names get no pods)"),
    # Pods carry the Job's name as the value of the job-name label (63 at most).
    "Job": (DNS_LABEL, 63, "a DNS label (it becomes the pods' job-name label)"),
    "CronJob": (DNS_LABEL, 52, "a DNS label of at most 52 characters"),
}
ANNOTATIONS_LIMIT = 256 * 1024  # bytes of keys and values together (TotalAnnotationSizeLimitB)


def check_metadata(obj: Manifest) -> Iterator[str]:
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    if obj.get("kind") in NAME_RULES:
        pattern, limit, what = NAME_RULES[obj["kind"]]
        if len(name) > limit or not go_regex(anchored(pattern)).search(name):
            yield f"metadata.name {name!r} must be {what}"
    annotations = meta.get("annotations") or {}
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        yield f"metadata.annotations hold {size} bytes, more than the {ANNOTATIONS_LIMIT} allowed"


def check_requests(pod: dict[str, Any]) -> Iterator[str]:
    """Requests within limits; extended resources not overcommitted; claims the pod declares."""
    claims = {c.get("name") for c in pod.get("resourceClaims") or []}
    for _, c in containers(pod):
        res = c.get("resources") or {}
        limits = res.get("limits") or {}
        for name, request in (res.get("requests") or {}).items():
            exact = "/" in name
            if name not in limits:
                if exact:
                    yield f"container {c.get('name')}: requests.{name} needs an equal limit"
                continue
            req, lim = quantity(request), quantity(limits[name])
            if req is None or lim is None:
                continue  # the schema reports the quantity itself
            if req > lim:
                above = f"requests.{name} {request} is above limits.{name} {limits[name]}"
                yield f"container {c.get('name')}: {above}"
            elif exact and req != lim:
                yield f"container {c.get('name')}: requests.{name} must equal limits.{name}"
        for claim in res.get("claims") or []:
            if claim.get("name") not in claims:
                missing = f"resources.claims {claim.get('name')} is not a pod resourceClaim"
                yield f"container {c.get('name')}: {missing}"


def check_references(obj: Manifest, pod: dict[str, Any]) -> Iterator[str]:
    """Mounts name volumes of the pod (or a StatefulSet's claim templates); subPaths stay inside
    their volume."""
    templates = (obj.get("spec") or {}).get("volumeClaimTemplates") or []
    volumes = {v.get("name") for v in pod.get("volumes") or []} | {
        (t.get("metadata") or {}).get("name") for t in templates
    }
    for _, c in containers(pod):
        for mount in c.get("volumeMounts") or []:
            if mount.get("name") not in volumes:
                yield f"container {c.get('name')}: volumeMount {mount.get('name')} names no volume"
            sub = str(mount.get("subPath", ""))
            if sub.startswith("/") or ".." in sub.split("/"):
                yield f"container {c.get('name')}: subPath {sub!r} must be relative, without '..'"


def check_spread(pod: dict[str, Any]) -> Iterator[str]:
    """Each (topologyKey, whenUnsatisfiable) once; matchLabelKeys apart from the selector's keys."""
    constraints = pod.get("topologySpreadConstraints") or []
    pairs = [(c.get("topologyKey"), c.get("whenUnsatisfiable")) for c in constraints]
    for key, when in _duplicates(pairs):
        yield f"topologySpreadConstraints: {key}/{when} appears twice"
    for c in constraints:
        selector = c.get("labelSelector") or {}
        keys = set(selector.get("matchLabels") or {}) | {
            e.get("key") for e in selector.get("matchExpressions") or []
        }
        for key in set(c.get("matchLabelKeys") or []) & keys:
            yield f"topologySpreadConstraints: matchLabelKeys {key} is already in labelSelector"


# ---------------------------------------------------------------- pod policies


def pod_spec(obj: Manifest) -> dict[str, Any] | None:
    """The pod spec inside a workload object, or None for other kinds."""
    kind = obj.get("kind")
    if kind not in WORKLOAD_KINDS:
        return None
    spec = obj.get("spec", {})
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec", {})


def containers(pod: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, container) for init, regular and ephemeral containers."""
    for role in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod.get(role) or []:
            yield role, container


def _effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    value = (container.get("securityContext") or {}).get(key)
    return value if value is not None else (pod.get("securityContext") or {}).get(key)


def check_pod_security(pod: dict[str, Any]) -> Iterator[str]:
    """Violations of Pod Security Standards "restricted" (which includes "baseline")."""
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            yield f"{key} must not be true"
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            yield f"volume {volume.get('name')}: type {sorted(kinds)} is not allowed"
    sysctls = (pod.get("securityContext") or {}).get("sysctls")
    if sysctls:
        yield "sysctls are not allowed by this chart's policy"
    for _, c in containers(pod):
        name = c.get("name")
        ctx = c.get("securityContext") or {}
        if ctx.get("privileged"):
            yield f"container {name}: privileged"
        if ctx.get("allowPrivilegeEscalation") is not False:
            yield f"container {name}: allowPrivilegeEscalation must be false"
        caps = ctx.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"container {name}: capabilities must drop ALL"
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            yield f"container {name}: may only add NET_BIND_SERVICE"
        if _effective(pod, c, "runAsNonRoot") is not True:
            yield f"container {name}: runAsNonRoot must be true"
        if _effective(pod, c, "runAsUser") == 0:
            yield f"container {name}: runAsUser must not be 0"
        seccomp = (_effective(pod, c, "seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name}: seccompProfile.type must be RuntimeDefault or Localhost"
        if ctx.get("procMount", "Default") != "Default":
            yield f"container {name}: procMount must be Default"
        if any(p.get("hostPort") for p in c.get("ports") or []):
            yield f"container {name}: hostPort is not allowed"


def check_resources(pod: dict[str, Any]) -> Iterator[str]:
    for _, c in containers(pod):
        res = c.get("resources") or {}
        for kind, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            if key not in (res.get(kind) or {}):
                yield f"container {c.get('name')}: missing resources.{kind}.{key}"


def check_probes(obj: Manifest, pod: dict[str, Any]) -> Iterator[str]:
    if obj.get("kind") not in LONG_RUNNING_KINDS:
        return
    for c in pod.get("containers") or []:
        if "livenessProbe" not in c:
            yield f"container {c.get('name')}: long-running container without livenessProbe"
        if c.get("ports") and "readinessProbe" not in c:
            yield f"container {c.get('name')}: serves ports without readinessProbe"


def check_read_only_root(pod: dict[str, Any]) -> Iterator[str]:
    for _, c in containers(pod):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            yield f"container {c.get('name')}: readOnlyRootFilesystem must be true"


def _duplicates(values: list[Any]) -> list[Any]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def check_duplicates(pod: dict[str, Any]) -> Iterator[str]:
    """Duplicates that Helm 4's server-side apply rejects (or that silently shadow each other)."""
    all_containers = [c for _, c in containers(pod)]
    for dup in _duplicates([c.get("name") for c in all_containers]):
        yield f"duplicate container name {dup}"
    for dup in _duplicates([v.get("name") for v in pod.get("volumes") or []]):
        yield f"duplicate volume name {dup}"
    for dup in _duplicates([s.get("name") for s in pod.get("imagePullSecrets") or []]):
        yield f"duplicate imagePullSecret {dup}"
    for c in all_containers:
        name = c.get("name")
        for dup in _duplicates([e.get("name") for e in c.get("env") or []]):
            yield f"container {name}: duplicate env {dup}"
        for dup in _duplicates([m.get("mountPath") for m in c.get("volumeMounts") or []]):
            yield f"container {name}: duplicate mountPath {dup}"
    ports = [p for c in pod.get("containers") or [] for p in c.get("ports") or []]
    for dup in _duplicates([(p.get("containerPort"), p.get("protocol", "TCP")) for p in ports]):
        yield f"duplicate containerPort {dup[0]}/{dup[1]}"
    for dup in _duplicates([p["name"] for p in ports if "name" in p]):
        yield f"duplicate port name {dup}"


POD_CHECKS = {
    "pod-security": check_pod_security,
    "resources": check_resources,
    "read-only-root": check_read_only_root,
    "duplicates": check_duplicates,
}


def check_policies(obj: Manifest) -> Iterator[Finding]:
    for message in check_metadata(obj):
        yield Finding(object_id(obj), "api-rules", message)
    pod = pod_spec(obj)
    if pod is None:
        if obj.get("kind") == "Service":
            for dup in _duplicates([p.get("port") for p in obj.get("spec", {}).get("ports") or []]):
                yield Finding(object_id(obj), "duplicates", f"duplicate service port {dup}")
        return
    for check, func in POD_CHECKS.items():
        for message in func(pod):
            yield Finding(object_id(obj), check, message)
    for message in check_probes(obj, pod):
        yield Finding(object_id(obj), "probes", message)
    for message in [*check_requests(pod), *check_references(obj, pod), *check_spread(pod)]:
        yield Finding(object_id(obj), "api-rules", message)


def validate(objects: list[Manifest], versions: tuple[str, ...] = KUBE_VERSIONS) -> list[Finding]:
    """Every finding for every object: schemas in each version, then the pod policies."""
    findings: list[Finding] = []
    for obj in objects:
        findings += check_schema(obj, versions)
        findings += check_policies(obj)
    return findings
