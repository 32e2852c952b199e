"""`chart-tools lint`: each check finds what it should, named by file (and key or line)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chart_tools import CHART, ROOT
from chart_tools.release import lint, lint_chart, version_bump, yaml_style
from chart_tools.release.annotations import changelog_sections

GOOD_CHART = {
    "apiVersion": "v2",
    "name": "demo",
    "description": "A chart used to test the Chart.yaml schema",
    "type": "application",
    "version": "1.2.3",
    "appVersion": "3.3.2",
    "kubeVersion": ">=1.30.0-0",
    "keywords": ["demo"],
    "maintainers": [{"name": "Team", "email": "team@example.org"}],
}


def _chart_file(tmp_path: Path, **changes: object) -> Path:
    meta = {**GOOD_CHART, **changes}
    path = tmp_path / "Chart.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in meta.items() if v is not None}))
    return path


def test_a_good_chart_yaml_has_no_findings(tmp_path: Path) -> None:
    assert lint_chart.chart_findings(_chart_file(tmp_path), validate_maintainers=True) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"apiVersion": "v1"}, "apiVersion: 'v1' not in ('v2',)"),
        ({"version": "1.2"}, "version: '1.2' is not a valid semantic version"),
        ({"description": None}, "description: Required field missing"),
        ({"kubeVersion": None}, "kubeVersion: Required field missing"),
        ({"home": "http://charts.example.org"}, "home: 'http://charts.example.org' is not a valid https URL"),
        ({"sources": ["https://ok.example.org", "ftp://x"]}, "sources.1: 'ftp://x' is not a valid https URL"),
        ({"maintainers": [{"name": "A", "email": "a.org"}]}, "maintainers.0.email: 'a.org' is not a valid"),
        ({"maintainers": []}, "maintainers: Length of [] is less than 1"),
        ({"homepage": "https://x.example.org"}, "homepage: Unexpected element"),
        ({"name": "Demo_Chart"}, "name: 'Demo_Chart' is not a valid lowercase DNS label"),
    ],
)
def test_chart_yaml_schema_names_the_key(tmp_path: Path, changes: dict, expected: str) -> None:
    findings = lint_chart.chart_findings(_chart_file(tmp_path, **changes), validate_maintainers=True)
    assert any(expected in f for f in findings), findings
    assert all(f.startswith(f"{tmp_path / 'Chart.yaml'}: ") for f in findings)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"artifacthub.io/images": "- name: x\n  image: redis\n"}, "artifacthub.io/images.0.image: 'redis'"),
        ({"artifacthub.io/changes": "- kind: improved\n  description: x\n"}, "artifacthub.io/changes.0.kind"),
        ({"artifacthub.io/links": "- name: docs\n  url: http://x.org\n"}, "artifacthub.io/links.0.url"),
        ({"artifacthub.io/signKey": "fingerprint: abc\nurl: https://x.org/k.asc\n"}, "signKey.fingerprint"),
        ({"artifacthub.io/license": "Apache 2"}, "artifacthub.io/license: 'Apache 2' is not a SPDX"),
        ({"artifacthub.io/images": "- name: [\n"}, "annotations.artifacthub.io/images: not YAML"),
    ],
)
def test_artifact_hub_annotations_are_checked(tmp_path: Path, annotations: dict, expected: str) -> None:
    findings = lint_chart.chart_findings(_chart_file(tmp_path, annotations=annotations), True)
    assert any(expected in f for f in findings), findings


def test_unreachable_maintainer_only_when_ct_validates_maintainers(tmp_path: Path) -> None:
    path = _chart_file(tmp_path, maintainers=[{"name": "Nobody"}])
    assert lint_chart.chart_findings(path, validate_maintainers=True) == [
        f"{path}: maintainers.0: Nobody has neither email nor url"
    ]
    assert lint_chart.chart_findings(path, validate_maintainers=False) == []


def test_changelog_sections_become_artifact_hub_changes() -> None:
    text = (
        "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2026-01-02\n\n### Added\n- Feature one,\n"
        "  continued.\n- Feature two.\n\n### Security\n- Patched.\n\n"
        "## [1.0.0] - 2026-01-01\n### Fixed\n- Bug.\n"
    )
    assert changelog_sections(text) == {
        "Unreleased": [],
        "1.1.0": [
            {"kind": "added", "description": "Feature one, continued."},
            {"kind": "added", "description": "Feature two."},
            {"kind": "security", "description": "Patched."},
        ],
        "1.0.0": [{"kind": "fixed", "description": "Bug."}],
    }


def test_a_version_without_changelog_entries_is_a_finding(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [1.2.2] - 2026-01-01\n### Fixed\n- Bug.\n")
    assert lint_chart.changelog_findings(_chart_file(tmp_path), changelog) == [
        f"{changelog}: no entries under '## [1.2.3]' (Chart.yaml's version)"
    ]


def test_the_changes_annotation_must_be_the_changelog_section(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("## [1.2.3] - 2026-01-01\n### Fixed\n- Bug.\n")
    stale = {"artifacthub.io/changes": "- kind: fixed\n  description: Another bug.\n"}
    findings = lint_chart.changelog_findings(_chart_file(tmp_path, annotations=stale), changelog)
    assert findings == [f"{tmp_path / 'Chart.yaml'}: annotations.artifacthub.io/changes: not {changelog}'s "
                        "[1.2.3]: run `chart-tools docs`"]  # fmt: skip


def test_yamllint_reports_duplicate_keys_with_their_line(tmp_path: Path) -> None:
    values = tmp_path / "dup-values.yaml"
    values.write_text("cluster:\n  enabled: true\nbase:\n  enabled: true\ncluster:\n  enabled: false\n")
    assert yaml_style.findings(ROOT, [values]) == [
        f'{values}:5:1: [error] duplication of key "cluster" in mapping (key-duplicates)'
    ]


def test_ct_yaml_is_read_with_cts_defaults(tmp_path: Path) -> None:
    (tmp_path / "ct.yaml").write_text("chart-dirs: [charts]\ntarget-branch: main\nhelm-extra-args: --x\n")
    config = lint.load_config(tmp_path / "ct.yaml")
    assert (config.chart_dirs, config.target_branch, config.remote) == (("charts",), "main", "origin")
    assert config.check_version_increment and config.validate_maintainers
    with pytest.raises(lint.LintError, match="not found"):
        lint.load_config(tmp_path / "missing.yaml")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the project's chart and lint inputs, one commit on main."""
    root = tmp_path / "project"
    shutil.copytree(CHART, root / "charts" / "airflow")
    shutil.copytree(ROOT / "values", root / "values")
    for name in ("ct.yaml", ".yamllint.yaml", "CHANGELOG.md"):
        shutil.copy(ROOT / name, root / name)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "chart")
    return root


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", message)


