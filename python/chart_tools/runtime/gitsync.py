"""A stand-in for the git-sync v4 container, for the runtime tier only.

The git-sync image cannot run here (no container engine, no registry), yet the git DAG modes
hinge on one contract: git-sync publishes each sync as a worktree behind the `--link` symlink,
and Airflow's DAG bundle reads through that link. This module keeps that contract with real
`git`: it accepts the rendered container's arguments (strictly: an unknown or unsupported flag
is an error), fetches `--ref`, checks the commit out as a worktree under `--root`, swaps the
link atomically, and with `--period` keeps pulling and serves the `/` health endpoint. What it
proves is the chart's wiring with real Airflow; git-sync's own behaviour (auth, SSH, retries)
is git-sync's, checked only against its documented flags in the render tier.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from chart_tools.runtime.services import free_port

IMAGE = "registry.k8s.io/git-sync/git-sync"
SUPPORTED = {
    *("repo", "ref", "depth", "submodules", "root", "link"),
    *("max-failures", "one-time", "period", "http-bind"),
}
_DURATION = re.compile(r"([0-9.]+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


class GitSyncError(RuntimeError):
    """A sync failed or the arguments are outside what the stand-in supports."""


def plan(args: list[str]) -> tuple[list[str], dict[str, int]]:
    """argv of the stand-in for a rendered git-sync container (paths already mapped into the pod),
    and its health port: container port -> a free local port."""
    argv = [sys.executable, "-m", "chart_tools.runtime.gitsync"]
    ports: dict[str, int] = {}
    for arg in args:
        name, _, value = arg.removeprefix("--").partition("=")
        if name == "http-bind":
            ports[value.rsplit(":", 1)[1]] = port = free_port()
            arg = f"--http-bind=127.0.0.1:{port}"
        argv.append(arg)
    return argv, ports


def parse(args: list[str]) -> dict[str, str | None]:
    flags: dict[str, str | None] = {}
    for arg in args:
        if not arg.startswith("--"):
            raise GitSyncError(f"unexpected argument {arg!r}")
        name, eq, value = arg[2:].partition("=")
        if name not in SUPPORTED:
            raise GitSyncError(f"--{name} is not supported by the runtime tier's git-sync stand-in")
        flags[name] = value if eq else None
    for required in ("repo", "root"):
        if not flags.get(required):
            raise GitSyncError(f"--{required} is required")
    return flags


def seconds(duration: str) -> float:
    """A Go duration such as 1m30s."""
    if not re.fullmatch(r"(?:[0-9.]+(?:ms|s|m|h))+", duration):
        raise GitSyncError(f"bad duration {duration!r}")
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(duration))


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise GitSyncError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def sync_once(flags: dict[str, str | None]) -> str:
    """Fetch the ref, check it out as a worktree, point the link at it; return the commit."""
    root = Path(flags["root"])
    link = Path(flags.get("link") or Path(flags["repo"].rstrip("/")).name.removesuffix(".git"))
    link = link if link.is_absolute() else root / link
    root.mkdir(parents=True, exist_ok=True)
    if not (root / ".git").exists():
        _git("init", "-q", cwd=root)
    depth = int(flags.get("depth") or 1)
    fetch = ["fetch", "-q", "--no-tags", *([f"--depth={depth}"] if depth else [])]
    _git(*fetch, flags["repo"], flags.get("ref") or "HEAD", cwd=root)
    commit = _git("rev-parse", "FETCH_HEAD", cwd=root)
    worktree = root / ".worktrees" / commit
    if not worktree.exists():
        _git("worktree", "add", "-q", "--detach", str(worktree), commit, cwd=root)
        if (flags.get("submodules") or "recursive") != "off":
            _git("submodule", "update", "--init", "--recursive", cwd=worktree)
    link.parent.mkdir(parents=True, exist_ok=True)
    staged = link.parent / f".{link.name}.new"
    staged.unlink(missing_ok=True)
    staged.symlink_to(os.path.relpath(worktree, link.parent))
    os.replace(staged, link)  # consumers never see a half-built folder
    for old in (root / ".worktrees").iterdir():
        if old != worktree:
            shutil.rmtree(old)
    _git("worktree", "prune", cwd=root)
    return commit


def serve_health(bind: str, synced: threading.Event) -> None:
    """`/` answers 503 until the first sync, then 200 (git-sync's documented probe endpoint)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if synced.is_set() else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    host, port = bind.rsplit(":", 1)
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main(args: list[str]) -> int:
    try:
        flags = parse(args)
        period = seconds(flags.get("period") or "10s")
        max_failures = int(flags.get("max-failures") or 0)
    except (GitSyncError, ValueError) as err:
        print(f"git-sync stand-in: {err}", file=sys.stderr)
        return 2
    synced = threading.Event()
    if flags.get("http-bind"):
        serve_health(flags["http-bind"], synced)
    failures, last = 0, ""
    while True:
        try:
            commit = sync_once(flags)
            if commit != last:
                print(f"git-sync stand-in: synced {flags['repo']} at {commit}", file=sys.stderr, flush=True)
            synced.set()
            failures, last = 0, commit
        except GitSyncError as err:
            failures += 1
            print(f"git-sync stand-in: {err}", file=sys.stderr, flush=True)
            if not synced.is_set() or (0 <= max_failures < failures):
                return 1
        if "one-time" in flags:
            return 0
        time.sleep(period)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
