"""Tooling around the Airflow Helm chart, in sub-packages by how each part is verified:
chart (render tier), runtime (local processes), release (lint, package, publish), cluster
(kind e2e)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "airflow"


def scenarios() -> list[Path]:
    """Every values file the tests and the generated annotations render: ci/ scenarios, then profiles."""
    return sorted(CHART.glob("ci/*-values.yaml")) + sorted(ROOT.glob("values/*.yaml"))
