"""checkov over rendered manifests: the misconfiguration gate of `chart-tools validate --checkov`.

checkov scans what helm rendered, with `--framework kubernetes --skip-download` (offline): its
`--framework helm` reports 0 resources when helm writes anything to stderr, as Helm 4's warnings
do. A failed check is either fixed in the chart or listed with its reason in checkov-skips.yaml
(at most SKIP_LIMIT IDs). checkov pins packages that clash with ours, so it runs from its own
virtualenv (.venv-checkov, `make setup`).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chart_tools import ROOT
from chart_tools.chart.render import Manifest

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS = ROOT / "checkov-skips.yaml"
SKIP_LIMIT = 6


class CheckovError(RuntimeError):
    """checkov is missing, or did not scan what it was given."""


@dataclass(frozen=True, order=True)
class Failure:
    """One failed check on one object of one render."""

    profile: str
    resource: str  # checkov's Kind.namespace.name
    check: str
    title: str

    def __str__(self) -> str:
        return f"{self.profile}: {self.resource}: [{self.check}] {self.title}"


def skips(path: Path = SKIPS) -> dict[str, str]:
    """The listed check IDs and their reasons."""
    listed = yaml.safe_load(path.read_text()) or {}
    if len(listed) > SKIP_LIMIT:
        raise CheckovError(f"{path.name} lists {len(listed)} checks; at most {SKIP_LIMIT} may be skipped")
    return {check: entry["reason"] for check, entry in listed.items()}


def _reports(stdout: str) -> list[dict[str, Any]]:
    """checkov's JSON: one report per framework, a list when there are several."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        raise CheckovError(f"checkov printed no report: {stdout.strip()[-300:]!r}") from None
    return data if isinstance(data, list) else [data]


def scan(renders: dict[str, list[Manifest]]) -> list[Failure]:
    """Every failed check of every render (name -> objects), in one checkov run."""
    if not CHECKOV.exists():
        raise CheckovError(f"checkov is not installed ({CHECKOV} is missing): run `make setup`")
    with tempfile.TemporaryDirectory(prefix="checkov-") as folder:
        for name, objects in renders.items():
            (Path(folder) / f"{name}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
        command = [str(CHECKOV), "-d", folder, "--framework", "kubernetes", "--skip-download", "--quiet"]
        done = subprocess.run([*command, "--compact", "-o", "json"], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise CheckovError(f"checkov exited {done.returncode}: {done.stderr.strip()[-300:]}")
    reports = _reports(done.stdout)
    scanned = sum(r.get("summary", r).get("resource_count", 0) for r in reports)
    given = sum(map(len, renders.values()))
    if scanned < given:  # checkov skips what it cannot read, silently
        raise CheckovError(f"checkov read {scanned} resources of {given}")
    return sorted(
        Failure(Path(f["file_path"]).stem, f["resource"], f["check_id"], f["check_name"])
        for r in reports
        for f in r.get("results", {}).get("failed_checks", [])
    )


def unlisted(failures: list[Failure], listed: dict[str, str]) -> list[Failure]:
    """The failures no skip entry explains: the gate's findings."""
    return [f for f in failures if f.check not in listed]


def summary(failures: list[Failure], listed: dict[str, str]) -> str:
    """One line: how many failed checks are listed (by ID), how many are not."""
    skipped = Counter(f.check for f in failures if f.check in listed)
    by_id = ", ".join(f"{check} {n}" for check, n in sorted(skipped.items())) or "none"
    count = len(unlisted(failures, listed))
    return f"checkov: {count} unlisted failed checks; listed in {SKIPS.name}: {by_id}"
