"""Runtime-tier fixtures: what the tier needs, and the rendered objects it plans from."""

from __future__ import annotations

import os

import pytest

from chart_tools.runtime.processes import AIRFLOW_VENV
from chart_tools.runtime.services import missing_binaries


@pytest.fixture(scope="session")
def runtime_ready() -> None:
    """Airflow and the server binaries are installed; under CI their absence fails, never skips."""
    problems = [f"Debian package {p}" for p in missing_binaries()]
    if not (AIRFLOW_VENV / "bin" / "airflow").exists():
        problems.append(f"Airflow in {AIRFLOW_VENV}")
    if problems:
        message = f"runtime tier needs {', '.join(problems)}: run `make setup-runtime`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
