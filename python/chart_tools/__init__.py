"""Tooling around the Airflow Helm chart: render, validate, document, benchmark."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "airflow"
