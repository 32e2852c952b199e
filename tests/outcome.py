"""What became of one values file: rendered clean, refused with a message naming a key, or neither.

The render-tier rule tests and the fuzzing tier judge every case with this one function, so
"rejected" means the same everywhere: helm's schema check or one of the chart's own `fail`
messages, never a template trace (a Go error such as `nil pointer evaluating` or
`YAML parse error`), and "rendered" means zero `chart-tools validate` findings and no sign of
an injected field or argument.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chart_tools.chart.render import Manifest, RenderError, RenderRequest, parse, run_helm_template
from chart_tools.chart.validate import validate
from chart_tools.chart.values import defaults

SCHEMA_ERROR = "values don't meet the specifications of the schema"
# Helm itself refuses a values file holding a control character (C1, e.g. U+0094) before any
# check, without naming the key: its round trip through YAML rejects what it wrote. Not the chart's.
HELM_INPUT_ERROR = "yaml: control characters are not allowed"
CHART_ERROR = "execution error at ("  # how helm reports the chart's own `fail`/`required`
TOP_LEVEL_KEYS = tuple(defaults())
# What an injection string tries to add; seeing it as a key or a list item means it got through.
INJECTED_KEY = "hostNetwork"
INJECTED_ARG = "--exechook-command"


@dataclass
class Outcome:
    """`kind` is rendered, schema, chart (the refusals), helm-input (helm refusing unprintable
    characters before any check), trace or invalid (the two failures)."""

    kind: str
    message: str = ""
    objects: list[Manifest] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.kind in ("schema", "chart")

    def names(self, path: str) -> bool:
        """The refusal names the value at `path` (dotted, `[i]` for list items), in helm 3's
        dotted form, helm 4's /slash/ form or the chart's own messages."""
        parts = [p for p in re.split(r"[.\[\]]+", path) if p]
        head = parts[: min(3, len(parts))]
        forms = (".".join(head), "/" + "/".join(head), _chart_form(path, len(head)))
        return any(form in self.message for form in forms)

    def names_some_key(self) -> bool:
        """The refusal names at least one value (for generated cases, where any key may be at fault)."""
        words = set(re.findall(r"[A-Za-z]+", self.message))
        return bool(words & set(TOP_LEVEL_KEYS)) or "release name" in self.message


def _chart_form(path: str, depth: int) -> str:
    """The chart's messages write list items as `repos[0]`."""
    tokens = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    out: list[str] = []
    for token in tokens:
        if token.startswith("[") and out:
            out[-1] += token
        else:
            out.append(token)
    return ".".join(out[:depth])


def injected(objects: list[Manifest]) -> list[str]:
    """Places where an injection string became structure: a hostNetwork field, an argument."""
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == INJECTED_KEY:
                    found.append(f"{where}.{key}")
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str) and item.startswith(INJECTED_ARG):
                    found.append(f"{where}[{i}]")
                walk(item, f"{where}[{i}]")

    for obj in objects:
        walk(obj, f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}")
    return found


# Characters YAML will not take raw (C1 controls, DEL, non-characters): written as escapes.
_UNPRINTABLE = re.compile("[\x7f-\x84\x86-\x9f\ufffe\uffff]")


def as_yaml(values: Any) -> str:
    """`values` as a YAML document helm reads back exactly: JSON (so no YAML 1.1 reading of
    `on`/`y` as booleans), with characters outside the BMP written raw (YAML has no surrogate
    pairs) and the few YAML refuses raw written as escapes."""
    text = json.dumps(values, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def judge(values: dict[str, Any] | None, helm_major: int, files: tuple[Path, ...] = ()) -> Outcome:
    """Render `files` then `values` and classify the result."""
    with tempfile.TemporaryDirectory() as tmp:
        extra = ()
        if values is not None:
            path = Path(tmp) / "case.yaml"
            path.write_text(as_yaml(values))
            extra = (path,)
        request = RenderRequest(values_files=(*files, *extra), helm_major=helm_major)
        try:
            stream = run_helm_template(request)
        except RenderError as err:
            message = " ".join(str(err).split())
            kind = "trace"
            if HELM_INPUT_ERROR in message:
                kind = "helm-input"
            elif SCHEMA_ERROR in message:
                kind = "schema"
            elif CHART_ERROR in message:
                kind = "chart"
            return Outcome(kind, message)
    objects = parse(stream)
    problems = [str(f) for f in validate(objects)] + [f"injected: {p}" for p in injected(objects)]
    if problems:
        return Outcome("invalid", "; ".join(problems[:5]), objects)
    return Outcome("rendered", "", objects)
