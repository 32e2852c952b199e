"""The runtime's kubelet part with small real processes: restarts with back-off, crash loops,
liveness and startup probes, and how a container is stopped."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from chart_tools.runtime import processes
from chart_tools.runtime.plan import PodPlan, Process
from chart_tools.runtime.processes import Runner, StepError, wait_until
from chart_tools.runtime.services import free_port

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]


def container(tmp_path: Path, script: str, *, probes=None, env=None, grace=30, ports=None) -> Process:
    return Process(
        pod="pod",
        container="main",
        argv=[sys.executable, "-c", script],
        env=env or {},
        root=tmp_path,
        options={},
        mounts={},
        ports=ports or {},
        probes=probes or {},
        grace=grace,
    )


def eventually(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except FileNotFoundError:
        return False


@pytest.fixture
def runner(tmp_path):
    runner = Runner(tmp_path / "logs")
    yield runner
    runner.stop_all()


@pytest.fixture
def quick_backoff(monkeypatch):
    """The kubelet's 10 s steps would make these tests slow; the rule is the same."""
    monkeypatch.setattr(processes, "BACKOFF_SECONDS", (0, 0.3, 0.6, 1.2))


def test_an_exited_container_is_restarted_and_the_reason_kept(runner, tmp_path, quick_backoff):
    c = runner.start(container(tmp_path, "import time; time.sleep(0.5); raise SystemExit(3)"))
    eventually(lambda: c.restarts >= 2, 30)
    assert c.reasons[:2] == ["exited with code 3", "exited with code 3"]
    assert runner.restarts() == {"pod/main": c.reasons}
    assert "pod/main: exited with code 3; restart in 0 s" in runner.events
    assert "----- restart 1 after: exited with code 3 -----" in c.log.read_text()


def test_a_container_that_keeps_exiting_fails_the_run(runner, tmp_path, quick_backoff):
    c = runner.start(container(tmp_path, "raise SystemExit(4)"))
    with pytest.raises(StepError, match=r"pod/main: crash-looping: exited with code 4 \(restarted 3 times\)"):
        wait_until("never", lambda: False, 30, runner, interval=0.1)
    assert c.restarts == processes.CRASH_LOOP_RESTARTS


def test_a_killed_container_is_restarted_at_once_the_first_time(runner, tmp_path):
    c = runner.start(container(tmp_path, "import time; time.sleep(60)"))
    first = c.popen.pid
    c.signal(signal.SIGKILL)
    eventually(lambda: c.restarts == 1, 10)
    assert c.popen.pid != first and c.popen.poll() is None
    assert c.reasons == ["killed by SIGKILL"]


def test_a_failing_liveness_probe_restarts_the_container(runner, tmp_path):
    port = free_port()  # nothing listens there
    probe = {"tcpSocket": {"port": "http"}, "periodSeconds": 1, "failureThreshold": 2, "timeoutSeconds": 1}
    c = runner.start(
        container(
            tmp_path, "import time; time.sleep(60)", probes={"livenessProbe": probe}, ports={"http": port}
        )
    )
    eventually(lambda: c.restarts == 1, 30)
    assert c.reasons[0].startswith(f"liveness probe failed 2 times: TCP 127.0.0.1:{port}")


def test_liveness_waits_for_the_startup_probe(runner, tmp_path):
    """A slow start is the startup probe's business: liveness must not kill it meanwhile."""
    port = free_port()
    serve = (
        f"import socket, time; time.sleep(3); s = socket.create_server(('127.0.0.1', {port})); time.sleep(60)"
    )
    startup = {"tcpSocket": {"port": "http"}, "periodSeconds": 1, "failureThreshold": 10}
    liveness = {"tcpSocket": {"port": "http"}, "periodSeconds": 1, "failureThreshold": 1}
    probes = {"startupProbe": startup, "livenessProbe": liveness}
    c = runner.start(container(tmp_path, serve, probes=probes, ports={"http": port}))
    time.sleep(6)
    assert c.restarts == 0, c.reasons


WARM = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5); open('child-done', 'w')"],
                         process_group=0)  # its own group, as Airflow's task supervisor does
signal.signal(signal.SIGTERM, lambda *_: (child.wait(), sys.exit(0)))  # warm shutdown
time.sleep(60)
"""


@pytest.mark.parametrize(("setsid", "child_finished"), [("0", True), ("1", False)])
def test_sigterm_reaches_the_main_process_only_with_dumb_init_setsid_0(
    runner, tmp_path, setsid, child_finished
):
    """The image's init passes SIGTERM to the main process only when DUMB_INIT_SETSID=0 (so a Celery
    worker's running tasks can finish); otherwise every process of the container gets it."""
    c = runner.start(container(tmp_path, WARM, env={"DUMB_INIT_SETSID": setsid}, grace=10))
    time.sleep(1)  # the child runs
    runner.terminate(c, "pod deleted").join(timeout=20)
    assert (tmp_path / "child-done").exists() == child_finished


def test_stopping_a_container_ends_processes_that_left_its_process_group(tmp_path):
    runner = Runner(tmp_path / "logs")
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], process_group=0)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    c = runner.start(container(tmp_path, script))
    eventually(lambda: c.log.read_text().strip().isdigit(), 10)
    child = int(c.log.read_text())
    runner.stop_all()
    eventually(lambda: not alive(child), 10)


def job(tmp_path: Path, script: str, backoff_limit: int) -> PodPlan:
    return PodPlan(
        "job", "Job", {}, tmp_path, [], [container(tmp_path, script)], False, "OnFailure", backoff_limit
    )


def test_a_job_container_that_fails_runs_again_within_the_backoff_limit(runner, tmp_path, quick_backoff):
    """restartPolicy OnFailure: a race (two processes creating the same row) costs one retry."""
    flaky = "import pathlib, sys; p = pathlib.Path('tried'); sys.exit(0 if p.exists() else p.touch() or 1)"
    runner.start_pod_to_completion(job(tmp_path, flaky, backoff_limit=6), timeout=30)
    assert runner.events == [
        "pod/main: exited with code 1; restart in 0 s (failure 1 of the Job's backoffLimit 6)"
    ]


def test_a_job_failing_more_than_its_backoff_limit_fails(runner, tmp_path, quick_backoff):
    with pytest.raises(StepError, match="pod/main: exited with code 5"):
        runner.start_pod_to_completion(job(tmp_path, "raise SystemExit(5)", backoff_limit=2), timeout=30)
    assert len(runner.events) == 2  # tried three times
