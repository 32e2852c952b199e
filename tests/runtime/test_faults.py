"""Faults while a DAG run is in progress: the chart's Airflow recovers and no work is lost.

One Celery stack runs for the whole module (the runtime restarts containers as the kubelet does);
each test triggers the `faults` DAG (tests/data/dags/faults.py), breaks one thing while its `hold`
task runs, and requires the run to succeed. The ledger the tasks write shows how often each task
really ran: once, where the chart promises once. Each test prints its recovery times; the
timeouts are shortened through the chart's `config` (tests/data/faults-values.yaml).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chart_tools import ROOT
from chart_tools.airflow_api import all_healthy
from chart_tools.runtime.processes import Container, probe_problem, wait_until
from chart_tools.runtime.smoke import DAGS, DEFAULT_PROFILE
from tests.runtime.stacks import DEADLINE, Run, Stack, running

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.usefixtures("runtime_ready"),
    pytest.mark.xdist_group("faults"),
]

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    dag_files = [DAGS / "tutorial.py", DATA / "dags" / "faults.py"]
    values = [DEFAULT_PROFILE, DATA / "faults-values.yaml"]
    with running(tmp_path_factory.mktemp("faults"), values, dag_id="faults", dag_files=dag_files) as stack:
        yield stack


def back(stack: Stack, container: Container, restarts_before: int, since: float) -> float:
    """Seconds from `since` until the container was restarted, passes its readiness probe (when
    it has one) and Airflow reports itself healthy again."""
    runner, probe = stack.runner, container.process.probes.get("readinessProbe")
    wait_until(
        f"{container.name} restarted", lambda: container.restarts > restarts_before, DEADLINE, runner, 0.2
    )
    if probe:
        wait_until(
            f"{container.name} ready",
            lambda: not probe_problem(container.process, probe),
            DEADLINE,
            runner,
            0.5,
        )
    wait_until("Airflow healthy", lambda: all_healthy(stack.api.health()), DEADLINE, runner, 0.5)
    return time.monotonic() - since


Report = Callable[..., None]


@pytest.fixture
def report(record_property: Callable[[str, object], None]) -> Report:
    """report(fault, name=seconds, ...): one line in the run's "fault recovery times" section."""

    def say(fault: str, **seconds: float) -> None:
        times = ", ".join(f"{what.replace('_', ' ')} {value:.1f} s" for what, value in seconds.items())
        record_property("recovery", f"after {fault}: {times}")

    return say


def once_each(run: Run, tries: dict[str, int]) -> None:
    """The chart promises once: every task started once, on its first try."""
    assert run.ran() == {"hold": 1, "beside_1": 1, "beside_2": 1, "after": 1}, run.ran()
    assert set(tries.values()) == {1}, tries


def killed_mid_run(stack: Stack, ledger: Path, component: str, report: Report) -> tuple[Run, dict[str, int]]:
    """SIGKILL the component's container while `hold` runs; wait until the container is back and
    the run succeeded; report both times. Returns the run and each task's try number."""
    run = Run(stack, ledger)
    run.wait_started("hold")
    container = stack.runner.container(component)
    before, start = container.restarts, time.monotonic()
    container.signal(signal.SIGKILL)
    component_back = back(stack, container, before, start)
    tries = run.wait_success()
    report(f"SIGKILL of the {component}", back=component_back, run_succeeded=time.monotonic() - start)
    return run, tries


def test_a_worker_killed_mid_task_loses_nothing(stack, tmp_path, report):
    """SIGKILL (the OOM killer, a lost node): the task's heartbeats stop, the scheduler marks it
    failed after task_instance_heartbeat_timeout and the chart's default_task_retries (1) runs it
    again. Celery's late acknowledgement does not bring it back: Airflow refuses a second start."""
    run, tries = killed_mid_run(stack, tmp_path / "ledger", "worker", report)
    assert run.ran()["hold"] == 2 and tries["hold"] == 2  # re-run, on its retry
    assert run.ran()["after"] == 1


def test_a_worker_sent_sigterm_finishes_its_task_first(stack, tmp_path, report):
    """SIGTERM (a rollout, a drain): DUMB_INIT_SETSID=0 passes it to Celery only, whose warm
    shutdown lets `hold` finish within terminationGracePeriodSeconds; nothing runs twice."""
    run = Run(stack, tmp_path / "ledger", hold=8)
    run.wait_started("hold")
    worker = stack.runner.container("worker")
    before, start = worker.restarts, time.monotonic()
    stopping = stack.runner.terminate(worker, "SIGTERM (pod deleted)")
    stopping.join(timeout=DEADLINE)
    drained = time.monotonic() - start
    worker_back = back(stack, worker, before, start)
    tries = run.wait_success()
    report("SIGTERM of the worker", drained=drained, worker_back=worker_back,
           run_succeeded=time.monotonic() - start)  # fmt: skip
    assert worker.reasons[-1] == "SIGTERM (pod deleted)"
    once_each(run, tries)


def test_the_scheduler_killed_mid_run_picks_up_where_it_left_off(stack, tmp_path, report):
    """Running tasks report to the api-server, not the scheduler: nothing runs twice."""
    once_each(*killed_mid_run(stack, tmp_path / "ledger", "scheduler", report))


@pytest.mark.parametrize("component", ["dag-processor", "api-server"])
def test_a_component_killed_mid_run_comes_back_and_the_run_completes(stack, tmp_path, component, report):
    run, _ = killed_mid_run(stack, tmp_path / "ledger", component, report)
    assert run.ran()["after"] == 1


def test_postgresql_restarted_mid_run(stack, tmp_path, report):
    """Components reconnect, or exit and are restarted; the run completes."""
    run = Run(stack, tmp_path / "ledger")
    run.wait_started("hold")
    pg, _ = stack.endpoints
    restarts = sum(c.restarts for c in stack.runner.running)
    start = time.monotonic()
    pg.restart()
    wait_until("Airflow healthy", lambda: all_healthy(stack.api.health()), DEADLINE, stack.runner, 0.5)
    healthy_again = time.monotonic() - start
    run.wait_success()
    restarted = sum(c.restarts for c in stack.runner.running) - restarts
    fault = f"a PostgreSQL restart ({restarted} containers restarted)"
    report(fault, healthy_again=healthy_again, run_succeeded=time.monotonic() - start)
    assert run.ran()["after"] == 1


def test_redis_restarted_mid_run_loses_no_task(stack, tmp_path, report):
    """Redis keeps no data here: the message of the task waiting for a worker slot is lost with
    it. The scheduler queues that task again after task_queued_timeout; running tasks go on."""
    run = Run(stack, tmp_path / "ledger")
    run.wait_started("hold")
    _, redis = stack.endpoints
    start = time.monotonic()
    redis.restart()
    tries = run.wait_success()
    report("a Redis restart", run_succeeded=time.monotonic() - start)
    assert run.ran()["hold"] == 1 and tries["hold"] == 1  # the running task was not disturbed
    assert set(run.ran()) == {"hold", "beside_1", "beside_2", "after"}
