"""Run a RunPlan's processes: init containers to completion, main containers in the background.

Every process runs in its own session (process group) so that stopping it also stops what it
spawned (api-server workers, LocalExecutor task processes). Output goes to one log file per
container; failures carry the step and the tail of every log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chart_tools import ROOT
from chart_tools.runtime.plan import PodPlan, Process

AIRFLOW_VENV = ROOT / ".venv-airflow"
STOP_GRACE_SECONDS = 15


class StepError(RuntimeError):
    """A step of the run failed; `step` says which."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step, self.message = step, message


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


# The kubelet restarts an exited container at once the first time, then after 10 s, doubling up to
# five minutes; a container that ran ten minutes without trouble starts again from no delay.
BACKOFF_SECONDS = (0, 10, 20, 40, 80, 160, 300)
BACKOFF_RESET_SECONDS = 600
# A container that keeps exiting fails the run once it has been restarted this many times in a row.
CRASH_LOOP_RESTARTS = 3
SUPERVISE_INTERVAL = 0.25


def backoff(restarts: int) -> float:
    """Seconds to wait before the next restart after `restarts` restarts in a row."""
    return BACKOFF_SECONDS[min(restarts, len(BACKOFF_SECONDS) - 1)]


def exit_reason(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


@dataclass
class Container:
    """A main container as the kubelet keeps it: its current process, how often it was restarted
    and why."""

    process: Process
    popen: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)
    restarts: int = 0
    streak: int = 0  # restarts since the container last ran BACKOFF_RESET_SECONDS
    reasons: list[str] = field(default_factory=list)  # why each exit happened, oldest first
    exited_at: float | None = None  # set while it waits for its back-off to end
    kill_reason: str = ""  # why we are stopping it (a failed probe), reported instead of its exit code

    @property
    def name(self) -> str:
        return self.process.name

    def signal(self, sig: signal.Signals, everyone: bool = True) -> None:
        """Signal every process of the container, or with `everyone` false its main process."""
        signal_session(self.popen.pid, sig) if everyone else signal_pids([self.popen.pid], sig)


@dataclass
class Spawned:
    """A container started by `Runner.spawn`: its process, its log and the thread writing it."""

    popen: subprocess.Popen[bytes]
    log: Path
    copier: threading.Thread

    def wait(self) -> int:
        """Wait for the exit and the last log line; the exit code as a container runtime reports
        it (128 + the signal for a killed process)."""
        code = self.popen.wait()
        self.copier.join()
        return 128 - code if code < 0 else code


def log_timestamp() -> bytes:
    """RFC 3339 with nanoseconds, as container runtimes stamp log lines."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z").encode()


def copy_timestamped(popen: subprocess.Popen[bytes], log: Path) -> None:
    """Copy a process's output into its log, each line prefixed with the time it arrived."""
    assert popen.stdout is not None
    with open(log, "ab") as out:
        for line in iter(popen.stdout.readline, b""):
            out.write(log_timestamp() + b" " + line.rstrip(b"\n") + b"\n")
            out.flush()
    popen.stdout.close()


def first_due(c: Container, kind: str) -> float:
    """When a probe first runs: its initialDelaySeconds after the container started."""
    return c.started + c.process.probes.get(f"{kind}Probe", {}).get("initialDelaySeconds", 0)


