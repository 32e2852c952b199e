"""`chart-tools values`: write a starting override file, and check one.

Both use the chart's own values.schema.json (draft-07), so an error names the same key path helm
would reject, before anything is installed. `init` comments each key with its description from
values.yaml, the one place values are documented.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from chart_tools import CHART
from chart_tools.chart.docs import parse_comments
from chart_tools.chart.formats import go_patterns


class ValuesError(ValueError):
    """The file or the options do not make valid values; the message names the key."""


HelmValidator = go_patterns(jsonschema.Draft7Validator)  # draft-07 as helm reads it


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text())


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    return HelmValidator(schema())


def enum(key: str) -> list[str]:
    """The values a key allows (`cluster.executor`), as the schema lists them: the one place."""
    node = schema()
    for part in key.split("."):
        node = node["properties"][part]
    return node["enum"]


def option_name(value: str) -> str:
    """A schema value as a command-line choice: `CeleryExecutor,KubernetesExecutor` ->
    `celery-kubernetes`, `gitSync` -> `git-sync`."""
    words = value.replace("Executor", "").split(",")
    return "-".join(re.sub(r"(?<=[a-z])([A-Z])", r"-\1", w).lower() for w in words)


def choices(key: str) -> dict[str, str]:
    """Command-line choice -> schema value for an enum key."""
    return {option_name(v): v for v in enum(key)}


EXECUTORS = choices("cluster.executor")
DAG_MODES = choices("cluster.dags.mode")
DATABASES = choices("base.database.type")


@functools.cache
def defaults() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def coalesce(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base` as helm merges a values file over the chart's: maps merge key by
    key, anything else replaces, and a null deletes the key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def key_path(error: jsonschema.ValidationError) -> str:
    """`cluster.dags.git.repos[0].name` for an error's location (`(top level)` at the root)."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return path or "(top level)"


def schema_errors(values: Any) -> list[str]:
    """One line per schema violation of `values` merged over the chart's defaults (what helm
    checks), each naming the key path."""
    if isinstance(values, dict):
        values = coalesce(defaults(), values)
    errors = sorted(_validator().iter_errors(values), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{key_path(e)}: {e.message}" for e in errors]


def load(path: Path) -> Any:
    if not path.is_file():
        raise ValuesError(f"{path}: no such file")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValuesError(f"{path}: not YAML: {' '.join(str(err).split())}") from None


def check(path: Path) -> list[str]:
    """Schema errors of a user's values file (empty when it is valid)."""
    return schema_errors(load(path))


@functools.cache
def descriptions() -> dict[str, str]:
    return {key: doc.description for key, doc in parse_comments((CHART / "values.yaml").read_text()).items()}


def commented(values: dict[str, Any], prefix: str = "", indent: int = 0) -> list[str]:
    """YAML lines of `values`, each mapping key preceded by its values.yaml description."""
    lines: list[str] = []
    pad = " " * indent
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        if description := descriptions().get(path):
            lines += textwrap.wrap(
                description,
                100,
                initial_indent=f"{pad}# ",
                subsequent_indent=f"{pad}# ",
                break_on_hyphens=False,
            )
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:")
            lines += commented(value, path, indent + 2)
        else:
            dumped = yaml.safe_dump({key: value}, default_flow_style=False, sort_keys=False, width=1000)
            lines += [pad + line for line in dumped.rstrip("\n").splitlines()]
    return lines


def init_values(
    executor: str = "celery",
    dags: str = "image",
    repo: str = "",
    database: str = "postgres",
    db_host: str = "",
    db_password_secret: str = "",
    sqlproxy_instance: str = "",
) -> dict[str, Any]:
    """The smallest override that selects these options (defaults are left out)."""
    values: dict[str, Any] = {}
    cluster: dict[str, Any] = {}
    if executor != "celery":
        cluster["executor"] = EXECUTORS[executor]
    if dags != "image":
        cluster["dags"] = {"mode": DAG_MODES[dags]}
    if dags in ("git-sync", "git-init"):
        if not repo:
            raise ValuesError(f"--repo is required with --dags {dags}")
        cluster["dags"]["git"] = {"repos": [{"name": "dags", "url": repo}]}
    elif repo:
        raise ValuesError(f"--repo needs --dags git-sync or git-init (not {dags})")
    if database != "postgres":
        values["base"] = {"database": _database(database, db_host, db_password_secret, sqlproxy_instance)}
    if cluster:
        values["cluster"] = cluster
    return values


def _database(kind: str, host: str, secret: str, instance: str) -> dict[str, Any]:
    if kind == "mysql":
        return {"type": "mysql"}
    if not secret:
        raise ValuesError(f"--db-password-secret is required with --database {kind}")
    if kind == "sqlproxy":
        if not instance:
            raise ValuesError("--sqlproxy-instance is required with --database sqlproxy")
        return {"type": "sqlproxy", "sqlproxy": {"instance": instance, "passwordSecret": {"name": secret}}}
    if not host:
        raise ValuesError("--db-host is required with --database external")
    return {"type": "external", "external": {"host": host, "passwordSecret": {"name": secret}}}


def init_text(values: dict[str, Any], command: str) -> str:
    """The override file: a header, then the commented values. Raises when they are invalid."""
    if errors := schema_errors(values):
        raise ValuesError("; ".join(errors))
    header = [
        f"# Generated by `{command}`.",
        "# Overrides of charts/airflow/values.yaml (every key is documented there and in the README).",
        "# Install with: helm install <release> charts/airflow -f <this file>",
    ]
    body = commented(values) or ["{}"]
    return "\n".join([*header, *body]) + "\n"
