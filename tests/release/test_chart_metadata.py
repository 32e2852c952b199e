"""Chart.yaml tells the truth: its images are the ones the renders deploy, its changes the changelog's."""

from __future__ import annotations

from typing import Any

import yaml

from chart_tools import CHART, ROOT, scenarios
from chart_tools.chart.render import render
from tests.conftest import HELM_MAJORS

META = yaml.safe_load((CHART / "Chart.yaml").read_text())


def _image_strings(node: Any) -> set[str]:
    """Every string under an `image` key, anywhere in an object (not only where pods keep them)."""
    if isinstance(node, dict):
        found = {node["image"]} if isinstance(node.get("image"), str) else set()
        return found.union(*(_image_strings(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_image_strings(v) for v in node))
    return set()


def test_images_annotation_lists_what_the_profiles_deploy() -> None:
    annotated = {entry["image"] for entry in yaml.safe_load(META["annotations"]["artifacthub.io/images"])}
    seen: set[str] = set()
    for path in [None, *scenarios()]:
        text, where = (path.read_text(), path) if path else ("", "default values")
        for major in HELM_MAJORS:
            for image in set().union(*map(_image_strings, render([path] if path else [], helm_major=major))):
                seen.add(image)
                # an image the profile itself names (the user's own DAG image) is not the chart's
                if image not in annotated:
                    assert image.rsplit(":", 1)[0] in text, f"{where}: {image} not in the annotation"
    assert annotated <= seen, f"annotated but never deployed: {annotated - seen}"
    assert len(annotated) >= 7  # airflow, postgres, mysql, redis, git-sync, statsd-exporter, cloud-sql-proxy


def test_metadata_claims_no_other_project() -> None:
    text = (CHART / "Chart.yaml").read_text()
    for claim in ("airflow.apache.org", "github.com/apache", "chart maintainers"):
        assert claim not in text
    assert (ROOT / "LICENSE").read_text().split()[:2] == ["Apache", "License"]
    assert META["annotations"]["artifacthub.io/license"] == "Apache-2.0"