@dataclass
class Runner:
    """Starts, supervises and stops the processes of one run; logs under `logs`.

    Main containers are restarted when they exit, as `restartPolicy: Always` does, and their
    liveness (and startup) probes run on their periods; `events` records each restart."""

    logs: Path
    running: list[Container] = field(default_factory=list)
    oneshots: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sessions: dict[int, str] = field(default_factory=dict)  # session id -> container, every process started
    stopped: bool = False
    events: list[str] = field(default_factory=list)
    on_event: Callable[[str], None] | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _supervisor: threading.Thread | None = None

    def log_path(self, process: Process) -> Path:
        return self.logs / f"{process.pod}.{process.container}.log"

    def _popen(
        self, process: Process, banner: str = "", timestamps: bool = False
    ) -> tuple[subprocess.Popen[bytes], Path]:
        if self.stopped:  # a starter thread outlived stop_all (Ctrl-C): start nothing more
            raise StepError(process.name, "not started: the run is stopping")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.log_path(process)
        with open(log, "ab") as out:
            if banner:
                out.write(f"----- {banner} -----\n".encode())
                out.flush()
            nice = ["nice", "-n", str(process.nice)] if process.nice else []
            popen = subprocess.Popen(
                [*nice, *process.argv],
                env=process_env(process),
                cwd=process.root,
                stdout=subprocess.PIPE if timestamps else out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.sessions[popen.pid] = process.name
        return popen, log

    def spawn(self, process: Process) -> Spawned:
        """Start a container of a pod created through the Kubernetes API: it runs once, is stopped
        with the run, and its log lines carry the time they were written (as a container runtime
        writes them, for `pods/log?timestamps=true`)."""
        popen, log = self._popen(process, timestamps=True)
        copier = threading.Thread(target=copy_timestamped, args=(popen, log), daemon=True)
        copier.start()
        with self._lock:
            self.oneshots.append(popen)
        return Spawned(popen, log, copier)

    def run_to_completion(self, process: Process, timeout: float) -> None:
        """Run a one-shot container (init container, Job); non-zero exit is a StepError."""
        popen, log = self._popen(process)
        with self._lock:
            self.oneshots.append(popen)
        try:
            code = popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_container(popen)
            raise StepError(process.name, f"did not finish within {timeout:.0f} s (log: {log})") from None
        if code != 0:
            raise StepError(process.name, f"exited with code {code}")

    def start(self, process: Process) -> Container:
        popen, log = self._popen(process)
        container = Container(process, popen, log)
        with self._lock:
            self.running.append(container)
            if self._supervisor is None:
                self._supervisor = threading.Thread(target=self._supervise, daemon=True)
                self._supervisor.start()
        if {"livenessProbe", "startupProbe"} & process.probes.keys():
            threading.Thread(target=self._probe_loop, args=(container,), daemon=True).start()
        return container

    def start_pod(self, pod: PodPlan, timeout: float) -> None:
        """Init containers in order, then every main container in the background."""
        for init in pod.init:
            self.run_to_completion(init, timeout)
        for main in pod.main:
            self.start(main)

    def start_pod_to_completion(self, pod: PodPlan, timeout: float) -> None:
        """A Job's pod: every container, init then main, must exit 0. With `restartPolicy:
        OnFailure` a failed container runs again after the kubelet's back-off, until the Job's
        backoffLimit of failures is used up."""
        failures = 0
        for process in pod.init + pod.main:
            while True:
                try:
                    self.run_to_completion(process, timeout)
                    break
                except StepError as err:
                    failures += 1
                    if pod.restart_policy != "OnFailure" or failures > pod.backoff_limit:
                        raise
                    delay = backoff(failures - 1)
                    limit = f"failure {failures} of the Job's backoffLimit {pod.backoff_limit}"
                    self.event(process.name, f"{err.message}; restart in {delay} s ({limit})")
                    time.sleep(delay)

    def container(self, pod: str, name: str = "") -> Container:
        """The main container `name` of a pod (the pod's only or first one without a name)."""
        with self._lock:
            for c in self.running:
                if c.process.pod == pod and (not name or c.process.container == name):
                    return c
        raise StepError(f"{pod}/{name}", "no such container is running")

    def event(self, name: str, message: str) -> None:
        line = f"{name}: {message}"
        self.events.append(line)
        if self.on_event:
            self.on_event(line)

    # ------------------------------------------------------------ the kubelet's part

    def _supervise(self) -> None:
        while not self.stopped:
            with self._lock:
                for c in list(self.running):
                    self._tend(c, time.monotonic())
            time.sleep(SUPERVISE_INTERVAL)

    def _tend(self, c: Container, now: float) -> None:
        """Notice an exit (and end what is left of the container), restart after the back-off."""
        if c.exited_at is None:
            code = c.popen.poll()
            if code is None or self.stopped:
                return
            stop_container(c.popen)  # a container's processes end with its main process
            if now - c.started >= BACKOFF_RESET_SECONDS:
                c.streak = 0
            c.exited_at = now
            c.reasons.append(c.kill_reason or exit_reason(code))
            c.kill_reason = ""
            self.event(c.name, f"{c.reasons[-1]}; restart in {backoff(c.streak)} s")
        elif now - c.exited_at >= backoff(c.streak):
            c.popen, _ = self._popen(c.process, f"restart {c.restarts + 1} after: {c.reasons[-1]}")
            c.started, c.exited_at = now, None
            c.restarts += 1
            c.streak += 1

    def _probe_loop(self, c: Container) -> None:
        """The startup probe until it passes, then the liveness probe, each on its period; a probe
        failing failureThreshold times in a row stops the container (it is then restarted)."""
        generation, failures, started_ok, due = -1, 0, False, 0.0
        while not self.stopped:
            now = time.monotonic()
            if c.exited_at is not None or c.kill_reason:
                time.sleep(SUPERVISE_INTERVAL)
                continue
            if generation != c.restarts:  # a new process: probes start over
                generation, failures = c.restarts, 0
                started_ok = "startupProbe" not in c.process.probes
                due = first_due(c, "liveness" if started_ok else "startup")
            kind = "liveness" if started_ok else "startup"
            probe = c.process.probes.get(f"{kind}Probe")
            if not probe:
                return
            if now < due:
                time.sleep(min(SUPERVISE_INTERVAL * 2, due - now))
                continue
            problem = probe_problem(c.process, probe)
            if generation != c.restarts:
                continue
            due = time.monotonic() + probe.get("periodSeconds", 10)
            if not problem:
                failures = 0
                if not started_ok:
                    started_ok = True
                    due = max(time.monotonic(), first_due(c, "liveness"))
                continue
            failures += 1
            if failures >= probe.get("failureThreshold", 3):
                self.terminate(c, f"{kind} probe failed {failures} times: {problem}")

    def terminate(self, c: Container, reason: str = "") -> threading.Thread:
        """Stop a container as the kubelet stops a pod: SIGTERM, then SIGKILL after the pod's grace
        period. With DUMB_INIT_SETSID=0 the image's init passes SIGTERM to the main process only
        (Celery's warm shutdown lets the running tasks finish); otherwise to its whole group."""
        c.kill_reason = reason or "terminated"
        popen = c.popen

        def stop() -> None:
            c.signal(signal.SIGTERM, everyone=c.process.env.get("DUMB_INIT_SETSID") != "0")
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=c.process.grace)
            stop_container(popen)

        thread = threading.Thread(target=stop, daemon=True)
        thread.start()
        return thread

    def check_alive(self) -> None:
        """A container that keeps exiting is a failure (Kubernetes would say CrashLoopBackOff)."""
        with self._lock:
            for c in self.running:
                if c.exited_at is not None and c.streak >= CRASH_LOOP_RESTARTS:
                    raise StepError(c.name, f"crash-looping: {c.reasons[-1]} (restarted {c.restarts} times)")

    def restarts(self) -> dict[str, list[str]]:
        """Container name -> why it was restarted, for every container that was."""
        with self._lock:
            return {c.name: list(c.reasons) for c in self.running if c.reasons}

    def stop_all(self) -> None:
        """SIGTERM every container's processes, SIGKILL what is left after the grace period."""
        with self._lock:
            self.stopped = True
            popens = [r.popen for r in self.running] + self.oneshots
            for popen in popens:
                signal_session(popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for popen in popens:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                stop_container(popen)

    def tails(self, lines: int = 25) -> str:
        """The last lines of every container log, for failure reports."""
        out = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"----- {log.stem} (last {len(text)} lines of {log}) -----")
            out.extend(text)
        return "\n".join(out)


