"""Small accessors over rendered objects, shared by the tests."""

from __future__ import annotations

import base64
import configparser
import re
from typing import Any

from chart_tools.chart.render import Manifest, find

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def pod_of(obj: Manifest) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def container(obj: Manifest, name: str) -> dict[str, Any]:
    pod = pod_of(obj)
    return next(c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == name)


def env_map(c: dict[str, Any]) -> dict[str, Any]:
    """Env name -> literal value or the valueFrom mapping."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def secret_data(objects: list[Manifest], name_suffix: str) -> dict[str, str]:
    secret = find(objects, "Secret", name_suffix)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def airflow_cfg(objects: list[Manifest]) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(find(objects, "ConfigMap", "-config")["data"]["airflow.cfg"])
    return parser


def deployment(objects: list[Manifest], component: str) -> Manifest:
    return find(objects, "Deployment", f"-{component}")


def statsd_map(name: str, mappings: list[dict[str, Any]]) -> tuple[str, dict[str, str]] | None:
    """What statsd-exporter makes of a StatsD metric name: (Prometheus name, labels) of the first
    matching mapping ("" for a mapping with `action: drop`), or None. Glob mappings: `*` is one
    dot-free name component; regex mappings: Go regexp search; `$n`/`${n}` take the groups."""
    for mapping in mappings:
        if mapping.get("match_type") == "regex":
            match = re.search(mapping["match"], name)
        else:
            parts = [re.escape(p) if p != "*" else "([^.]+)" for p in mapping["match"].split(".")]
            match = re.fullmatch(r"\.".join(parts), name)
        if match and mapping.get("action") == "drop":
            return "", {}
        if match:

            def fill(text: str, match: re.Match[str] = match) -> str:
                return re.sub(r"\$\{?(\d+)\}?", lambda g: match.group(int(g[1])), str(text))

            return fill(mapping["name"]), {k: fill(v) for k, v in (mapping.get("labels") or {}).items()}
    return None
