"""Generate values.schema.json and the README values tables from values.yaml.

values.yaml is the single place a value is declared and documented: a `# --` comment above a
key is its description, `# @schema` lines add JSON-schema keywords (read together as one YAML
block, so a long schema may span lines). Types come from the defaults. Generating both artefacts
from one source keeps the schema strict (draft-07, `additionalProperties: false` everywhere)
without a second hand-kept copy of every description.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import importlib_resources
import yaml

from chart_tools import CHART, ROOT

SCHEMA_FILE = CHART / "values.schema.json"
README_FILES = (CHART / "README.md", ROOT / "README.md")
BEGIN, END = "<!-- values-table:begin -->", "<!-- values-table:end -->"

K8S_PREFIX = "#/definitions/io.k8s."
K8S_SCHEMA_VERSION = "v1.30.0-local-strict"  # the oldest Kubernetes we support


@functools.cache
def _k8s_definitions() -> dict[str, Any]:
    files = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return json.loads((files / K8S_SCHEMA_VERSION / "_definitions.json").read_text())["$defs"]


def k8s_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """The strict Kubernetes definitions `schema` refers to, with everything they refer to.

    Values that pass through to pod specs (resources, env, affinity, tolerations) are checked
    against Kubernetes' own strict schemas rather than a looser hand-written copy.
    """
    source = _k8s_definitions()
    found: dict[str, Any] = {}
    pending = re.findall(r'"#/definitions/(io\.k8s\.[^"]+)"', json.dumps(schema))
    while pending:
        name = pending.pop()
        if name in found:
            continue
        text = json.dumps(source[name]).replace('"#/$defs/', '"#/definitions/')
        found[name] = json.loads(text)
        pending += re.findall(r'"#/definitions/([^"]+)"', text)
    return dict(sorted(found.items()))


class DocsError(ValueError):
    """values.yaml lacks what the generator needs (a description, an items schema)."""


@dataclass
class KeyDoc:
    """What the comments above one key say."""

    description: str = ""
    schema_lines: list[str] = field(default_factory=list)

    @property
    def schema(self) -> dict[str, Any]:
        """The `# @schema` lines read as one YAML block, so a long schema may span lines."""
        return yaml.safe_load("\n".join(self.schema_lines)) or {}


_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):")


def parse_comments(text: str) -> dict[str, KeyDoc]:
    """Map dotted key paths to their `# --` description and `# @schema` keywords."""
    docs: dict[str, KeyDoc] = {}
    stack: list[tuple[int, str]] = []
    pending: KeyDoc | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            pending = None
        elif stripped.startswith("# --"):
            pending = KeyDoc(description=stripped[4:].strip())
        elif stripped.startswith("# @schema ") and pending is not None:
            pending.schema_lines.append(stripped[len("# @schema ") :])
        elif stripped.startswith("#"):
            if pending is not None and not pending.schema_lines:
                pending.description += " " + stripped[1:].strip()
        elif match := _KEY.match(line):
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match["key"]))
            docs[".".join(k for _, k in stack)] = pending or KeyDoc()
            pending = None
    return docs


def _type_of(value: Any) -> str:
    for py, js in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, py):
            return js
    raise DocsError(f"cannot infer a schema type for {value!r}")


def property_schema(path: str, value: Any, docs: dict[str, KeyDoc]) -> dict[str, Any]:
    """Schema of one key: keywords from its comments, type and children from its default."""
    doc = docs.get(path, KeyDoc())
    if not doc.description:
        raise DocsError(f"values.yaml: `{path}` has no `# --` description")
    schema: dict[str, Any] = {"description": doc.description, **doc.schema}
    if "$ref" in schema:
        return schema
    if isinstance(value, dict):
        schema["type"] = "object"
        if "additionalProperties" not in schema:
            schema["additionalProperties"] = False
            schema["properties"] = {
                key: property_schema(f"{path}.{key}", child, docs) for key, child in value.items()
            }
    elif isinstance(value, list):
        schema["type"] = "array"
        if "items" not in schema:
            raise DocsError(f"values.yaml: `{path}` is a list without `# @schema items: ...`")
    elif "type" not in schema:
        schema["type"] = _type_of(value)
    return schema


def build_schema(values_text: str) -> dict[str, Any]:
    """The whole values.schema.json document."""
    values = yaml.safe_load(values_text)
    docs = parse_comments(values_text)
    properties = {key: property_schema(key, child, docs) for key, child in values.items()}
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Values of the Airflow chart",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    definitions = k8s_definitions(properties)
    return {**schema, "definitions": definitions} if definitions else schema


def _rows(path: str, value: Any, schema: dict[str, Any]) -> list[str]:
    if "properties" in schema:
        return [
            row
            for key, sub in schema["properties"].items()
            for row in _rows(f"{path}.{key}", value[key], sub)
        ]
    kind = schema.get("type") or schema["$ref"].rsplit(".", 1)[-1]
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if "enum" in schema:
        kind += " (" + ", ".join(f"`{v}`" for v in schema["enum"]) + ")"
    default = json.dumps(value, separators=(",", ":")).replace("|", r"\|")
    description = schema["description"].replace("|", r"\|")
    return [f"| `{path.lstrip('.')}` | {kind} | `{default}` | {description} |"]


def values_table(values_text: str) -> str:
    """Markdown table of every documented leaf value."""
    values = yaml.safe_load(values_text)
    schema = build_schema(values_text)
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    lines += _rows("", values, schema)
    return "\n".join(lines)


def with_table(readme: str, table: str) -> str:
    """The README text with the block between the markers replaced by `table`."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + table + "\n" + readme[end:]


def expected_files() -> dict[Path, str]:
    """Every generated file and the content it should have."""
    values_text = (CHART / "values.yaml").read_text()
    table = values_table(values_text)
    files = {SCHEMA_FILE: json.dumps(build_schema(values_text), indent=2) + "\n"}
    for readme in README_FILES:
        files[readme] = with_table(readme.read_text(), table)
    return files


def write() -> list[Path]:
    """Regenerate the files; return those that changed."""
    changed = []
    for path, content in expected_files().items():
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            changed.append(path)
    return changed
