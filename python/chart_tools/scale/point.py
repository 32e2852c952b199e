"""One point of a scale curve: a stack from the render, generated DAGs dropped in, measured.

The stack starts as the smoke's does (DAGs on a shared claim, values/dags-persistent-volume.yaml,
so a new file is seen by every pod at once, as with a ReadWriteMany volume or git-sync). Once
Airflow is up, the generated files are written into the claim and the point measures:

- propagation: file written -> DAG listed by the REST API (per DAG, polled each second);
- parse time per file, from the dag-processor's own record (`dag.last_parse_duration`), and per
  cycle (their sum: one pass over every file, before dividing among parsing processes);
- `runs` runs of as many generated DAGs, triggered together: end-to-end time and task instances
  finished per minute;
- the metadata database: peak connections (`pg_stat_activity`), transactions and rows read and
  written per second (`pg_stat_database`) over the runs;
- each container's peak memory and CPU seconds (runtime.usage).
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from chart_tools import ROOT
from chart_tools.airflow_api import FINISHED, Airflow
from chart_tools.chart.render import Manifest
from chart_tools.runtime.plan import RunPlan
from chart_tools.runtime.processes import StepError, wait_until
from chart_tools.runtime.services import Endpoint, query
from chart_tools.runtime.smoke import DAGS, DEFAULT_PROFILE, Smoke, dag_folders
from chart_tools.scale.dags import GIANT, PREFIX, dag_id, write_dags

PROFILES = [DEFAULT_PROFILE, ROOT / "values" / "dags-persistent-volume.yaml"]
DEADLINE = 1800.0  # seconds for propagation and for the runs: large points take long here


@dataclass(frozen=True)
class Size:
    dags: int
    tasks: int
    giant: int
    runs: int


@dataclass
class Measured:
    size: Size
    parse: dict[str, float] = field(default_factory=dict)  # dag id -> seconds
    propagation: dict[str, float] = field(default_factory=dict)  # dag id -> seconds
    run_seconds: float = 0.0
    tasks_run: int = 0
    db_peak_connections: int = 0
    db: dict[str, float] = field(default_factory=dict)  # per-second rates over the runs
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)  # container -> (MiB, CPU s)
    failure: str = ""

    def row(self) -> dict[str, float | int | str]:
        """The CSV row: one line per point."""
        files = [v for k, v in self.parse.items() if k != GIANT]
        row: dict[str, float | int | str] = {
            "dags": self.size.dags,
            "tasks_per_dag": self.size.tasks,
            "giant_tasks": self.size.giant,
            "runs": self.size.runs,
            "parse_median_s": _round(statistics.median(files)) if files else "",
            "parse_max_s": _round(max(files)) if files else "",
            "parse_giant_s": _round(self.parse.get(GIANT, 0.0)),
            "parse_cycle_s": _round(sum(self.parse.values())),
            "propagation_median_s": _round(statistics.median(self.propagation.values())),
            "propagation_max_s": _round(max(self.propagation.values())),
            "tasks_run": self.tasks_run,
            "runs_end_to_end_s": _round(self.run_seconds),
            "tasks_per_minute": _round(self.tasks_run / self.run_seconds * 60) if self.run_seconds else "",
            "db_peak_connections": self.db_peak_connections,
            **{f"db_{k}_per_s": _round(v) for k, v in self.db.items()},
        }
        for container, (mib, cpu) in sorted(self.usage.items()):
            row[f"{container}_peak_mib"] = round(mib)
            row[f"{container}_cpu_s"] = _round(cpu)
        return row


def _round(value: float) -> float:
    return round(value, 3)


class ConnectionPeak(threading.Thread):
    """Samples the database's connection count each second; `peak` is the highest seen."""

    def __init__(self, pg: Endpoint) -> None:
        super().__init__(daemon=True)
        self.pg, self.peak, self.stopping = pg, 0, threading.Event()

    def run(self) -> None:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        while not self.stopping.wait(1.0):
            self.peak = max(self.peak, int(query(self.pg, sql)[0][0]))


