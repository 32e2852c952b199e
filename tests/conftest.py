"""Shared fixtures: scenarios rendered once per helm major and cached for the whole session."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chart_tools import CHART, scenarios
from chart_tools.chart.render import Manifest, render
from chart_tools.runtime.kubeapi import StandInKubeAPI
from chart_tools.toolchain import HELM_WHEELS, helm_path

pytest_plugins = ["tests.fuzz.outcomes", "tests.runtime.recovery"]

HELM_MAJORS = tuple(HELM_WHEELS)
# Every ci/ scenario and every ready-made profile users start from.
SCENARIOS = scenarios()


def scenario_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('-values.yaml').removesuffix('.yaml')}"


def pytest_configure(config: pytest.Config) -> None:
    # Under CI a missing helm must fail, never skip: check before any test runs.
    if os.environ.get("CI") == "true":
        for major in HELM_MAJORS:
            if not (Path(__file__).parents[1] / ".tools" / "bin" / f"helm{major}").exists():
                raise pytest.UsageError(f"helm {major} is missing: run `make setup`")


@pytest.fixture(params=HELM_MAJORS, ids=lambda m: f"helm{m}")
def helm_major(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(params=SCENARIOS, ids=scenario_id)
def scenario(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture
def rendered(scenario: Path, helm_major: int) -> list[Manifest]:
    """Objects of one ci/ scenario with one helm major."""
    return render([scenario], helm_major=helm_major)


@pytest.fixture
def defaults(helm_major: int) -> list[Manifest]:
    """Objects of the default values with one helm major."""
    return render([], helm_major=helm_major)


def ci_file(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"


@pytest.fixture(scope="session")
def install_notes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """NOTES.txt as `helm install` prints it (helm template leaves it out): a client-side dry-run
    against the stand-in API; call with (helm_major, *helm arguments such as -f/--set)."""
    api = StandInKubeAPI(tmp_path_factory.mktemp("kube-api"))

    def notes(helm_major: int, *args: str) -> str:
        cmd = [str(helm_path(helm_major)), "install", "r", str(CHART), "--dry-run=client"]
        cmd += ["--disable-openapi-validation", "--kubeconfig", str(api.kubeconfig), *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    yield notes
    api.close()
