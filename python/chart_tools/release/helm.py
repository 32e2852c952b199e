"""helm commands for releasing, each failure reduced to one line naming the step."""

from __future__ import annotations

import subprocess

from chart_tools.toolchain import helm_path


class ReleaseError(RuntimeError):
    """A packaging or publishing step failed; the message is one line naming the step."""


def run(major: int, args: list[str], what: str) -> str:
    """helm's standard output; ReleaseError with helm's own error line on failure."""
    done = subprocess.run([str(helm_path(major)), *args], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()] or [f"exit {done.returncode}"]
        reason = next((ln for ln in lines if ln.startswith("Error:")), lines[-1]).removeprefix("Error: ")
        raise ReleaseError(f"{what}: {reason}")
    return done.stdout
