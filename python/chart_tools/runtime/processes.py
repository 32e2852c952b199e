"""Run a RunPlan's processes: init containers to completion, main containers in the background.

Every process runs in its own session (process group) so that stopping it also stops what it
spawned (api-server workers, LocalExecutor task processes). Output goes to one log file per
container; failures carry the step and the tail of every log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chart_tools import ROOT
from chart_tools.runtime.plan import PodPlan, Process

AIRFLOW_VENV = ROOT / ".venv-airflow"
STOP_GRACE_SECONDS = 15


class StepError(RuntimeError):
    """A step of the run failed; `step` says which."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step


def airflow_bin() -> Path:
    path = AIRFLOW_VENV / "bin"
    if not (path / "airflow").exists():
        raise StepError("setup", f"Airflow is not installed in {AIRFLOW_VENV}: run `make setup-runtime`")
    return path


def process_env(process: Process) -> dict[str, str]:
    """The container env plus what a shell needs; the caller's environment does not leak in.

    HOSTNAME is set as the kubelet sets it (probes such as Celery's ping rely on it)."""
    base = {
        "PATH": f"{airflow_bin()}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "HOSTNAME": socket.gethostname(),
    }
    return {**base, **process.env}


@dataclass
class Running:
    process: Process
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Runner:
    """Starts and stops the processes of one run; logs under `logs`."""

    logs: Path
    running: list[Running] = field(default_factory=list)
    oneshots: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def log_path(self, process: Process) -> Path:
        return self.logs / f"{process.pod}.{process.container}.log"

    def _popen(self, process: Process) -> tuple[subprocess.Popen[bytes], Path]:
        if self.stopped:  # a starter thread outlived stop_all (Ctrl-C): start nothing more
            raise StepError(process.name, "not started: the run is stopping")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.log_path(process)
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                process.argv,
                env=process_env(process),
                cwd=process.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return popen, log

    def run_to_completion(self, process: Process, timeout: float) -> None:
        """Run a one-shot container (init container, Job); non-zero exit is a StepError."""
        popen, log = self._popen(process)
        with self._lock:
            self.oneshots.append(popen)
        try:
            code = popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(popen)
            raise StepError(process.name, f"did not finish within {timeout:.0f} s (log: {log})") from None
        if code != 0:
            raise StepError(process.name, f"exited with code {code}")

    def start(self, process: Process) -> Running:
        popen, log = self._popen(process)
        running = Running(process, popen, log)
        with self._lock:
            self.running.append(running)
        return running

    def start_pod(self, pod: PodPlan, timeout: float) -> None:
        """Init containers in order, then every main container in the background."""
        for init in pod.init:
            self.run_to_completion(init, timeout)
        for main in pod.main:
            self.start(main)

    def start_pod_to_completion(self, pod: PodPlan, timeout: float) -> None:
        """A Job's pod: every container, init then main, must exit 0."""
        for process in pod.init + pod.main:
            self.run_to_completion(process, timeout)

    def check_alive(self) -> None:
        """A main container that exited is a failure: Kubernetes would restart it, we report it."""
        with self._lock:
            for r in self.running:
                code = r.popen.poll()
                if code is not None:
                    raise StepError(r.process.name, f"exited with code {code} while it should be running")

    def stop_all(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after the grace period."""
        with self._lock:
            self.stopped = True
            popens = [r.popen for r in self.running] + self.oneshots
            for popen in popens:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for popen in popens:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                stop_group(popen)

    def tails(self, lines: int = 25) -> str:
        """The last lines of every container log, for failure reports."""
        out = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"----- {log.stem} (last {len(text)} lines of {log}) -----")
            out.extend(text)
        return "\n".join(out)


def stop_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of a process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=5)


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, runner: Runner, interval: float = 1.0
) -> float:
    """Poll `check` until true; fail early if a workload died; return the seconds waited."""
    start = time.monotonic()
    while True:
        runner.check_alive()
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise StepError(what, f"not done after {timeout:.0f} s")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 5) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=timeout) as response:
        return 200 <= response.status < 400
    return False


def probe_port(process: Process, port: int | str) -> int:
    """The local port behind a probe's port (a container port name or number)."""
    if str(port) not in process.ports:
        raise StepError(f"{process.name} probe", f"port {port} is not a port of the container")
    return process.ports[str(port)]


def probe_url(process: Process, http_get: dict) -> str:
    return f"http://127.0.0.1:{probe_port(process, http_get['port'])}{http_get.get('path', '/')}"


def run_probe(process: Process, probe: dict, timeout: float = 120) -> None:
    """Run a container's probe once against the local process, as the kubelet would."""
    if "httpGet" in probe:
        url = probe_url(process, probe["httpGet"])
        if not http_ok(url):
            raise StepError(f"{process.name} probe", f"GET {url} did not answer 2xx/3xx")
    elif "tcpSocket" in probe:
        port = probe_port(process, probe["tcpSocket"]["port"])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        except OSError as err:
            raise StepError(f"{process.name} probe", f"TCP 127.0.0.1:{port}: {err}") from None
    elif "exec" in probe:
        done = subprocess.run(
            probe["exec"]["command"],
            env=process_env(process),
            cwd=process.root,
            capture_output=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()[-5:]
            raise StepError(
                f"{process.name} probe", f"{probe['exec']['command']} exited {done.returncode}: {output}"
            )
    else:
        raise StepError(f"{process.name} probe", f"probe type {sorted(probe)} is not emulated")


def echo(message: str) -> None:
    print(message, flush=True, file=sys.stderr)
