"""`chart-tools lint`: what chart-testing's `ct lint` checks, driven by the same ct.yaml.

For every chart under ct.yaml's `chart-dirs`: Chart.yaml against a schema (and its Artifact Hub
annotations, and the changelog section of its version), yamllint, `helm lint --strict` with each
`ci/*-values.yaml` on both helm majors, `chart-tools validate` of each ci/ scenario, and the
version increment against `--since REF` (default: the merge base with ct.yaml's target branch).
Unlike ct, every chart is linted, changed or not: there is one, and a full lint takes seconds.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from chart_tools.chart.render import DEFAULT_KUBE_VERSION, RenderError, render
from chart_tools.chart.validate import validate
from chart_tools.release import lint_chart, version_bump, yaml_style
from chart_tools.toolchain import HELM_WHEELS, helm_path

HELM_MAJORS = tuple(HELM_WHEELS)


class LintError(RuntimeError):
    """The lint could not run (no ct.yaml, no git history for the version check); one line."""


@dataclass(frozen=True)
class CtConfig:
    """The ct.yaml settings this lint reads (ct's defaults for the ones left out)."""

    root: Path
    chart_dirs: tuple[str, ...] = ("charts",)
    target_branch: str = "master"
    remote: str = "origin"
    check_version_increment: bool = True
    validate_maintainers: bool = True

    def charts(self) -> list[Path]:
        return sorted(p.parent for d in self.chart_dirs for p in (self.root / d).glob("*/Chart.yaml"))


def load_config(path: Path) -> CtConfig:
    if not path.is_file():
        raise LintError(f"{path}: not found (chart-tools lint reads chart-testing's ct.yaml)")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise LintError(f"{path}: not a mapping")
    names = {"chart-dirs", "target-branch", "remote", "check-version-increment", "validate-maintainers"}
    settings = {k.replace("-", "_"): v for k, v in raw.items() if k in names}
    if isinstance(settings.get("chart_dirs"), list):
        settings["chart_dirs"] = tuple(settings["chart_dirs"])
    return CtConfig(root=path.parent, **settings)


def _helm_lint(chart: Path, values_file: Path, major: int) -> list[str]:
    """helm's [ERROR] and [WARNING] entries (an entry may span lines), each made one line."""
    cmd = [str(helm_path(major)), "lint", "--strict", str(chart), "--values", str(values_file),
           "--kube-version", DEFAULT_KUBE_VERSION]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    entries: list[str] = []
    for line in done.stdout.splitlines():
        if line.startswith(("[ERROR]", "[WARNING]", "[INFO]")):
            entries.append(line)
        elif entries and line.strip():
            entries[-1] += " " + line.strip()
    found = [" ".join(e.split()) for e in entries if not e.startswith("[INFO]")]
    if done.returncode != 0 and not found:
        found = [(done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]]
    return [f"{values_file}: helm {major} lint: {entry}" for entry in found]


def _validate(chart: Path, values_file: Path) -> list[str]:
    try:
        objects = render([values_file], chart=chart)
    except RenderError as err:
        return [f"{values_file}: render: {' '.join(str(err).split())}"]
    return [f"{values_file}: validate: {finding}" for finding in validate(objects)]


Step = tuple[str, Callable[[], list[str]]]


def _chart_steps(config: CtConfig, chart: Path, since: str | None) -> list[Step]:
    """(name, check) for every check of one chart, in the order they run."""
    scenarios = sorted(chart.glob("ci/*-values.yaml"))
    changelog = config.root / "CHANGELOG.md"
    steps: list[Step] = [
        ("Chart.yaml", lambda: lint_chart.chart_findings(chart / "Chart.yaml", config.validate_maintainers)),
        ("yamllint", lambda: yaml_style.findings(config.root, yaml_style.files(config.root, chart))),
    ]
    if changelog.is_file():
        steps.append(("changelog", lambda: lint_chart.changelog_findings(chart / "Chart.yaml", changelog)))
    if config.check_version_increment:
        steps.append(("version increment", lambda: _version_findings(config, chart, since)))
    for major in HELM_MAJORS:
        steps.append(
            (f"helm {major} lint", lambda m=major: [f for v in scenarios for f in _helm_lint(chart, v, m)])
        )
    steps.append(("validate", lambda: [f for v in scenarios for f in _validate(chart, v)]))
    return steps


def _version_findings(config: CtConfig, chart: Path, since: str | None) -> list[str]:
    try:
        ref = since or version_bump.default_ref(config.root, config.remote, config.target_branch)
        return version_bump.findings(config.root, chart, ref)
    except version_bump.GitError as err:
        raise LintError(f"version increment: {err}") from err


def lint(config: CtConfig, since: str | None, progress: Callable[[str], None]) -> list[str]:
    """Every finding of every chart; `progress` hears each step's name and finding count."""
    charts = config.charts()
    if not charts:
        raise LintError(f"no Chart.yaml under {', '.join(config.chart_dirs)} (ct.yaml chart-dirs)")
    findings: list[str] = []
    for chart in charts:
        for name, step in _chart_steps(config, chart, since):
            found = step()
            progress(f"{chart.name}: {name}: {len(found) or 'ok'}")
            findings += found
    return findings