def db_counters(pg: Endpoint) -> dict[str, float]:
    sql = (
        "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched,"
        " tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()"
    )
    values = [float(v) for v in query(pg, sql)[0]]
    return dict(zip(("transactions", "rows_read", "rows_written"), values, strict=True))


class ScalePoint(Smoke):
    """Brings the stack up with the example DAGs only, then measures one Size."""

    command = "scale"

    def __init__(self, size: Size, values_files: list[Path], helm_major: int = 3) -> None:
        super().__init__([*PROFILES, *values_files], helm_major, dag_files=[DAGS / "tutorial.py"])
        self.size = size
        self.measured = Measured(size)

    def use(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> None:
        pg = self.endpoints[0]
        peak = ConnectionPeak(pg)
        peak.start()
        try:
            ids = self.phase("propagate", lambda: self._propagate(api, plan))
            self.phase("parse-times", lambda: self._parse_times(pg, ids))
            self.phase("runs", lambda: self._runs(api, pg))
        finally:
            peak.stopping.set()
            peak.join()
            self.measured.db_peak_connections = peak.peak

    def _propagate(self, api: Airflow, plan: RunPlan) -> list[str]:
        folders = dag_folders(plan)
        if len(folders) != 1:
            raise StepError("propagate", f"expected one shared DAG folder, found {len(folders)}")
        size = self.size
        written = time.monotonic()
        ids = write_dags(folders[0], size.dags, size.tasks, size.giant)
        self.say(f"wrote {len(ids)} DAG files into {folders[0]}")
        seen = self.measured.propagation

        def all_visible() -> bool:
            now = time.monotonic()
            for found in api.dag_ids(PREFIX) - seen.keys():
                seen[found] = now - written
            self.say(f"{len(seen)}/{len(ids)} DAGs visible after {now - written:.0f} s")
            return len(seen) >= len(ids)

        wait_until("DAGs visible", all_visible, DEADLINE * self.slowness, self.runner, interval=1.0)
        return ids

    def _parse_times(self, pg: Endpoint, ids: list[str]) -> None:
        rows = query(pg, f"SELECT dag_id, last_parse_duration FROM dag WHERE dag_id LIKE '{PREFIX}%'")
        self.measured.parse = {dag: float(seconds) for dag, seconds in rows if dag in ids and seconds}

    def _runs(self, api: Airflow, pg: Endpoint) -> None:
        dags = [dag_id(i) for i in range(min(self.size.runs, self.size.dags))]
        before, start = db_counters(pg), time.monotonic()
        runs = {dag: api.trigger(dag).dag_run_id for dag in dags}
        self.say(f"triggered {len(runs)} runs of {self.size.tasks} tasks")
        pending = dict(runs)

        def finished() -> bool:
            for dag, run_id in list(pending.items()):
                state = api.run_state(dag, run_id)
                if state in FINISHED:
                    if state != "success":
                        raise StepError("runs", f"{dag} run {run_id} ended {state}")
                    del pending[dag]
            self.say(f"{len(runs) - len(pending)}/{len(runs)} runs done")
            return not pending

        wait_until("runs", finished, DEADLINE * self.slowness, self.runner, interval=2.0)
        seconds = time.monotonic() - start
        after = db_counters(pg)
        self.measured.run_seconds = seconds
        self.measured.tasks_run = sum(len(api.task_instances(d, r)) for d, r in runs.items())
        self.measured.db = {k: (after[k] - before[k]) / seconds for k in before}


def measure(size: Size, values_files: list[Path], helm_major: int = 3) -> Measured:
    """Run one point; a failure is kept in `failure`, never raised."""
    point = ScalePoint(size, values_files, helm_major)
    result = point.run()
    point.measured.usage = {c: (u.peak_mib, u.cpu_seconds) for c, u in result.usage.items()}
    point.measured.failure = result.failure
    point.cleanup(keep=False)
    return point.measured
