"""Fakes for what the cluster tier needs and this machine lacks: the command runner (docker,
kind, kubectl), the cluster's API, helm releases and Airflow behind a port-forward. They record
what the runner did and answer as scripted; the Airflow checks themselves run for real in the
runtime tier."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from chart_tools.cluster.e2e import E2E, Options
from chart_tools.cluster.shell import CommandError


class FakeForward:
    def __init__(self, line: str) -> None:
        self.output, self.stopped = line, False

    def line(self, timeout: float) -> str:
        return self.output

    def stop(self) -> None:
        self.stopped = True


class FakeShell:
    """Records every command; `clusters` is what `kind get clusters` lists; `fail` maps a command
    prefix to the error it raises; `answers` maps a prefix to its output."""

    def __init__(self, clusters: list[str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.clusters = clusters or []
        self.fail: dict[tuple[str, ...], str] = {}
        self.answers: dict[tuple[str, ...], str] = {}
        self.forwards: list[FakeForward] = []
        self.forward_line = "Forwarding from 127.0.0.1:43210 -> 8080"

    def _match(self, table: dict, argv: list[str]) -> Any:
        for prefix, value in table.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return value
        return None

    def run(
        self, argv: list[str], timeout: float = 600, input: str | None = None, cwd: Path | None = None
    ) -> str:
        self.calls.append(argv)
        error = self._match(self.fail, argv)
        if error:
            raise CommandError(error)
        if argv[:3] == ["kind", "get", "clusters"]:
            return "\n".join(self.clusters) + "\n"
        return self._match(self.answers, argv) or ""

    def start(self, argv: list[str]) -> FakeForward:
        self.calls.append(argv)
        forward = FakeForward(self.forward_line)
        self.forwards.append(forward)
        return forward

    def commands(self) -> list[str]:
        """The calls as short words: `kind create`, `docker build`, `kubectl delete`, ..."""
        short = []
        for argv in self.calls:
            words = [a for a in argv if not a.startswith("-")]
            if argv[0] == "kubectl":
                words = [w for w in argv[5:] if not w.startswith("-")]  # after --kubeconfig K -n NS
                short.append(f"kubectl {words[0]}")
            else:
                short.append(" ".join(words[:2]))
        return short


def ready_deployment(name: str, release: str = "airflow", ready: bool = True) -> dict:
    return {
        "metadata": {"name": name, "generation": 1, "labels": {"app.kubernetes.io/instance": release}},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": 1 if ready else 0,
        },
    }


def pod(name: str, waiting: str = "", ready: bool = True, phase: str = "Running") -> dict:
    state = (
        {"waiting": {"reason": waiting, "message": f"{waiting} for {name}"}} if waiting else {"running": {}}
    )
    return {
        "metadata": {"name": name},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready and not waiting else "False"}],
            "containerStatuses": [{"name": "main", "state": state, "restartCount": 0}],
        },
    }


def job(name: str, condition: str = "Complete", reason: str = "") -> dict:
    conditions = (
        [{"type": condition, "status": "True", "reason": reason, "message": "m"}] if condition else []
    )
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


class FakeCluster:
    """Objects by kind (shared by every namespace); logs by (pod, container)."""

    def __init__(self, kube_version: str = "1.35") -> None:
        node = {"metadata": {"name": "n"}, "status": {"nodeInfo": {"kubeletVersion": f"v{kube_version}.8"}}}
        self.objects: dict[str, list[dict]] = {"Node": [node]}
        self.logs: dict[tuple[str, str], str] = {}
        self.reads: list[tuple[str, str, str]] = []

    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict]:
        self.reads.append((kind, namespace, selector))
        return [json.loads(json.dumps(o)) for o in self.objects.get(kind, [])]

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return next((o for o in self.objects.get(kind, []) if o["metadata"]["name"] == name), None)

    def log(self, namespace: str, pod: str, container: str, previous: bool = False) -> str:
        return self.logs.get((pod, container), "") + (" (previous)" if previous else "")


@dataclass
class FakeHelm:
    """Releases by name; `on_install` sets up the cluster as the install would."""

    cluster: FakeCluster
    installs: list[tuple[str, str, list[dict]]] = field(default_factory=list)
    uninstalls: list[str] = field(default_factory=list)

    def install(self, release: str, namespace: str, values: list[dict]) -> int:
        self.installs.append((release, namespace, values))
        return sum(1 for r, *_ in self.installs if r == release)

    def uninstall(self, release: str, namespace: str) -> None:
        self.uninstalls.append(release)

    def history(self, release: str, namespace: str) -> list[str]:
        return [f"{n + 1} deployed install" for n, (r, *_) in enumerate(self.installs) if r == release]

    def status(self, release: str, namespace: str) -> str:
        return "deployed"


TUTORIAL_LOGS = {
    "print_date": ["Sat Dec  5 11:00:00 UTC 2026", "Command exited with return code 0"],
    "sleep": ["Command exited with return code 0"],
    "templated": ["run date: 2026-12-05", "a week later: 2026-12-12", "Command exited with return code 0"],
}


class FakeAirflow:
    """An api-server whose runs end in `states` (task -> state) after `polls` state reads."""

    def __init__(self, url: str, username: str, password: str, end: str = "success", polls: int = 2) -> None:
        self.url, self.login = url, (username, password)
        self.end, self.polls = end, polls
        self.states = {task: "success" for task in TUTORIAL_LOGS}
        self.logs = dict(TUTORIAL_LOGS)
        self.triggered: list[str] = []
        self.log_reads: list[str] = []

    def dag_parsed(self, dag_id: str) -> bool:
        return True

    def trigger(self, dag_id: str) -> SimpleNamespace:
        self.triggered.append(dag_id)
        date = dt.datetime(2026, 12, 5, 11, tzinfo=dt.UTC)
        return SimpleNamespace(
            dag_run_id=f"manual__{dag_id}", state=SimpleNamespace(value="queued"), logical_date=date
        )

    def run_state(self, dag_id: str, run_id: str) -> str:
        self.polls -= 1
        return self.end if self.polls <= 0 else "running"

    def task_instances(self, dag_id: str, run_id: str) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(task_id=t, state=SimpleNamespace(value=s), try_number=1)
            for t, s in self.states.items()
        ]

    def log_lines(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
        self.log_reads.append(task_id)
        return self.logs[task_id]


class FakeClock:
    """Time that passes only when the runner sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def healthy_release(cluster: FakeCluster, release: str = "airflow") -> None:
    """What a good install leaves: workloads Ready, the migration Job complete, the admin Secret."""
    full = release if "airflow" in release else f"{release}-airflow"
    cluster.objects["Deployment"] = [ready_deployment(f"{full}-{c}") for c in ("scheduler", "api-server")]
    cluster.objects["StatefulSet"] = [ready_deployment(f"{full}-postgres")]
    cluster.objects["Job"] = [job(f"{full}-migrate-0123456789")]
    cluster.objects["Pod"] = [pod(f"{full}-scheduler-abc")]
    secret = {
        "metadata": {"name": f"{full}-airflow"},
        "data": {"admin-password": base64.b64encode(b"s3cret").decode()},
    }
    cluster.objects["Secret"] = [secret]


def runner(
    tmp_path: Path, scenarios: list[str], shell: FakeShell | None = None, **options: Any
) -> SimpleNamespace:
    """An E2E over fakes, and the fakes (shell, cluster, helm, airflow instances, clock, output)."""
    shell = shell or FakeShell()
    cluster = FakeCluster(options.pop("node_version", options.get("kube_version", "1.35")))
    helm = FakeHelm(cluster)
    airflows: list[FakeAirflow] = []
    said: list[str] = []
    setup = options.pop("airflow", lambda api: None)

    def connect(url: str, user: str, password: str) -> FakeAirflow:
        airflows.append(FakeAirflow(url, user, password))
        setup(airflows[-1])
        return airflows[-1]

    clock = FakeClock()
    e2e = E2E(
        Options(scenarios, out=tmp_path, **options),
        shell,
        lambda kubeconfig: cluster,
        lambda major, kubeconfig: helm,
        connect,
        clock,
        said.append,
    )
    return SimpleNamespace(
        e2e=e2e, shell=shell, cluster=cluster, helm=helm, airflows=airflows, clock=clock, said=said
    )
