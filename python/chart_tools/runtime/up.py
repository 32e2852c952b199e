"""`chart-tools up`: the smoke's stack, kept running for a person to use until Ctrl-C or SIGTERM.

Everything up to the example DAG being parsed is the smoke's (same phases, same progress lines).
Then, instead of proving a run, it waits for Airflow's own health report, prints how to reach
the UI (and Flower), writes the same details to a file only the user can read, and keeps every
process running. A lock on that folder refuses a second `up` while one runs; the operating
system releases it when the process ends, so a killed `up` never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chart_tools import ROOT
from chart_tools.airflow_api import Airflow, all_healthy
from chart_tools.chart.render import Manifest
from chart_tools.runtime.plan import RunPlan, RunPlanError
from chart_tools.runtime.processes import StepError, wait_until
from chart_tools.runtime.smoke import Smoke, admin_credentials, service_url

# Where a running `up` keeps its lock and details; a test or a second checkout may point it elsewhere.
STATE_DIR = Path(os.environ.get("CHART_TOOLS_UP_DIR", ROOT / ".up"))
LIVENESS_INTERVAL = 2.0  # seconds between checks that every started process still runs


class AlreadyUp(RuntimeError):
    """Another `up` holds the lock; the message says where it serves and how to stop it."""


@contextlib.contextmanager
def single_instance(state_dir: Path) -> Iterator[Path]:
    """Hold the lock for the whole run; yield the details file's path (removed at the end)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    details = state_dir / "up.json"
    with open(state_dir / "lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyUp(_running_message(details)) from None
        try:
            yield details
        finally:
            details.unlink(missing_ok=True)


def _running_message(details: Path) -> str:
    try:
        running = json.loads(details.read_text())
    except (OSError, ValueError):
        return f"another `chart-tools up` is starting (lock in {details.parent})"
    return (
        f"already running (pid {running['pid']}): UI {running['url']}; "
        f"stop it with Ctrl-C where it runs or `kill -INT {running['pid']}`"
    )


def task_log_folder(plan: RunPlan) -> str:
    """Where the pod that runs tasks (Celery worker, else the scheduler) writes task logs."""
    for component in ("worker", "scheduler"):
        with contextlib.suppress(RunPlanError):
            env = plan.pod(component).main[0].env
            if "AIRFLOW__LOGGING__BASE_LOG_FOLDER" in env:
                return env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]
    return "not on this machine (remote logging)"


def flower_login(plan: RunPlan) -> tuple[str, str] | None:
    """Flower's user and password from its rendered basic-auth setting; None without Flower."""
    with contextlib.suppress(RunPlanError):
        auth = plan.pod("flower").main[0].env.get("AIRFLOW__CELERY__FLOWER_BASIC_AUTH", "")
        if ":" in auth:
            user, _, password = auth.partition(":")
            return user, password
    return None


class Up(Smoke):
    """One `up`: starts as the smoke does, then serves until interrupted."""

    command = "up"

    def __init__(self, values_files: list[Path], details: Path, helm_major: int = 3) -> None:
        super().__init__(values_files, helm_major=helm_major)
        self.details = details

    def use(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> None:
        self.phase("healthy", lambda: self._wait_healthy(api))
        access = self.access(api, plan, objects)
        write_private(self.details, json.dumps(access, indent=2) + "\n")
        print(banner(access, self.details), flush=True)
        self._serve()

    def _wait_healthy(self, api: Airflow) -> None:
        """Airflow's own view: the metadata database, scheduler, triggerer, dag-processor healthy."""
        last: dict[str, str] = {}

        def healthy() -> bool:
            last.update(api.health())
            return all_healthy(last)

        try:
            wait_until("Airflow healthy", healthy, self.deadline("ready"), self.runner, interval=2)
        except StepError as err:
            raise StepError("healthy", f"{err}; last report {last}") from None

    def access(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> dict[str, Any]:
        """What a person needs to use the stack (also written to the details file)."""
        user, password = admin_credentials(plan)
        access: dict[str, Any] = {
            "pid": os.getpid(),
            "url": api.base_url,
            "username": user,
            "password": password,
            "container_logs": str(self.runner.logs),
            "task_logs": task_log_folder(plan),
            "run_dir": str(self.run_dir),
        }
        if login := flower_login(plan):
            access["flower"] = {"url": service_url(plan, objects, "flower"), "username": login[0],
                                "password": login[1]}  # fmt: skip
        return access

    def _serve(self) -> None:
        """Keep running until Ctrl-C or SIGTERM; exited containers are restarted (said on stderr),
        one that keeps exiting ends the run (reported)."""
        try:
            while True:
                self.runner.check_alive()
                time.sleep(LIVENESS_INTERVAL)
        except KeyboardInterrupt:
            self.say("stopping every process ...")


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds passwords)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(text)


def banner(access: dict[str, Any], details: Path) -> str:
    lines = [
        "",
        "Airflow is up.",
        f"  UI and REST API  {access['url']}/",
        f"  login            {access['username']} / {access['password']}",
    ]
    if flower := access.get("flower"):
        lines.append(
            f"  Flower           {flower['url']}/  (login {flower['username']} / {flower['password']})"
        )
    lines += [
        f"  container logs   {access['container_logs']}/",
        f"  task logs        {access['task_logs']}",
        f"  these details    {details} (readable by you only)",
        f"Stop with Ctrl-C (or `kill -INT {access['pid']}`): every process is stopped.",
        "",
    ]
    return "\n".join(lines)
