"""Chart.yaml's generated Artifact Hub annotations: the images the chart deploys and this version's changes.

Both are generated (by `chart-tools docs`, checked by the docs freshness test) rather than kept by
hand: the images from the renders of every profile, so an image added to a template cannot be
missing; the changes from CHANGELOG.md's section for the chart's version, so the changelog is
written once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from chart_tools import CHART, ROOT, scenarios
from chart_tools.chart import values
from chart_tools.chart.render import render
from chart_tools.chart.validate import containers, pod_spec
from chart_tools.runtime.plan import image_repository

CHANGELOG = ROOT / "CHANGELOG.md"
# keep-a-changelog's sections, and the Artifact Hub change kind each becomes.
CHANGE_KINDS = {
    "Added": "added",
    "Changed": "changed",
    "Deprecated": "deprecated",
    "Removed": "removed",
    "Fixed": "fixed",
    "Security": "security",
}
IMAGES, CHANGES = "artifacthub.io/images", "artifacthub.io/changes"

_VERSION_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\]")


def _pod_images(obj: Any) -> set[str]:
    """Every container image of a rendered workload's pod (none for other kinds)."""
    return {c["image"] for _, c in containers(pod_spec(obj) or {})}


def _default_repositories(node: Any) -> set[str]:
    """Image repositories values.yaml declares (an `image` map with `repository`)."""
    if isinstance(node, dict):
        found = {node["repository"]} if isinstance(node.get("repository"), str) and "tag" in node else set()
        for child in node.values():
            found |= _default_repositories(child)
        return found
    return set()


def images(helm_major: int = 3) -> list[dict[str, str]]:
    """The chart's own images deployed by any profile, named by their repository's last segment. A
    profile's own image (values/dags-image.yaml: the user's DAG image) is not the chart's."""
    ours = _default_repositories(values.defaults())
    rendered: set[str] = set()
    for path in [None, *scenarios()]:
        for obj in render([path] if path else [], helm_major=helm_major):
            rendered |= _pod_images(obj)
    chosen = sorted(image for image in rendered if image_repository(image) in ours)
    return [{"name": image_repository(image).rsplit("/", 1)[-1], "image": image} for image in chosen]


def changelog_sections(text: str) -> dict[str, list[dict[str, str]]]:
    """Version -> its entries as Artifact Hub changes, from a keep-a-changelog file. A bullet may
    continue on indented lines; they are joined with single spaces."""
    sections: dict[str, list[dict[str, str]]] = {}
    entries: list[dict[str, str]] | None = None
    kind = ""
    for line in text.splitlines():
        heading = _VERSION_HEADING.match(line)
        if heading:
            entries = sections.setdefault(heading["version"], [])
        elif line.startswith("### "):
            kind = CHANGE_KINDS.get(line[4:].strip(), "")
        elif entries is not None and kind and line.startswith("- "):
            entries.append({"kind": kind, "description": line[2:].strip()})
        elif entries and kind and line.startswith("  ") and line.strip():
            entries[-1]["description"] += " " + line.strip()
    return sections


def changes(version: str, changelog: Path = CHANGELOG) -> list[dict[str, str]]:
    """This version's changelog entries (empty when the changelog has no section for it)."""
    return changelog_sections(changelog.read_text()).get(version, [])


class _Literal(str):
    """A string dumped as a YAML literal block (annotations holding YAML documents)."""


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, as yamllint's default `indentation` rule wants."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


_Dumper.add_representer(_Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, "|"))


def _dump(data: Any) -> str:
    """YAML that keeps within yamllint's line length (long descriptions wrap, as plain scalars may)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=96)


def chart_yaml(chart: Path = CHART) -> str:
    """Chart.yaml with the generated annotations replaced; every other field as written."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in (IMAGES, CHANGES)}
    meta["annotations"] = {CHANGES: _dump(changes(meta["version"])), IMAGES: _dump(images()), **annotations}
    for key, text in meta["annotations"].items():
        meta["annotations"][key] = _Literal(text) if "\n" in text.strip() else text
    return _dump(meta)
