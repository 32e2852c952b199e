"""End to end: the chart's rendered Airflow runs the example DAG with real processes.

Each test starts its own PostgreSQL and Redis, runs the migration Job and every workload, and
acts as a user through the REST API. The breakage tests change one thing in the rendered
objects, as a chart bug would, and require the run to fail at the right step.
"""

import os
import socket
import subprocess

import pytest

from chart_tools import ROOT
from chart_tools.runtime.processes import process_env
from chart_tools.runtime.smoke import DEFAULT_PROFILE, Smoke
from tests.helpers import AIRFLOW_COMPONENTS, deployment, pod_of

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]


def run(**kwargs):
    smoke = Smoke([DEFAULT_PROFILE], **kwargs)
    result = smoke.run()
    smoke.cleanup(keep=False)
    return result


def test_celery_executor_runs_the_tutorial_dag():
    """The default profile: tasks travel through the local Redis to a Celery worker."""
    result = run()
    assert result.ok, result.failure
    assert sorted(result.workloads) == sorted([*AIRFLOW_COMPONENTS, "worker", "flower"])
    assert result.tasks == {"print_date": "success", "sleep": "success", "templated": "success"}
    assert result.logs.keys() == result.tasks.keys()  # each read through the API, output checked
    assert result.run_id.startswith("manual__")
    assert result.restarts == {}  # nothing crashed or failed its liveness probe
    assert not result.run_dir.exists()  # cleaned after success


def test_local_executor_with_dags_in_the_image_runs_the_tutorial_dag(tmp_path):
    """DAG mode `image`: the files are part of the image, so each pod has its own copy. The run
    also sets a large integer option, which the scheduler's Airflow must read back as that number
    (helm once wrote it as 3e+06, which Airflow cannot read as an int). `max_map_length` rather than
    `parallelism`: the LocalExecutor forks `parallelism` workers up front."""
    big = tmp_path / "big.yaml"
    big.write_text("cluster:\n  config:\n    core:\n      max_map_length: 3000000\n")
    smoke = Smoke([ROOT / "values" / "local-executor.yaml", ROOT / "values" / "dags-image.yaml", big])
    result = smoke.run()
    assert result.ok, result.failure
    assert sorted(result.workloads) == sorted(AIRFLOW_COMPONENTS)
    assert set(result.tasks.values()) == {"success"}
    assert result.logs.keys() == result.tasks.keys()  # the LocalExecutor's scheduler serves them
    scheduler_dags = result.run_dir / "pods/scheduler/opt/airflow/dags"
    assert (scheduler_dags / "tutorial.py").is_file() and not scheduler_dags.is_symlink()
    scheduler = smoke.plan.pod("scheduler").main[0]
    read = "from airflow.configuration import conf; print(repr(conf.getint('core', 'max_map_length')))"
    done = subprocess.run(
        ["python", "-c", read], env=process_env(scheduler), cwd=scheduler.root, capture_output=True, text=True
    )
    assert done.stdout.strip().splitlines()[-1] == "3000000", done.stderr[-2000:]
    smoke.cleanup(keep=False)


def _set_env(objects, component, name, value):
    """Give one workload's containers a literal value for `name`, as a wiring bug would."""
    found = False
    pod = pod_of(deployment(objects, component))
    for c in pod["containers"] + pod["initContainers"]:
        for item in c["env"]:
            if item["name"] == name:
                item.clear()
                item.update(name=name, value=value)
                found = True
    assert found


def test_a_jwt_secret_not_shared_with_the_scheduler_fails_the_dag_run():
    result = run(mutate=lambda objs: _set_env(objs, "scheduler", "AIRFLOW__API_AUTH__JWT_SECRET", "x" * 64))
    assert not result.ok
    assert result.failure.startswith("run: DAG run ended failed")


def test_a_wrong_database_port_for_one_workload_fails_at_that_workload(capfd):
    url = "postgresql://airflow:airflow-smoke@127.0.0.1:1/airflow"
    mutate = lambda objs: _set_env(objs, "scheduler", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", url)  # noqa: E731
    smoke = Smoke([DEFAULT_PROFILE], mutate=mutate)
    result = smoke.run()
    assert all(r.popen.poll() is not None for r in smoke.runner.running)  # every process stopped
    smoke.cleanup(keep=False)
    assert not result.ok
    assert result.failure.startswith("scheduler/wait-for-migrations: exited with code")
    assert "----- scheduler.wait-for-migrations" in capfd.readouterr().err  # its log tail is shown
    assert result.run_dir.exists()  # kept for inspection after a failure


def test_ctrl_c_stops_every_process_and_service():
    seen = {}

    def interrupt(runner):
        seen["pids"] = [r.popen.pid for r in runner.running]
        raise KeyboardInterrupt

    smoke = Smoke([DEFAULT_PROFILE], on_started=interrupt)
    result = smoke.run()
    smoke.cleanup(keep=False)
    assert result.failure == "interrupted"
    assert len(seen["pids"]) == len(AIRFLOW_COMPONENTS) + 2  # + worker, flower
    for pid in seen["pids"]:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the whole process group is gone
    for endpoint in smoke.endpoints:  # PostgreSQL and Redis are stopped too
        with pytest.raises(OSError):
            socket.create_connection((endpoint.host, endpoint.port), timeout=2).close()
