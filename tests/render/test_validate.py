"""Every object of every ci/ scenario passes schema and policy validation with both helm majors."""

import subprocess

from chart_tools import CHART
from chart_tools.chart.validate import validate
from chart_tools.toolchain import helm_path


def test_scenario_has_zero_findings(rendered):
    findings = validate(rendered)
    assert not findings, "\n".join(map(str, findings))


def test_helm_lint_passes(scenario, helm_major):
    cmd = [str(helm_path(helm_major)), "lint", str(CHART), "--strict", "--values", str(scenario)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_scenarios_cover_required_cases():
    names = {p.name for p in CHART.glob("ci/*-values.yaml")}
    assert {
        "default-values.yaml",
        "external-database-values.yaml",
        "existing-secrets-values.yaml",
        "hooks-values.yaml",
    } <= names
