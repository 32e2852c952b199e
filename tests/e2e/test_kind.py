"""The cluster tier for real: each scenario of `chart-tools e2e` on a kind cluster.

Runs where Docker, kind, kubectl and git are (the e2e workflow runs `make e2e`, the same code);
elsewhere each test skips with the preflight's one line, except under E2E=1, where a missing
tool fails. E2E_KUBE_VERSION (1.30 or 1.35) and E2E_HELM (3 or 4) choose the cluster and helm.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chart_tools.cluster import tools
from chart_tools.cluster.e2e import E2E, Options
from chart_tools.cluster.scenarios import SCENARIOS
from chart_tools.cluster.shell import Shell
from chart_tools.cluster.versions import DEFAULT_KUBE

KUBE = os.environ.get("E2E_KUBE_VERSION", DEFAULT_KUBE)
HELM = int(os.environ.get("E2E_HELM", "3"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[E2E]:
    try:
        tools.check(Shell(), KUBE)
        reason = ""
    except tools.Unavailable as err:
        reason = str(err)
    action = tools.decide(reason, os.environ)
    if action == "skip":
        pytest.skip(f"cluster tier: {reason}")
    if action == "fail":
        pytest.fail(f"cluster tier (E2E=1): {reason}")
    from chart_tools.cluster.helm import Releases
    from chart_tools.cluster.kube import Kube

    runner = E2E(Options(list(SCENARIOS), kube_version=KUBE, helm_major=HELM), Shell(), Kube, Releases)
    runner.ensure_cluster()
    runner.load_image()
    yield runner
    if runner.created:
        runner.kind("delete", "cluster")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_passes_on_kind(cluster: E2E, name: str) -> None:
    failure = cluster.scenario(name)
    assert not failure, f"{failure} (artifacts in {cluster.options.out / 'artifacts' / name})"
