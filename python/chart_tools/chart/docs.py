"""Generate values.schema.json and the README values tables from values.yaml (and Chart.yaml's
Artifact Hub annotations, see release/annotations.py).

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

import yaml

from chart_tools import CHART
from chart_tools.chart import formats, kube_schema

SCHEMA_FILE = CHART / "values.schema.json"
README = CHART / "README.md"  # holds the one values table; the root README links to it
BEGIN, END = "<!-- values-table:begin -->", "<!-- values-table:end -->"

_REF = re.compile(r'"#/definitions/([^"]+)"')


def _no_nulls(node: Any) -> Any:
    """A schema without `null` in its types: Kubernetes' schemas allow nulls everywhere, but in a
    values file a null deletes a key (maps) or becomes an empty, invalid entry (lists)."""
    if isinstance(node, dict):
        node = {k: _no_nulls(v) for k, v in node.items()}
        if isinstance(node.get("type"), list):
            kinds = [t for t in node["type"] if t != "null"]
            node["type"] = kinds[0] if len(kinds) == 1 else kinds
        return node
    return [_no_nulls(v) for v in node] if isinstance(node, list) else node


@functools.cache
def _k8s_definitions() -> dict[str, Any]:
    """Kubernetes' definitions (API-server rules included) for values: refs in draft-07 form, no nulls."""
    text = json.dumps(kube_schema.definitions(kube_schema.VERSIONS[0])["$defs"])
    return _no_nulls(json.loads(text.replace('"#/$defs/', '"#/definitions/')))


def definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """The definitions `schema` refers to, with everything they refer to: the chart's value
    formats (formats.DEFINITIONS) and Kubernetes' own strict schemas for values that pass
    through to pod specs (resources, env, affinity, tolerations)."""
    sources = {**_k8s_definitions(), **formats.DEFINITIONS}
    found: dict[str, Any] = {}
    pending = _REF.findall(json.dumps(schema))
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = sources[name]
        pending += _REF.findall(json.dumps(found[name]))
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


def _required(value: dict[str, Any]) -> list[str]:
    """Every key with a default: a null in a values file deletes the key in helm, and the
    templates must never meet a missing section (a template trace instead of a message)."""
    return [key for key, child in value.items() if child is not None]


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
            schema.setdefault("required", _required(value))
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
        "required": _required(values),
    }
    used = definitions(properties)
    return {**schema, "definitions": used} if used else schema


def _kind(schema: dict[str, Any]) -> str:
    """The type column of the values table."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return formats.DEFINITIONS[name]["title"] if name in formats.DEFINITIONS else name.rsplit(".", 1)[-1]
    kind = schema["type"]
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if "enum" in schema:
        kind += " (" + ", ".join(f"`{v}`" for v in schema["enum"]) + ")"
    return kind


def _rows(path: str, value: Any, schema: dict[str, Any]) -> list[str]:
    if isinstance(value, dict) and "properties" in schema and set(schema["properties"]) == set(value):
        return [
            row
            for key, sub in schema["properties"].items()
            for row in _rows(f"{path}.{key}", value[key], sub)
        ]
    kind = _kind(schema)
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


def values_files() -> dict[Path, str]:
    """The files generated from values.yaml alone: the schema and the chart README's table."""
    values_text = (CHART / "values.yaml").read_text()
    return {
        SCHEMA_FILE: json.dumps(build_schema(values_text), indent=2) + "\n",
        README: with_table(README.read_text(), values_table(values_text)),
    }


def chart_yaml() -> dict[Path, str]:
    """Chart.yaml with its annotations, which come from a render (so from the schema on disk)."""
    from chart_tools.release import annotations  # renders the chart, whose values module imports this one

    return {CHART / "Chart.yaml": annotations.chart_yaml()}


def expected_files() -> dict[Path, str]:
    """Every generated file and the content it should have."""
    return {**values_files(), **chart_yaml()}


def _write(files: dict[Path, str]) -> list[Path]:
    changed = []
    for path, content in files.items():
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            changed.append(path)
    return changed


def write() -> list[Path]:
    """Regenerate the files; return those that changed. The schema is written before Chart.yaml's
    annotations are rendered: a new value must pass the new schema."""
    return _write(values_files()) + _write(chart_yaml())
