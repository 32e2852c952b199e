"""yamllint over the chart's YAML files with the project's checked-in rules (.yamllint.yaml)."""

from __future__ import annotations

from pathlib import Path

from yamllint import linter
from yamllint.config import YamlLintConfig

CONFIG_FILE = ".yamllint.yaml"


def files(root: Path, chart: Path) -> list[Path]:
    """Chart.yaml, values.yaml, the chart's ci/ scenarios and the project's values/ profiles."""
    found = [chart / "Chart.yaml", chart / "values.yaml", *sorted(chart.glob("ci/*.yaml"))]
    return found + sorted((root / "values").glob("*.yaml"))


def findings(root: Path, paths: list[Path]) -> list[str]:
    """`file:line:column: [level] message (rule)` for every problem, warnings included."""
    config_file = root / CONFIG_FILE
    if config_file.is_file():
        config = YamlLintConfig(file=str(config_file))
    else:
        config = YamlLintConfig("extends: default")
    return [
        f"{path}:{p.line}:{p.column}: [{p.level}] {p.desc} ({p.rule})"
        for path in paths
        for p in linter.run(path.read_text(), config, str(path))
    ]
