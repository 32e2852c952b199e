"""A chart's stack kept running for a whole test module, as several tests act on one install."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chart_tools.airflow_api import FINISHED, Airflow
from chart_tools.chart.render import Manifest
from chart_tools.runtime.plan import RunPlan
from chart_tools.runtime.processes import wait_until
from chart_tools.runtime.services import services
from chart_tools.runtime.smoke import Smoke

DEADLINE = 600.0  # generous: runs wait on timeouts, and the machine may be busy


class Stack(Smoke):
    """The smoke's stack, kept running in a thread until the module is done with it."""

    command = "stack"

    def __init__(self, values_files: list[Path], **kwargs: Any) -> None:
        super().__init__(values_files, **kwargs)
        self.up, self.done = threading.Event(), threading.Event()

    def use(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> None:
        self.api, self.objects = api, objects
        self.up.set()
        self.done.wait()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run once the DAG is parsed; its run id."""
        wait_until(f"{dag_id} parsed", lambda: self.api.dag_parsed(dag_id), DEADLINE, self.runner, 1)
        return self.api.trigger(dag_id, conf).dag_run_id

    def wait_run(self, dag_id: str, run_id: str) -> tuple[str, dict[str, Any]]:
        """Wait until a DAG run ends: its state and its task instances by task id."""
        state = {"value": ""}

        def ended() -> bool:
            state["value"] = self.api.run_state(dag_id, run_id)
            return state["value"] in FINISHED

        wait_until(f"run {run_id}", ended, DEADLINE, self.runner, 0.5)
        return state["value"], {t.task_id: t for t in self.api.task_instances(dag_id, run_id)}


class Run:
    """One run of the `faults` DAG and its ledger."""

    def __init__(self, stack: Stack, ledger: Path, hold: int = 12) -> None:
        self.stack, self.ledger = stack, ledger
        ledger.touch()
        self.run_id = stack.trigger("faults", {"ledger": str(ledger), "hold": hold})

    def ran(self) -> Counter[str]:
        """How often each task started (one ledger line per start)."""
        return Counter(line.split()[0] for line in self.ledger.read_text().splitlines())

    def wait_started(self, task: str) -> None:
        wait_until(f"{task} started", lambda: self.ran()[task] > 0, DEADLINE, self.stack.runner, 0.2)

    def wait_success(self) -> dict[str, int]:
        """Wait for the run to end; it must succeed. Returns each task's try number."""
        state, tasks = self.stack.wait_run("faults", self.run_id)
        summary = {k: (t.state.value if t.state else "none", t.try_number) for k, t in tasks.items()}
        assert state == "success", f"run ended {state}: {summary}; ledger {self.ran()}"
        return {k: t.try_number for k, t in tasks.items()}


@contextlib.contextmanager
def running(tmp: Path, values_files: list[Path], **kwargs: Any) -> Iterator[Stack]:
    """A Stack on private PostgreSQL and Redis (in `tmp`), stopped and cleaned up at the end."""
    with services(tmp / "services") as shared:
        stack = Stack(values_files, shared=shared, **kwargs)
        thread = threading.Thread(target=stack.run, daemon=True)
        thread.start()
        while not stack.up.wait(1):
            assert thread.is_alive(), f"the stack did not come up: {stack.result.failure}"
        try:
            yield stack
        finally:
            stack.done.set()
            thread.join()
            stack.cleanup(keep=False)
