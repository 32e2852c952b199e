"""Tooling around the Airflow Helm chart: render, validate, document, benchmark."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "airflow"


def scenarios() -> list[Path]:
    """Every values file the tests and the generated annotations render: ci/ scenarios, then profiles."""
    return sorted(CHART.glob("ci/*-values.yaml")) + sorted(ROOT.glob("values/*.yaml"))
