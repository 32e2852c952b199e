"""The production profile's smoke (values/production.yaml): Debian's pgbouncer runs the rendered
pgbouncer.ini, the whole smoke passes (DAG run, logs, probes, the cleanup CronJob), every Airflow
component reaches the database through PgBouncer, and only PgBouncer holds connections to the
server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chart_tools import ROOT
from chart_tools.airflow_api import Airflow
from chart_tools.chart.render import Manifest
from chart_tools.runtime.plan import RunPlan
from chart_tools.runtime.processes import process_table
from chart_tools.runtime.services import Endpoint, records
from chart_tools.runtime.smoke import Smoke

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.usefixtures("runtime_ready"),
    pytest.mark.xdist_group("pgbouncer"),
]

PRODUCTION = ROOT / "values" / "production.yaml"
# The long-running containers that use the metadata database.
DATABASE_USERS = {"api-server", "scheduler", "dag-processor", "triggerer", "worker"}
ESTABLISHED = "01"  # /proc/net/tcp connection state


def _socket_owners() -> dict[str, int]:
    """Socket inode -> pid of a process holding it."""
    owners = {}
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = fd.readlink().name
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if target.startswith("socket:["):
            owners[target[8:-1]] = int(fd.parent.parent.name)
    return owners


def connected_containers(smoke: Smoke, port: int) -> set[str]:
    """Containers (pod/container) of the run holding an established TCP connection to 127.0.0.1:port."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == f"0100007F:{port:04X}" and fields[3] == ESTABLISHED:
            inodes.add(fields[9])
    owners = _socket_owners()
    sessions = {pid: session for pid, session, _ in process_table()}
    pids = {owners[i] for i in inodes if i in owners}
    return {smoke.runner.sessions[sessions[p]] for p in pids if sessions.get(p) in smoke.runner.sessions}


class ProductionSmoke(Smoke):
    """`chart-tools smoke -f values/production.yaml`, then a look at the connections while the
    stack still runs."""

    def use(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> None:
        super().use(api, plan, objects)
        pg = self.endpoints[0]
        port = plan.pod("pgbouncer").main[0].ports["pgbouncer"]
        self.through = connected_containers(self, port)
        self.direct = connected_containers(self, pg.port)
        admin = Endpoint("127.0.0.1", port, pg.user, pg.password, "pgbouncer")
        self.pools = {(pool["database"], pool["user"]): pool for pool in records(admin, "SHOW POOLS")}
        self.pool_key = (pg.database, pg.user)


@pytest.fixture(scope="module")
def smoke() -> Iterator[ProductionSmoke]:
    smoke = ProductionSmoke([PRODUCTION])
    result = smoke.run()
    assert result.ok, result.failure
    assert result.restarts == {}
    yield smoke
    smoke.cleanup(keep=False)


def test_every_component_reaches_the_database_through_pgbouncer(smoke: ProductionSmoke) -> None:
    through = {name.split("/")[1] for name in smoke.through}
    assert through >= DATABASE_USERS, f"not connected to PgBouncer: {DATABASE_USERS - through}"
    assert smoke.direct == {"pgbouncer/pgbouncer"}, f"connected to the server itself: {smoke.direct}"


def test_show_pools_lists_the_airflow_clients(smoke: ProductionSmoke) -> None:
    """PgBouncer's own view, asked as the stats user the chart names (the database user)."""
    pool = smoke.pools[smoke.pool_key]
    assert pool["pool_mode"] == "transaction"
    clients = int(pool["cl_active"]) + int(pool["cl_waiting"])
    assert clients >= len(DATABASE_USERS), pool
    servers = sum(int(v) for k, v in pool.items() if k.startswith("sv_"))
    assert 0 < servers <= 20 + 5, pool  # poolSize + reservePoolSize: the server's connections stay bounded
