"""The commands the cluster tier runs (docker, kind, kubectl, git): output captured, a deadline
each, a failure as one line naming the command. Tests replace this with a fake that records."""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path

from chart_tools import ROOT


class CommandError(RuntimeError):
    """A command failed or ran past its deadline; the message names it and its last output line."""


def _name(argv: list[str]) -> str:
    return " ".join(a for a in argv[:3] if not a.startswith("--kubeconfig"))


class Background:
    """A long-running command (kubectl port-forward): its output lines as they come."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.popen = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, timeout: float) -> str:
        """The next output line; CommandError when the command ended or said nothing in time."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise CommandError(f"{_name(self.argv)}: no output after {timeout:.0f} s") from None
        if line is None:
            raise CommandError(f"{_name(self.argv)} ended (exit {self.popen.wait()})")
        return line

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()


class Shell:
    """Runs commands from the project root."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env

    def run(self, argv: list[str], timeout: float = 600, input: str | None = None, cwd: Path = ROOT) -> str:
        """Standard output (standard error folded in) of a command that must succeed."""
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.env,
                cwd=cwd,
            )
        except FileNotFoundError:
            raise CommandError(f"{argv[0]}: not found on PATH") from None
        except subprocess.TimeoutExpired:
            raise CommandError(f"{_name(argv)}: not done after {timeout:.0f} s") from None
        if done.returncode != 0:
            lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()] or ["no output"]
            raise CommandError(f"{_name(argv)} failed (exit {done.returncode}): {lines[-1].strip()}")
        return done.stdout + done.stderr

    def start(self, argv: list[str]) -> Background:
        return Background(argv, self.env)