def _set_version(repo: Path, version: str) -> None:
    path = repo / "charts" / "airflow" / "Chart.yaml"
    path.write_text(path.read_text().replace(f"version: {GOOD_VERSION}\n", f"version: {version}\n", 1))


GOOD_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]


def test_version_increment(repo: Path) -> None:
    chart = repo / "charts" / "airflow"
    assert version_bump.findings(repo, chart, "HEAD") == []  # nothing committed since
    (repo / "README.txt").write_text("outside the chart\n")
    _commit(repo, "docs only")
    assert version_bump.findings(repo, chart, "HEAD~1") == []
    (chart / "templates" / "NOTES.txt").write_text("changed\n")
    _commit(repo, "template")
    assert version_bump.findings(repo, chart, "HEAD~1") == [
        f"charts/airflow/Chart.yaml: version: {GOOD_VERSION} is not higher than {GOOD_VERSION} at HEAD~1, "
        "but 1 file(s) under charts/airflow changed since then (charts/airflow/templates/NOTES.txt)"
    ]
    _set_version(repo, "99.0.0")
    _commit(repo, "bump")
    assert version_bump.findings(repo, chart, "HEAD~2") == []
    assert version_bump.default_ref(repo, "origin", "main") == _git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(version_bump.GitError, match="--since nope: not a commit"):
        version_bump.findings(repo, chart, "nope")
    with pytest.raises(version_bump.GitError, match="neither origin/trunk nor trunk exists"):
        version_bump.default_ref(repo, "origin", "trunk")


def test_lint_command_on_a_commit_without_version_bump(repo: Path) -> None:
    """The whole `chart-tools lint` on the project's chart: only the two planted faults are found."""
    chart = repo / "charts" / "airflow"
    template = chart / "templates" / "NOTES.txt"
    template.write_text(template.read_text() + "\nOne more line.\n")
    scenario = chart / "ci" / "metrics-values.yaml"
    lines = scenario.read_text().splitlines()
    scenario.write_text(scenario.read_text() + "cluster:\n  enabled: true\n")
    _commit(repo, "template changed, version not bumped, a duplicate key")
    done = subprocess.run(
        [sys.executable, "-m", "chart_tools.cli", "lint", "--since", "HEAD~1"],
        cwd=repo, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    findings = done.stdout.splitlines()
    duplicate = f"charts/airflow/ci/metrics-values.yaml:{len(lines) + 1}:1: [error] duplication of key "
    assert duplicate in findings[0]
    assert findings[1].startswith(
        f"charts/airflow/Chart.yaml: version: {GOOD_VERSION} is not higher than {GOOD_VERSION} at HEAD~1"
    )
    assert len(findings) == 2, findings
    assert "airflow: helm 4 lint: ok" in done.stderr


def test_lint_without_ct_yaml_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chart_tools.cli", "lint"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr == (
        "chart-tools lint: ct.yaml: not found (chart-tools lint reads chart-testing's ct.yaml)\n"
    )
