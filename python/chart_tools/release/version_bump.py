"""The version-increment check: a chart changed since REF must have a higher version than at REF.

"Changed" means committed changes between REF and HEAD (as in a pull request), not edits still in
the working tree: work in progress does not need a version yet, a merged change does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import semver
import yaml


class GitError(RuntimeError):
    """git could not answer (not a repository, unknown ref); the message is one line."""


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise GitError(f"git {' '.join(args)}: {reason}")
    return done.stdout


def default_ref(root: Path, remote: str, target_branch: str) -> str:
    """The merge base of HEAD with ct.yaml's target branch (remote-tracking branch first)."""
    for branch in (f"{remote}/{target_branch}", target_branch):
        try:
            _git(root, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}")
        except GitError:
            continue
        return _git(root, "merge-base", "HEAD", branch).strip()
    raise GitError(f"neither {remote}/{target_branch} nor {target_branch} exists: pass --since REF")


def _version(text: str, where: str) -> semver.Version:
    raw = str(yaml.safe_load(text).get("version", ""))
    try:
        return semver.Version.parse(raw)
    except ValueError as err:
        raise GitError(f"{where}: version {raw!r} is not a semantic version") from err


def findings(root: Path, chart: Path, ref: str) -> list[str]:
    """A line naming both versions when the chart changed since `ref` without a higher version."""
    rel = chart.resolve().relative_to(root.resolve()).as_posix()
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError as err:
        raise GitError(f"--since {ref}: not a commit in this repository") from err
    changed = _git(root, "diff", "--name-only", ref, "HEAD", "--", rel).split()
    if not changed:
        return []
    try:
        old_text = _git(root, "show", f"{ref}:{rel}/Chart.yaml")
    except GitError:
        return []  # the chart is new since REF: any version is an increment
    old = _version(old_text, f"{rel}/Chart.yaml at {ref}")
    new = _version(_git(root, "show", f"HEAD:{rel}/Chart.yaml"), f"{rel}/Chart.yaml")
    if new > old:
        return []
    return [
        f"{rel}/Chart.yaml: version: {new} is not higher than {old} at {ref}, but {len(changed)} "
        f"file(s) under {rel} changed since then ({changed[0]}{', ...' if len(changed) > 1 else ''})"
    ]
