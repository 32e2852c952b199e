"""Small accessors over rendered objects, shared by the tests."""

from __future__ import annotations

import base64
import configparser
from typing import Any

from chart_tools.render import Manifest, find

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
