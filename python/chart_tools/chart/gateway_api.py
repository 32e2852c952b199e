"""A strict JSON schema for the Gateway API HTTPRoutes the chart emits.

No PyPI package models Gateway API, and a CRD file copied from another repository would be
someone else's text: this schema is written from the Gateway API v1 specification's field
definitions (gateway.networking.k8s.io/v1 HTTPRoute), for the fields the chart sets, with the
specification's limits (list sizes, name formats, port range, a path prefix starting with "/").
Every object is closed (`additionalProperties: false`), so a misspelt field fails as the API
server's structural schema would prune it silently.
"""

from __future__ import annotations

from typing import Any

from chart_tools.chart.formats import DNS_LABEL, DNS_SUBDOMAIN, HOSTNAME, anchored


def _string(pattern: str | None, max_length: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_length}
    if pattern:
        schema["pattern"] = anchored(pattern)
    return schema


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


OBJECT_NAME = _string(None, 253)
NAMESPACE = _string(DNS_LABEL, 63)
SECTION_NAME = _string(DNS_SUBDOMAIN, 253)
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
KIND = _string(r"[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?", 63)

PARENT_REF = _closed(
    {
        "group": {"type": "string", "maxLength": 253, "pattern": f"^$|{anchored(DNS_SUBDOMAIN)}"},
        "kind": KIND,
        "namespace": NAMESPACE,
        "name": OBJECT_NAME,
        "sectionName": SECTION_NAME,
        "port": PORT,
    },
    ["name"],
)
PATH_MATCH = {
    "oneOf": [
        _closed(
            {"type": {"enum": ["PathPrefix", "Exact"]}, "value": _string("/.*", 1024)}, ["type", "value"]
        ),
        _closed({"type": {"const": "RegularExpression"}, "value": _string(None, 1024)}, ["type", "value"]),
    ]
}
BACKEND_REF = _closed(
    {
        "group": {"type": "string", "maxLength": 253},
        "kind": KIND,
        "name": OBJECT_NAME,
        "namespace": NAMESPACE,
        "port": PORT,  # required for a Service backend, the only kind the chart routes to
        "weight": {"type": "integer", "minimum": 0, "maximum": 1000000},
    },
    ["name", "port"],
)
RULE = _closed(
    {
        "name": SECTION_NAME,
        "matches": {"type": "array", "maxItems": 64, "items": _closed({"path": PATH_MATCH})},
        "backendRefs": {"type": "array", "maxItems": 16, "items": BACKEND_REF},
    }
)
HTTPROUTE: dict[str, Any] = _closed(
    {
        "apiVersion": {"const": "gateway.networking.k8s.io/v1"},
        "kind": {"const": "HTTPRoute"},
        "metadata": {"type": "object"},  # ObjectMeta: checked by the Kubernetes metadata rules
        "spec": _closed(
            {
                "parentRefs": {"type": "array", "maxItems": 32, "items": PARENT_REF},
                "hostnames": {"type": "array", "maxItems": 16, "items": _string(HOSTNAME, 253)},
                "rules": {"type": "array", "maxItems": 16, "items": RULE},
            }
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)
