"""KEDA's worker scaler on a running release (ci/autoscaling-values.yaml): the ScaledObject's
query, taken from the render, runs where KEDA would run it (through PgBouncer, as the trigger's
user with the password its TriggerAuthentication names) before, during and after a burst of
tasks, and gives the worker count the task states read through the REST API call for. The same
release runs PgBouncer's exporter (its stand-in)."""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chart_tools import ROOT
from chart_tools.chart.render import Manifest, find, render
from chart_tools.runtime.processes import http_ok, wait_until
from chart_tools.runtime.services import Endpoint, query
from chart_tools.runtime.smoke import DEFAULT_PROFILE
from tests.conftest import ci_file
from tests.runtime.stacks import DEADLINE, Stack, running

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.usefixtures("runtime_ready"),
    pytest.mark.xdist_group("autoscaling"),
]

BURST = ROOT / "tests" / "data" / "dags" / "burst.py"
CELERY = "airflow.providers.celery.executors.celery_executor.CeleryExecutor"
SLOTS = 2  # [celery] worker_concurrency in ci/autoscaling-values.yaml
BUSY = {"queued", "running"}
VALUES = [DEFAULT_PROFILE, ci_file("autoscaling")]
HYBRID = "cluster.executor=CeleryExecutor\\,KubernetesExecutor"  # Celery listed first: the default executor


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running(tmp_path_factory.mktemp("autoscaling"), VALUES, dag_id="burst", dag_files=[BURST]) as stack:
        yield stack


class Scaler:
    """What KEDA's postgresql scaler does with the rendered ScaledObject: run its query as its user."""

    def __init__(self, stack: Stack) -> None:
        scaled = find(stack.objects, "ScaledObject", "-worker")
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "postgresql"
        self.spec, self.meta = scaled["spec"], trigger["metadata"]
        auth = find(stack.objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        (ref,) = auth["spec"]["secretTargetRef"]
        assert ref["parameter"] == "password"
        secret = next(
            o for o in stack.objects if o["kind"] == "Secret" and o["metadata"]["name"] == ref["name"]
        )
        service = self.meta["host"].split(".")[0]  # <service>.<namespace>.svc, from KEDA's namespace
        port = stack.plan.endpoints[(service, self.meta["port"])]
        self.endpoint = Endpoint(
            "127.0.0.1", port, self.meta["userName"], secret["stringData"][ref["key"]], self.meta["dbName"]
        )

    def value(self, sql: str | None = None) -> float:
        """The query's value: the rendered one, or `sql` run the same way."""
        ((value,),) = query(self.endpoint, sql or self.meta["query"])
        return float(value)

    def replicas(self) -> int:
        """The worker count the HPA KEDA makes would aim at for the query's value."""
        wanted = math.ceil(self.value() / float(self.meta["targetQueryValue"]))
        return min(max(wanted, self.spec["minReplicaCount"]), self.spec["maxReplicaCount"])


def trigger_query(objects: list[Manifest]) -> str:
    (trigger,) = find(objects, "ScaledObject", "-worker")["spec"]["triggers"]
    return trigger["metadata"]["query"]


def states(stack: Stack, run_id: str) -> dict[str, str | None]:
    """The run's task states by task id, per the REST API."""
    return {t.task_id: t.state.value if t.state else None for t in stack.api.task_instances("burst", run_id)}


def busy_worker_tasks(stack: Stack, run_id: str) -> int:
    """Tasks of the run taking a worker slot (the `elsewhere` queue has no worker)."""
    return sum(1 for task, state in states(stack, run_id).items() if task != "elsewhere" and state in BUSY)


def test_the_scaler_follows_a_burst_of_tasks(stack: Stack, tmp_path: Path) -> None:
    scaler = Scaler(stack)
    assert scaler.endpoint.port == stack.plan.pod("pgbouncer").main[0].ports["pgbouncer"]
    assert (scaler.value(), scaler.replicas()) == (0, 1)  # nothing to do: the minimum

    gate = tmp_path / "gate"
    run_id = stack.trigger("burst", {"gate": str(gate)})
    # All six held: SLOTS run on the one local worker, the others wait queued.
    wait_until("six tasks busy", lambda: busy_worker_tasks(stack, run_id) == 6, DEADLINE, stack.runner, 0.5)
    during = states(stack, run_id)
    assert during["elsewhere"] == "queued", during  # queued, but for a queue of no worker here
    assert scaler.value() == math.ceil(6 / SLOTS) == 3
    assert scaler.replicas() == 3
    # With KubernetesExecutor beside Celery the query also reads the executor column, where the
    # held tasks name Celery in every spelling Airflow accepts: each still counts.
    spellings = query(scaler.endpoint, "SELECT DISTINCT executor FROM task_instance WHERE dag_id = 'burst'")
    assert {row[0] for row in spellings} == {"", "CeleryExecutor", CELERY}, spellings
    assert scaler.value(trigger_query(render(VALUES, [HYBRID]))) == 3

    gate.touch()
    wait_until(
        "the held tasks done", lambda: busy_worker_tasks(stack, run_id) == 0, DEADLINE, stack.runner, 0.5
    )
    after = states(stack, run_id)
    assert {s for k, s in after.items() if k != "elsewhere"} == {"success"}, after
    assert after["elsewhere"] == "queued"  # still waiting for a worker of its queue: not counted
    assert (scaler.value(), scaler.replicas()) == (0, 1)


def test_the_pgbouncer_exporter_reads_the_pools_as_the_stats_user(stack: Stack) -> None:
    """The exporter's stand-in logs in with the rendered DATABASE_URL (pod loopback, the stats
    user, the password from the database Secret) and serves what SHOW POOLS says."""
    exporter = next(p for p in stack.plan.pod("pgbouncer").main if p.container == "metrics")
    url = f"http://127.0.0.1:{exporter.ports['metrics']}/metrics"
    wait_until("the exporter answers", lambda: http_ok(url), DEADLINE, stack.runner, 0.5)
    with urllib.request.urlopen(url, timeout=30) as response:
        metrics = response.read().decode()
    (clients,) = [line for line in metrics.splitlines() if line.startswith("pgbouncer_pools_cl_active{")
                  and 'database="airflow"' in line]  # fmt: skip
    # The api-server, scheduler, dag-processor, triggerer and worker each hold a connection.
    assert int(clients.rsplit(" ", 1)[1]) >= 5, metrics