TICKS = os.sysconf("SC_CLK_TCK")


def process_table() -> Iterator[tuple[int, int, float]]:
    """(pid, session, CPU seconds) of every process on the machine, from /proc/<pid>/stat."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command's name
        except (OSError, IndexError):
            continue  # gone meanwhile
        yield int(stat.parent.name), int(fields[3]), (int(fields[11]) + int(fields[12])) / TICKS


def session_pids(sid: int) -> list[int]:
    """Every process of a container. Each container runs in a session of its own; process groups
    inside it are not enough (Airflow's task supervisor gives every task a group of its own)."""
    return [pid for pid, session, _ in process_table() if session == sid]


def signal_pids(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def signal_session(sid: int, sig: signal.Signals) -> None:
    signal_pids(session_pids(sid), sig)


def stop_container(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of a container: every process of its session."""
    signal_session(popen.pid, signal.SIGKILL)
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


def probe_problem(process: Process, probe: dict[str, Any]) -> str:
    """Run a container's probe once against the local process, as the kubelet would (with the
    probe's timeoutSeconds); what went wrong, or "" when it passed."""
    timeout = probe.get("timeoutSeconds", 1)
    if "httpGet" in probe:
        url = probe_url(process, probe["httpGet"])
        return "" if http_ok(url, timeout) else f"GET {url} did not answer 2xx/3xx within {timeout} s"
    if "tcpSocket" in probe:
        port = probe_port(process, probe["tcpSocket"]["port"])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        except OSError as err:
            return f"TCP 127.0.0.1:{port}: {err}"
        return ""
    if "exec" in probe:
        command = probe["exec"]["command"]
        try:
            done = subprocess.run(
                command, env=process_env(process), cwd=process.root, capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return f"{command} did not finish within {timeout} s"
        output = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()[-5:]
        return f"{command} exited {done.returncode}: {output}" if done.returncode else ""
    raise StepError(f"{process.name} probe", f"probe type {sorted(probe)} is not emulated")


def probe_action(probe: dict[str, Any]) -> str:
    """What a probe does (its handler), without when and how often: equal for two probes that
    check the same thing."""
    return json.dumps(
        {k: v for k, v in probe.items() if k in ("exec", "httpGet", "tcpSocket", "grpc")}, sort_keys=True
    )


def run_probe(process: Process, probe: dict[str, Any]) -> None:
    """A probe that must pass now (the smoke's last check): as the kubelet, it gets
    failureThreshold attempts; failing all of them is a StepError."""
    for _ in range(probe.get("failureThreshold", 3)):
        problem = probe_problem(process, probe)
        if not problem:
            return
    raise StepError(f"{process.name} probe", problem)


def echo(message: str) -> None:
    print(message, flush=True, file=sys.stderr)
