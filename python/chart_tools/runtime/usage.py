"""What each container uses: peak memory and CPU seconds, read from /proc while a run goes on.

Each container (main, init or a Job's) runs in a session of its own (processes.Runner), so its
processes are the ones whose session is one the runner started for it. Memory is the sum of PSS
(proportional set size): pages shared between a Celery worker's forked children count once
overall, as a container's cgroup counts them. CPU is user + system time of every process the
container ever had, up to its last sample. Only the standard library: this runs beside Airflow
on a busy machine.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from chart_tools.runtime.processes import Runner, process_table

INTERVAL = 2.0  # seconds between samples


@dataclass
class ContainerUsage:
    peak_bytes: int = 0
    cpu_seconds: float = 0.0
    _cpu_by_pid: dict[int, float] = field(default_factory=dict)

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20

    def __str__(self) -> str:
        return f"peak {self.peak_mib:.0f} MiB, {self.cpu_seconds:.1f} CPU s"


def _pss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class UsageSampler:
    """Samples every container of a runner in a background thread until stopped."""

    runner: Runner
    interval: float = INTERVAL
    usage: dict[str, ContainerUsage] = field(default_factory=dict)  # container name -> usage
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> UsageSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, ContainerUsage]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        return self.usage

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        sessions = dict(self.runner.sessions)  # main and one-shot containers, restarts included
        memory: dict[str, int] = {}
        for pid, session, cpu in process_table():
            if session not in sessions:
                continue
            name = sessions[session]
            usage = self.usage.setdefault(name, ContainerUsage())
            usage._cpu_by_pid[pid] = cpu
            memory[name] = memory.get(name, 0) + _pss_bytes(pid)
        for name, total in memory.items():
            usage = self.usage[name]
            usage.peak_bytes = max(usage.peak_bytes, total)
            usage.cpu_seconds = sum(usage._cpu_by_pid.values())
