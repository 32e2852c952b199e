"""Chart.yaml's own checks: Helm's fields (a yamale schema), maintainers, Artifact Hub annotations.

The annotations hold YAML documents inside strings, which Artifact Hub parses when it indexes the
chart; a typo there is silently dropped, so each one is parsed and checked against its own shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yamale
import yaml

from chart_tools.release.annotations import CHANGES, IMAGES, changelog_sections

SCHEMA = Path(__file__).with_name("chart_schema.yaml")
ANNOTATIONS_SCHEMA = Path(__file__).with_name("annotation_schema.yaml")
# Annotations whose value is a YAML document (the others are plain strings).
YAML_ANNOTATIONS = (CHANGES, IMAGES, "artifacthub.io/links", "artifacthub.io/signKey")


def _errors(schema_file: Path, data: Any, strict: bool = True) -> list[str]:
    try:
        yamale.validate(yamale.make_schema(str(schema_file)), [(data, None)], strict=strict)
    except yamale.YamaleError as err:
        return [error for result in err.results for error in result.errors]
    return []


def _annotation_errors(annotations: dict[str, str]) -> list[str]:
    parsed: dict[str, Any] = {}
    for key, text in annotations.items():
        try:
            parsed[key] = yaml.safe_load(text) if key in YAML_ANNOTATIONS else text
        except yaml.YAMLError as err:
            return [f"annotations.{key}: not YAML: {' '.join(str(err).split())}"]
    return [f"annotations.{e}" for e in _errors(ANNOTATIONS_SCHEMA, parsed, strict=False)]


def _maintainer_errors(maintainers: list[Any]) -> list[str]:
    """ct's validate-maintainers without its GitHub look-up: each maintainer can be reached."""
    return [
        f"maintainers.{i}: {m.get('name', '?')} has neither email nor url"
        for i, m in enumerate(maintainers)
        if isinstance(m, dict) and not (m.get("email") or m.get("url"))
    ]


def chart_findings(chart_yaml: Path, validate_maintainers: bool) -> list[str]:
    """One line per problem in Chart.yaml, each naming the file and the key."""
    try:
        meta = yaml.safe_load(chart_yaml.read_text())
    except yaml.YAMLError as err:
        return [f"{chart_yaml}: not YAML: {' '.join(str(err).split())}"]
    errors = _errors(SCHEMA, meta)
    if not errors:
        errors += _annotation_errors(meta.get("annotations") or {})
        if validate_maintainers:
            errors += _maintainer_errors(meta["maintainers"])
    return [f"{chart_yaml}: {error}" for error in errors]


def changelog_findings(chart_yaml: Path, changelog: Path) -> list[str]:
    """The chart's version has a changelog section, and the changes annotation is that section."""
    meta = yaml.safe_load(chart_yaml.read_text())
    version = meta["version"]
    entries = changelog_sections(changelog.read_text()).get(version)
    if not entries:
        return [f"{changelog}: no entries under '## [{version}]' (Chart.yaml's version)"]
    annotated = yaml.safe_load((meta.get("annotations") or {}).get(CHANGES, "") or "[]")
    if annotated != entries:
        return [f"{chart_yaml}: annotations.{CHANGES}: not {changelog}'s [{version}]: run `chart-tools docs`"]
    return []
