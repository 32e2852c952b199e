"""Kubernetes' strict OpenAPI definitions, tightened with the rules the API server applies.

`kubernetes-validate` ships the API's JSON schemas, which say which fields exist and their
types, but not what the API server checks beyond that: a toleration operator outside
Exists/Equal, a label key with a space, `cpu: plenty`. PATCHES adds those rules (from the API
server's validation code) to the definitions, so one copy serves both places that need them:
values.schema.json (values passed through to pod specs: resources, affinity, tolerations,
spread, env) and `chart-tools validate` (every rendered object).
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import importlib_resources

from chart_tools.chart.formats import (
    ANNOTATION_KEY,
    CIDR,
    CONFIG_KEY,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    ENV_NAME,
    LABEL_VALUE,
    LARGEST_NUMBER,
    PORT_NAME,
    QUALIFIED_NAME,
    QUANTITY,
    anchored,
)

VERSIONS = ("1.30", "1.35")  # the oldest and newest Kubernetes the chart supports
V1 = "io.k8s.api.core.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _name(pattern: str, max_length: int) -> dict[str, Any]:
    return {"type": "string", "pattern": anchored(pattern), "maxLength": max_length}


def _when(field: str, values: list[str], then: dict[str, Any]) -> dict[str, Any]:
    """JSON-schema `if field is one of values then ...` (a missing field is not one of them)."""
    return {"if": {"required": [field], "properties": {field: {"enum": values}}}, "then": then}


def _when_present(field: str, then: dict[str, Any]) -> dict[str, Any]:
    """JSON-schema `if field is set then ...`."""
    return {"if": {"required": [field]}, "then": then}


def _cases(field: str, cases: dict[tuple[str, ...], dict[str, Any]]) -> dict[str, Any]:
    """A required enum field whose value decides what else holds: one anyOf branch per group of
    values (cheaper for generators than if/then, and as exact)."""
    branches = [{"required": [field], "properties": {field: {"enum": list(values)}}} for values in cases]
    for branch, then in zip(branches, cases.values(), strict=True):
        branch["required"] += then.get("required", [])
        branch["properties"].update(then.get("properties", {}))
    return {"anyOf": branches}


LABEL_KEY = _name(QUALIFIED_NAME, 317)
# Maps with checked keys use patternProperties, so that helm 4 names the map in its error.
LABEL_MAP = {
    "patternProperties": {anchored(QUALIFIED_NAME): _name(LABEL_VALUE, 63)},
    "additionalProperties": False,
}
STRINGS = {"items": {"type": "string"}}
NO_VALUES = {"properties": {"values": {"maxItems": 0}}}
SOME_VALUES = {"required": ["values"], "properties": {"values": {"minItems": 1}}}
ONE_INTEGER = {"required": ["values"], "properties": {"values": {"minItems": 1, "maxItems": 1,
               "items": {"pattern": "^-?[0-9]{1,18}$"}}}}  # fmt: skip
# Container resources: the standard ones, or extended resources (a domain-prefixed name outside
# kubernetes.io, whole numbers only). Huge pages are left out: no Airflow component uses them.
RESOURCE_MAP = {
    "patternProperties": {
        "^(cpu|memory|ephemeral-storage)$": {"$ref": f"#/$defs/{QUANTITY_REF}"},
        rf"^({DNS_SUBDOMAIN})/([A-Za-z0-9][-A-Za-z0-9_.]{{0,61}})?[A-Za-z0-9]$": {
            "oneOf": [
                {"type": "string", "pattern": "^[0-9]{1,15}$"},
                {"type": "integer", "minimum": 0, "maximum": LARGEST_NUMBER},
            ]
        },
    },
    "additionalProperties": False,
    "propertyNames": {"not": {"pattern": r"kubernetes\.io/"}, "maxLength": 253},
}
# Fields Kubernetes 1.30 drops silently (their feature gates are off): refused, not ignored.
UNSUPPORTED = {"maxItems": 0}
SELECTOR_REQUIREMENT = {
    "properties": {"key": LABEL_KEY, "values": {"items": _name(LABEL_VALUE, 63)}},
    **_cases("operator", {("In", "NotIn"): SOME_VALUES, ("Exists", "DoesNotExist"): NO_VALUES}),
}

# Keywords added to (or replacing those of) a definition; "properties" merge per property.
PATCHES: dict[str, dict[str, Any]] = {
    QUANTITY_REF: {
        "oneOf": [
            {"type": "string", "pattern": anchored(QUANTITY), "maxLength": 64},
            {"type": "number", "minimum": 0, "maximum": LARGEST_NUMBER},
        ]
    },
    META + "ObjectMeta": {
        "properties": {
            "name": _name(DNS_SUBDOMAIN, 253),
            "namespace": _name(DNS_LABEL, 63),
            "labels": LABEL_MAP,
            "annotations": {
                "patternProperties": {anchored(ANNOTATION_KEY): {"type": "string"}},
                "additionalProperties": False,
            },
        }
    },
    META + "LabelSelector": {"properties": {"matchLabels": LABEL_MAP}},
    META + "LabelSelectorRequirement": SELECTOR_REQUIREMENT,
    V1 + "NodeSelector": {"properties": {"nodeSelectorTerms": {"minItems": 1}}},
    V1 + "NodeSelectorRequirement": {
        "properties": {"key": LABEL_KEY, "values": STRINGS},
        **_cases(
            "operator",
            {("In", "NotIn"): SOME_VALUES, ("Exists", "DoesNotExist"): NO_VALUES, ("Gt", "Lt"): ONE_INTEGER},
        ),
    },
    V1 + "NodeSelectorTerm": {
        # matchFields may only select by node name, with one value.
        "properties": {
            "matchFields": {
                "items": {
                    "allOf": [
                        {"$ref": f"#/$defs/{V1}NodeSelectorRequirement"},
                        {
                            "properties": {
                                "key": {"const": "metadata.name"},
                                "operator": {"enum": ["In", "NotIn"]},
                                "values": {"minItems": 1, "maxItems": 1, "items": _name(DNS_SUBDOMAIN, 253)},
                            }
                        },
                    ]
                }
            }
        }
    },
    V1 + "PreferredSchedulingTerm": {"properties": {"weight": {"minimum": 1, "maximum": 100}}},
    V1 + "WeightedPodAffinityTerm": {"properties": {"weight": {"minimum": 1, "maximum": 100}}},
    V1 + "PodAffinityTerm": {
        "properties": {
            "topologyKey": LABEL_KEY,
            "namespaces": {"items": _name(DNS_LABEL, 63)},
            "matchLabelKeys": UNSUPPORTED,
            "mismatchLabelKeys": UNSUPPORTED,
        }
    },
    V1 + "Toleration": {
        "properties": {
            "key": {"pattern": f"^$|{anchored(QUALIFIED_NAME)}", "maxLength": 317},
            "operator": {"enum": ["Exists", "Equal", ""]},
            "value": {"pattern": f"^$|{anchored(LABEL_VALUE)}", "maxLength": 63},
            "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute", ""]},
            "tolerationSeconds": {"minimum": -(2**63), "maximum": 2**63 - 1},
        },
        "allOf": [
            # An empty key matches every taint, which only makes sense with Exists.
            {
                "if": {"not": {"required": ["key"], "properties": {"key": {"minLength": 1}}}},
                "then": {"required": ["operator"], "properties": {"operator": {"const": "Exists"}}},
            },
            _when("operator", ["Exists"], {"properties": {"value": {"maxLength": 0}}}),
            {
                "if": {
                    "required": ["tolerationSeconds"],
                    "properties": {"tolerationSeconds": {"type": "integer"}},
                },
                "then": {"required": ["effect"], "properties": {"effect": {"const": "NoExecute"}}},
            },
        ],
    },
    V1 + "TopologySpreadConstraint": {
        "properties": {
            "maxSkew": {"minimum": 1, "maximum": 2**31 - 1},
            "topologyKey": LABEL_KEY,
            "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
            "minDomains": {"minimum": 1, "maximum": 2**31 - 1},
            "nodeAffinityPolicy": {"enum": ["Honor", "Ignore"]},
            "nodeTaintsPolicy": {"enum": ["Honor", "Ignore"]},
            "matchLabelKeys": {"items": LABEL_KEY},
        },
        # matchLabelKeys only with a labelSelector (whose keys it may not repeat: a chart rule).
        "allOf": [
            {
                "if": {"required": ["minDomains"], "properties": {"minDomains": {"type": "integer"}}},
                "then": {"properties": {"whenUnsatisfiable": {"const": "DoNotSchedule"}}},
            },
            {
                "if": {"required": ["matchLabelKeys"], "properties": {"matchLabelKeys": {"minItems": 1}}},
                "then": {"required": ["labelSelector"], "properties": {"labelSelector": {"type": "object"}}},
            },
        ],
    },
    V1 + "EnvVar": {
        "properties": {"name": _name(ENV_NAME, 1024)},
        # valueFrom replaces value: both at once is an error.
        "allOf": [
            {
                "if": {"required": ["valueFrom"], "properties": {"valueFrom": {"type": "object"}}},
                "then": {"properties": {"value": {"maxLength": 0}}},
            }
        ],
    },
    V1 + "EnvVarSource": {"minProperties": 1, "maxProperties": 1},
    V1 + "SecretKeySelector": {
        "required": ["name", "key"],
        "properties": {"name": _name(DNS_SUBDOMAIN, 253), "key": _name(CONFIG_KEY, 253)},
    },
    V1 + "ConfigMapKeySelector": {
        "required": ["name", "key"],
        "properties": {"name": _name(DNS_SUBDOMAIN, 253), "key": _name(CONFIG_KEY, 253)},
    },
    V1 + "ObjectFieldSelector": {
        "properties": {
            "apiVersion": {"enum": ["v1"]},
            "fieldPath": {
                "pattern": (
                    r"^(metadata\.(name|namespace|uid)|spec\.(nodeName|serviceAccountName)|"
                    r"status\.(hostIP|hostIPs|podIP|podIPs)|"
                    rf"metadata\.(labels|annotations)\['{QUALIFIED_NAME}'\])$"
                )
            },
        }
    },
    V1 + "ResourceFieldSelector": {
        "properties": {
            "resource": {
                "enum": [
                    f"{kind}.{name}"
                    for kind in ("limits", "requests")
                    for name in ("cpu", "memory", "ephemeral-storage")
                ]
            },
        }
    },
    V1 + "ResourceRequirements": {"properties": {"limits": RESOURCE_MAP, "requests": RESOURCE_MAP}},
    V1 + "Container": {"properties": {"name": _name(DNS_LABEL, 63)}},
    V1 + "ContainerPort": {
        "properties": {
            "name": _name(PORT_NAME, 15),
            "containerPort": {"minimum": 1, "maximum": 65535},
            "hostPort": {"minimum": 0, "maximum": 65535},
            "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
        }
    },
    V1 + "Volume": {"properties": {"name": _name(DNS_LABEL, 63)}},
    V1 + "VolumeMount": {"properties": {"name": _name(DNS_LABEL, 63), "mountPath": {"minLength": 1}}},
    V1 + "LocalObjectReference": {"properties": {"name": _name(DNS_SUBDOMAIN, 253)}},
    V1 + "PodSpec": {
        "properties": {
            "priorityClassName": _name(DNS_SUBDOMAIN, 253),
            "serviceAccountName": _name(DNS_SUBDOMAIN, 253),
            "terminationGracePeriodSeconds": {"minimum": 0},
        }
    },
    "io.k8s.api.networking.v1.IPBlock": {
        "properties": {"cidr": _name(CIDR, 49), "except": {"items": _name(CIDR, 49)}}
    },
    # A peer is an address block, or pods and/or namespaces by label: never both, never nothing.
    "io.k8s.api.networking.v1.NetworkPolicyPeer": {
        "minProperties": 1,
        "allOf": [_when_present("ipBlock", {"maxProperties": 1})],
    },
    V1 + "ServicePort": {
        "properties": {
            "name": _name(DNS_LABEL, 63),
            "port": {"minimum": 1, "maximum": 65535},
            "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
        }
    },
}


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if key == "properties":
            for prop, keywords in value.items():
                target.setdefault("properties", {}).setdefault(prop, {}).update(copy.deepcopy(keywords))
        else:
            target[key] = copy.deepcopy(value)


def _schema_dir(version: str) -> Any:
    return (
        importlib_resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / f"v{version}.0-local-strict"
    )


@functools.cache
def definitions(version: str) -> dict[str, Any]:
    """The `$defs` of one Kubernetes version with PATCHES applied (shared: do not mutate)."""
    document = json.loads((_schema_dir(version) / "_definitions.json").read_text())
    for name, patch in PATCHES.items():
        _merge(document["$defs"][name], patch)
    return document


def kind_schema(version: str, api_version: str, kind: str) -> dict[str, Any] | None:
    """The top-level schema of one kind (refers into `definitions`), or None when the API does
    not exist in that version."""
    group_version = api_version.split("/")
    group = group_version[0].split(".")[0] + "-" if len(group_version) == 2 else ""
    path = _schema_dir(version) / f"{kind.lower()}-{group}{group_version[-1]}.json"
    return json.loads(path.read_text()) if path.is_file() else None
