"""Value formats, written once: Kubernetes' rules for names, labels and quantities, and the
chart's own for hosts, URLs, durations and airflow.cfg entries.

values.schema.json refers to them as `#/definitions/<name>` (docs.py copies the ones it uses),
the Kubernetes definitions the schema embeds are tightened with them (kube_schema.py), and
`chart-tools validate` checks rendered objects with them. Every pattern is written for both
regex engines that read it, Go's RE2 (helm) and Python's `re` (our tools): explicit character
classes, no look-around, no back-references; `go_regex` gives Python Go's meaning of `$`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import jsonschema

# ------------------------------------------------------------ Kubernetes (apimachinery validation)

DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"  # IsDNS1123Label, 63 at most
DNS_SUBDOMAIN = rf"{DNS_LABEL}(\.{DNS_LABEL})*"  # IsDNS1123Subdomain, 253 at most
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"  # IsDNS1035Label (Service names), 63 at most
_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]"  # qualified name without prefix
# The optional prefix of a qualified name is a DNS subdomain of 253 characters at most; written here
# as up to four labels of 62 (251), since a regex cannot count the whole.
_PREFIX_LABEL = r"[a-z0-9]([-a-z0-9]{0,60}[a-z0-9])?"
_PREFIX = rf"{_PREFIX_LABEL}(\.{_PREFIX_LABEL}){{0,3}}"
QUALIFIED_NAME = rf"({_PREFIX}/)?{_NAME_PART}"  # IsQualifiedName: label keys
# Annotation keys: qualified names checked lower-cased (ValidateAnnotations), so the prefix may have capitals.
ANNOTATION_KEY = rf"({_PREFIX.replace('a-z0-9', 'A-Za-z0-9')}/)?{_NAME_PART}"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?"  # IsValidLabelValue
# resource.Quantity without a sign: requests, limits and sizes are never negative.
QUANTITY = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
# IsEnvVarName before the 1.32 relaxation: not "." or "..", not starting with "..".
ENV_NAME = r"(\.[-_a-zA-Z0-9]|[-_a-zA-Z])[-._a-zA-Z0-9]*"
CONFIG_KEY = r"\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*"  # IsConfigMapKey: keys of Secrets and ConfigMaps, 253 at most
PORT_NAME = r"([0-9]+-)*[0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*"  # IsValidPortName (IANA_SVC_NAME), 15 at most
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# IsValidCIDR: an IPv4 or IPv6 network with its prefix length (IPv6 groups checked loosely).
_IPV4_CIDR = rf"({_OCTET}\.){{3}}{_OCTET}/(3[0-2]|[12]?[0-9])"
_IPV6_CIDR = r"[0-9a-fA-F:]*:[0-9a-fA-F:.]*/(12[0-8]|1[01][0-9]|[1-9]?[0-9])"
CIDR = f"{_IPV4_CIDR}|{_IPV6_CIDR}"

# ------------------------------------------------------------ images (the distribution reference grammar)

_PATH_COMPONENT = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"([A-Za-z0-9]|[A-Za-z0-9][-A-Za-z0-9]*[A-Za-z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(\.{_DOMAIN_PART})*(:[0-9]+)?"
IMAGE_REPOSITORY = rf"({_DOMAIN}/)?{_PATH_COMPONENT}(/{_PATH_COMPONENT})*"
IMAGE_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
IMAGE_DIGEST = r"sha256:[a-f0-9]{64}"

# ------------------------------------------------------------ the chart's own

_HOST_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
HOST = rf"{_HOST_LABEL}(\.{_HOST_LABEL})*"  # a DNS name or an IPv4 address: no port, path or query
# A name clients resolve (Ingress host, Gateway API Hostname): lower-case DNS labels, an optional
# "*." wildcard first, and a last label that starts with a letter, so never an IP address.
HOSTNAME = rf"(\*\.)?({DNS_LABEL}\.)*{DNS1035_LABEL}"
_URL_PATH = r"(/[-A-Za-z0-9._~%!$&'()*+,;=:@/{}]*)?"
HTTP_URL = rf"https?://({HOST})(:[0-9]{{1,5}})?{_URL_PATH}"  # no user:password@, no query
# Printable text: no control character (C0, DEL, C1) that could end a line, argument or field, or
# that YAML refuses raw; no non-character.
_TEXT = r"[^\x00-\x1f\x7f-\x9f" "\ufffe\uffff]"  # the non-characters as themselves (RE2 has no \u)
# git-sync accepts URLs with a scheme and scp-like SSH addresses; nothing may start with "-".
GIT_URL = (
    r"(https?|ssh|git|file)://[^\x00-\x20\x7f-\x9f]+|[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[^\x00-\x20\x7f-\x9f]+"
)
GIT_REF = r"[A-Za-z0-9_][-A-Za-z0-9_./]*"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"
USER_NAME = r"[A-Za-z0-9_][-A-Za-z0-9_.@]{0,63}"  # login names: no ":" (basic auth), no spaces
DISPLAY_NAME = rf"{_TEXT}{{1,64}}"  # one printable line
DB_IDENTIFIER = r"[A-Za-z_][-A-Za-z0-9_.]{0,62}"  # database and user names: no quote, "@", "/" or ":"
URL_QUERY = r"[A-Za-z0-9_.-]+=[-A-Za-z0-9_.,:/%+~]*(&[A-Za-z0-9_.-]+=[-A-Za-z0-9_.,:/%+~]*)*"
QUEUE_NAME = r"[-A-Za-z0-9_.:]{1,200}"  # Celery queues are joined with commas
# A connection id or variable key that Airflow finds as the suffix of AIRFLOW_CONN_ / AIRFLOW_VAR_
# (it upper-cases the id to look it up).
AIRFLOW_ID = r"[A-Za-z_][A-Za-z0-9_]*"
POOL_NAME = r"[-A-Za-z0-9_.]+"
# A CronJob schedule: five fields (minute hour day month weekday) or a macro; no TZ= prefix, which
# Kubernetes refuses (it has a timeZone field).
CRON_SCHEDULE = (
    r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[-0-9A-Za-z*/,?]+( [-0-9A-Za-z*/,?]+){4}"
)
ABSOLUTE_PATH = r"(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+"  # no "..", no hidden or empty components
RELATIVE_PATH = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*"
GO_DURATION = r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+"  # git-sync --period
PROMETHEUS_DURATION = (
    r"0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?"
)
CFG_NAME = r"[a-z][a-z0-9_]{0,99}"  # airflow.cfg section and option names (lower case, as Airflow reads them)
ONE_LINE = rf"{_TEXT}*"  # one printable line
LINES = _TEXT.replace(r"\x00-\x1f", r"\x00-\x08\x0b-\x1f") + "*"  # printable lines (tabs too)
# An airflow.cfg value: one line; "%" only doubled, since Airflow's parser interpolates "%(...)s".
CFG_TEXT = rf"({_TEXT.replace('[^', '[^%')}|%%)*"
# A size of storage: a quantity above zero (a claim of 0 bytes is refused).
_ABOVE_ZERO = r"([0-9]*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)"
SIZE = rf"{_ABOVE_ZERO}(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
LARGEST_NUMBER = 10**15  # numbers below this render literally (never 1e+21) and exactly


def anchored(pattern: str) -> str:
    return f"^({pattern})$"


def optional(pattern: str) -> str:
    """The pattern, or the empty string (a value that is off until set)."""
    return f"^$|^({pattern})$"


def _string(title: str, pattern: str, max_length: int | None = None, empty: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": title, "type": "string"}
    schema["pattern"] = optional(pattern) if empty else anchored(pattern)
    if max_length:
        schema["maxLength"] = max_length
    return schema


# Definitions values.schema.json may refer to as "#/definitions/<key>" (title: the table's type column).
DEFINITIONS: dict[str, dict[str, Any]] = {
    "dnsLabel": _string("DNS label", DNS_LABEL, 63),
    "dnsSubdomain": _string("object name", DNS_SUBDOMAIN, 253),
    "optionalDnsLabel": _string("DNS label or empty", DNS_LABEL, 63, empty=True),
    "objectName": _string("object name or empty", DNS_SUBDOMAIN, 253, empty=True),
    "configKey": _string("Secret key", CONFIG_KEY, 253),
    "labelValue": _string("label value", LABEL_VALUE, 63),
    # Maps with checked keys use patternProperties, so that helm 4 names the map in its error.
    "labels": {
        "title": "labels",
        "type": "object",
        "patternProperties": {anchored(QUALIFIED_NAME): {"$ref": "#/definitions/labelValue"}},
        "additionalProperties": False,
    },
    "annotations": {
        "title": "annotations",
        "type": "object",
        "patternProperties": {anchored(ANNOTATION_KEY): {"type": "string"}},
        "additionalProperties": False,
    },
    "quantity": {
        "title": "quantity",
        "oneOf": [
            {"type": "string", "pattern": anchored(QUANTITY), "maxLength": 64},
            {"type": "number", "minimum": 0, "maximum": LARGEST_NUMBER},
        ],
    },
    "size": _string("size", SIZE, 64),
    # Container resources: Kubernetes' own schema (with the API server's rules), without `claims`,
    # which need pod-level resourceClaims this chart does not create.
    # The chart's policy on top: every container requests cpu and memory and limits memory.
    "resources": {
        "title": "ResourceRequirements",
        "allOf": [
            {"$ref": "#/definitions/io.k8s.api.core.v1.ResourceRequirements"},
            {
                "required": ["requests", "limits"],
                "properties": {
                    "requests": {"required": ["cpu", "memory"]},
                    "limits": {"required": ["memory"]},
                    "claims": {"maxItems": 0},
                },
            },
        ],
    },
    "imageRepository": _string("image repository", IMAGE_REPOSITORY, 255),
    "imageTag": _string("image tag", IMAGE_TAG),
    "imageDigest": _string("image digest or empty", IMAGE_DIGEST, empty=True),
    "cidr": _string("CIDR", CIDR, 49),
    "host": _string("host name or empty", HOST, 253, empty=True),
    "hostname": _string("DNS host name (a *. prefix allowed)", HOSTNAME, 253),
    "optionalHostname": _string("DNS host name or empty", HOSTNAME, 253, empty=True),
    "gatewayListener": {
        "title": "Gateway listener",
        "type": "object",
        "properties": {
            "name": {"$ref": "#/definitions/dnsSubdomain", "description": "The Gateway's name."},
            "namespace": {
                "$ref": "#/definitions/dnsLabel",
                "description": "The Gateway's namespace (default: the release's).",
            },
            "sectionName": {
                **_string("listener name", DNS_SUBDOMAIN, 253),
                "description": "The name of the Gateway's HTTPS listener, where TLS ends.",
            },
        },
        "required": ["name", "sectionName"],
        "additionalProperties": False,
    },
    "httpUrl": _string("http(s) URL or empty", HTTP_URL, 2048, empty=True),
    "gitUrl": _string("git URL", GIT_URL, 2048),
    "gitRef": _string("git ref", GIT_REF, 255),
    "email": _string("e-mail address", EMAIL, 254),
    "userName": _string("user name", USER_NAME),
    "displayName": _string("one-line name", DISPLAY_NAME),
    "dbIdentifier": _string("database identifier", DB_IDENTIFIER),
    "urlQuery": _string("URL query or empty", URL_QUERY, 1024, empty=True),
    "queueName": _string("queue name", QUEUE_NAME),
    "airflowId": _string("connection id or variable key", AIRFLOW_ID, 200),
    "poolName": _string("pool name", POOL_NAME, 256),
    "cronSchedule": _string("cron schedule", CRON_SCHEDULE, 100),
    "absolutePath": _string("absolute path", ABSOLUTE_PATH, 1024),
    "relativePath": _string("relative path or empty", RELATIVE_PATH, 1024, empty=True),
    "goDuration": _string("duration", GO_DURATION, 32),
    "prometheusDuration": _string("duration", PROMETHEUS_DURATION, 32),
    "oneLine": _string("one-line text", ONE_LINE, 1024),
    "lines": _string("printable text", LINES, 65536),
    "cfgText": _string("airflow.cfg text", CFG_TEXT, 4096),
    "cfgName": _string("airflow.cfg section or option name", CFG_NAME, 100),
    "cfgValue": {
        "title": "airflow.cfg value",
        "type": ["string", "number", "boolean"],
        "pattern": anchored(CFG_TEXT),
        "maxLength": 4096,
        "minimum": -LARGEST_NUMBER,
        "maximum": LARGEST_NUMBER,
    },
    "cfgSection": {
        "title": "airflow.cfg section",
        "type": "object",
        "patternProperties": {anchored(CFG_NAME): {"$ref": "#/definitions/cfgValue"}},
        "additionalProperties": False,
    },
    "port": {"title": "port", "type": "integer", "minimum": 1, "maximum": 65535},
    "int32": {"title": "integer", "type": "integer", "minimum": 0, "maximum": 2**31 - 1},
}


# Kubernetes quantities as exact numbers, to compare requests with limits.
_QUANTITY = re.compile(anchored(QUANTITY))
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_SUFFIXES = {
    **{s: Decimal(10) ** e for s, e in _DECIMAL_SUFFIXES.items()},
    **{s: Decimal(1024**i) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)},
}


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity as an exact number (None when it does not parse)."""
    text = str(value)
    if isinstance(value, bool) or not _QUANTITY.fullmatch(text):
        return None
    unit = re.search(r"[A-Za-z]*$", text)[0]  # empty for a plain number or an exponent (1e3)
    return Decimal(text[: len(text) - len(unit)]) * _SUFFIXES[unit]


@functools.cache
def go_regex(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled with Go's meaning of `$` (end of text; Python's also matches before a
    final newline, which would let "name\\n" pass a name pattern in our tools but not in helm)."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
    return re.compile("".join(out))


def matches(name: str, value: str) -> bool:
    """True when `value` has the format of DEFINITIONS[name] (patterns and lengths)."""
    schema = DEFINITIONS[name]
    if len(value) > schema.get("maxLength", len(value)):
        return False
    return bool(go_regex(schema["pattern"]).search(value))


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not go_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def go_patterns(validator_class: Any) -> Any:
    """A jsonschema validator class that reads `pattern` as helm and the API server (Go) do."""
    return jsonschema.validators.extend(validator_class, {"pattern": _pattern})
