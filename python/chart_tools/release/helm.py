"""helm commands for releasing, each with its own helm home so a user's repositories and
registry logins are never read or changed (and tests never touch the machine's)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from chart_tools.toolchain import helm_path


class ReleaseError(RuntimeError):
    """A packaging or publishing step failed; the message is one line naming the step."""


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for a helm whose config, cache, data and registry logins live under `home`."""
    return {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_REGISTRY_CONFIG": str(home / "config" / "registry.json"),
    }


def run(major: int, args: list[str], what: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    """helm's standard output; ReleaseError with helm's own first error line on failure."""
    done = subprocess.run(
        [str(helm_path(major)), *args], capture_output=True, text=True, env=env, input=stdin
    )
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()] or [f"exit {done.returncode}"]
        reason = next((ln for ln in lines if ln.startswith("Error:")), lines[-1]).removeprefix("Error: ")
        raise ReleaseError(f"{what}: {reason}")
    return done.stdout
