"""Values files to throw at the chart: generated from values.schema.json, and mutations of profiles.

Generation works section by section (a `base.*`/`cluster.*` subtree, split further where a
subtree holds several pod specs), over a profile, one to three sections per case: whole values
files drawn at once from a 90 KB schema take hypothesis-jsonschema minutes per case, and
mostly fail the first cross-field rule they meet. Sections keep the draws fast and let rules
meet each other in small numbers.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from chart_tools import CHART, ROOT
from chart_tools.chart.values import coalesce, defaults
from tests.conftest import SCENARIOS

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
PROFILES = SCENARIOS  # every ci/ scenario and values/ profile
REGRESSIONS = ROOT / "tests" / "data" / "fuzz-regressions"
# A value an attacker would try: new lines, a YAML field, a command-line flag, quotes, a template.
INJECTION = "x\nhostNetwork: true\n- --exechook-command=/bin/sh: \"'{{ .Release.Name }}"
POD_SPECS = ("placement", "resources")  # the subtrees that make generation slow


def schema_at(path: str) -> dict[str, Any]:
    node = SCHEMA
    for key in path.split("."):
        node = node["properties"][key]
    return node


def _inline(node: Any) -> Any:
    """`node` with the schema's internal `#/properties/...` references replaced by their target,
    so a section can be generated on its own."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/properties/"):
            target: Any = SCHEMA
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
            return _inline(target)
        return {key: _inline(value) for key, value in node.items()}
    return [_inline(value) for value in node] if isinstance(node, list) else node


def _heavy(node: dict[str, Any]) -> int:
    """How many pod-spec subtrees `node` holds, at any depth."""
    children = node.get("properties", {})
    return sum(key in POD_SPECS for key in children) + sum(_heavy(child) for child in children.values())


def sections(path: str = "", node: dict[str, Any] = SCHEMA) -> list[str]:
    """Every top-level value, and every child of an object that holds more than one pod-spec
    subtree (so a section carries at most one placement or resources block)."""
    found: list[str] = []
    for key, child in node["properties"].items():
        here = f"{path}.{key}" if path else key
        if "properties" in child and child.get("additionalProperties") is False and _heavy(child) > 1:
            found += sections(here, child)
        else:
            found.append(here)
    return found


@functools.cache
def section_strategy(path: str) -> st.SearchStrategy[Any]:
    schema = {**_inline(schema_at(path)), "definitions": SCHEMA["definitions"]}
    return from_schema(schema, codec="utf-8")


def nest(path: str, value: Any) -> dict[str, Any]:
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


@st.composite
def generated(draw: st.DrawFn) -> tuple[Path, dict[str, Any]]:
    """(profile, values drawn for one to three sections of the schema)."""
    profile = draw(st.sampled_from(PROFILES))
    chosen = draw(st.lists(st.sampled_from(sections()), min_size=1, max_size=3, unique=True))
    values: dict[str, Any] = {}
    for path in chosen:
        values = coalesce(values, nest(path, draw(section_strategy(path))))
    return profile, values


# ------------------------------------------------------------ mutations of the profiles


_STEP = re.compile(r'\["([^"]+)"\]|\[([0-9]+)\]|([^.\[\]"]+)')


def steps(path: str) -> list[str | int]:
    """The keys and list indexes of a path written by `leaves`."""
    return [quoted or (int(index) if index else plain) for quoted, index, plain in _STEP.findall(path)]


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every scalar, with `[i]` for list items and `["key"]` for keys with
    dots (label keys such as app.kubernetes.io/name)."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            step = f'["{key}"]' if "." in key or "[" in key else f".{key}" if path else key
            yield from leaves(child, f"{path}{step}")
    elif isinstance(value, list) and value:
        for i, child in enumerate(value):
            yield from leaves(child, f"{path}[{i}]")
    elif path:
        yield path, value


def replaced(values: dict[str, Any], path: str, new: Any) -> dict[str, Any]:
    """A copy of `values` with the leaf at `path` replaced."""
    out = copy.deepcopy(values)
    keys = steps(path)
    node: Any = out
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = new
    return out


def _bounds(path: str) -> tuple[int | None, int | None]:
    """The schema's minimum and maximum for a number at `path` (list items: their `items`)."""
    node: Any = SCHEMA
    for key in steps(path):
        node = _inline(node)
        node = node.get("items", {}) if isinstance(key, int) else node.get("properties", {}).get(key, {})
        if "$ref" in node:
            node = SCHEMA["definitions"].get(node["$ref"].rsplit("/", 1)[-1], {})
    return node.get("minimum"), node.get("maximum")


def mutations(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(kind, new value): a wrong type always; an injection and an empty string for strings; the
    largest allowed number and the next one beyond it for numbers."""
    yield "wrong type", ["not", "a", "scalar"] if isinstance(value, str) else "not-a-number-or-flag"
    if isinstance(value, str):
        yield "injection", INJECTION
        yield "empty", ""
    elif isinstance(value, int | float) and not isinstance(value, bool):
        low, high = _bounds(path)
        yield "largest", high if high is not None else 10**15
        yield "beyond", (high + 1) if high is not None else (low - 1 if low is not None else 10**22)


def mutation_cases(profile: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, kind, values) for each leaf of the profile and six leaves of the defaults it keeps."""
    own = yaml.safe_load(profile.read_text()) or {}
    merged = coalesce(defaults(), own)
    paths = [p for p, _ in leaves(own)]
    others = sorted(p for p, _ in leaves(merged) if p not in paths)
    paths += random.Random(profile.name).sample(others, 6)
    values = dict(leaves(merged))
    return [
        (path, kind, replaced(merged, path, new))
        for path in paths
        for kind, new in mutations(path, values[path])
    ]


def regression_files() -> list[Path]:
    return sorted(REGRESSIONS.glob("*.json"))
