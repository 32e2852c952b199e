"""Operations features on a running release (ci/operations-values.yaml): a connection and
a variable from a Secret, pools from values, and both cleanup CronJobs, whose pods run here as the
cluster would run them on their schedule."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chart_tools import CHART, ROOT
from chart_tools.chart.render import NAMESPACE, Manifest, find, render
from chart_tools.runtime.processes import AIRFLOW_VENV
from chart_tools.runtime.services import query
from chart_tools.runtime.smoke import DEFAULT_PROFILE
from tests.conftest import ci_file
from tests.runtime.stacks import Stack, running

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.usefixtures("runtime_ready"),
    pytest.mark.xdist_group("operations"),
]

DATA = ROOT / "tests" / "data"
DAY = 86400
# What the user's Secret holds: the chart only names it (cluster.connections, cluster.variables).
SECRET: Manifest = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "ops-as-code", "namespace": NAMESPACE},
    "stringData": {
        "connection": "postgresql://ops_user:s3cret@ops-db.example.com:5432/ops_schema",
        "environment": "staging",
    },
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    values = [DEFAULT_PROFILE, ci_file("operations")]
    with running(
        tmp_path_factory.mktemp("operations"),
        values,
        dag_id="as_code",
        dag_files=[DATA / "dags" / "as_code.py"],
        mutate=lambda objects: objects.append(SECRET),
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def runs(stack: Stack) -> list[str]:
    """Two successful runs of as_code, oldest first."""
    run_ids = [stack.trigger("as_code") for _ in range(2)]
    for run_id in run_ids:
        state, tasks = stack.wait_run("as_code", run_id)
        assert state == "success", {k: t.state for k, t in tasks.items()}
    return run_ids


def test_a_task_reads_the_connection_and_variable_from_the_secret(stack: Stack, runs: list[str]):
    seen = stack.api.xcom("as_code", runs[-1], "read")
    assert seen == {
        "host": "ops-db.example.com",
        "login": "ops_user",
        "schema": "ops_schema",
        "environment": "staging",
    }


def test_the_migration_job_created_the_pools(stack: Stack, runs: list[str]):
    pool = stack.api.pool("ops_pool")
    assert (pool.slots, pool.description) == (3, "Pool from values")
    (task,) = stack.api.task_instances("as_code", runs[-1])
    assert task.pool == "ops_pool"


def test_database_cleanup_deletes_what_is_older_than_the_retention(stack: Stack, runs: list[str]):
    """The older run is aged past the 7-day retention; the cleanup deletes it and its task
    instances, and keeps the newer run."""
    pg = stack.endpoints[0]
    old, new = runs
    assert "'" not in old
    query(pg, f"UPDATE dag_run SET start_date = start_date - interval '30 days' WHERE run_id = '{old}'")
    stack.run_cron_job(find(stack.objects, "CronJob", "-database-cleanup"), stack.objects)
    assert {r[0] for r in query(pg, "SELECT run_id FROM dag_run WHERE dag_id = 'as_code'")} == {new}
    assert {r[0] for r in query(pg, "SELECT run_id FROM task_instance WHERE dag_id = 'as_code'")} == {new}


def aged(path: Path, seconds: float) -> Path:
    when = time.time() - seconds
    os.utime(path, (when, when))
    return path


def test_log_retention_deletes_old_log_files_and_old_empty_folders(stack: Stack, runs: list[str]):
    claim = find(stack.objects, "PersistentVolumeClaim", "-logs")["metadata"]["name"]
    logs = stack.run_dir / "claims" / claim
    task_logs = sorted(logs.rglob("*.log"))
    assert task_logs, "the runs wrote no log to the claim"
    folder = logs / "dag_id=old" / "run_id=old" / "task_id=t"
    folder.mkdir(parents=True)
    (old_log := folder / "attempt=1.log").write_text("old\n")
    aged(old_log, 31 * DAY)
    (fresh_log := folder / "attempt=2.log").write_text("fresh\n")
    (empty := logs / "dag_id=empty").mkdir()
    aged(empty, 2 * 3600)
    stack.run_cron_job(find(stack.objects, "CronJob", "-log-retention"), stack.objects)
    assert not old_log.exists()
    assert not empty.exists()
    assert fresh_log.exists() and all(log.exists() for log in task_logs)


def test_the_chart_knows_every_table_airflow_db_clean_cleans():
    """The chart's table list (the CronJob's default and the schema's choices for skipTables) is
    the one Airflow's `db clean --tables` accepts."""
    code = "import json, airflow.utils.db_cleanup as c; print(json.dumps(sorted(c.config_dict)))"
    done = subprocess.run(
        [AIRFLOW_VENV / "bin" / "python", "-c", code], capture_output=True, text=True, check=True
    )
    airflow_tables = set(json.loads(done.stdout))
    cron = find(render([ci_file("operations")]), "CronJob", "-database-cleanup")
    (c,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    cleaned = next(e["value"] for e in c["env"] if e["name"] == "CLEAN_TABLES")
    schema = json.loads((CHART / "values.schema.json").read_text())
    skip = schema["properties"]["cluster"]["properties"]["databaseCleanup"]["properties"]["skipTables"]
    assert set(cleaned.split(",")) == set(skip["items"]["enum"]) == airflow_tables
