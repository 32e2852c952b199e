"""The autoscaling test's DAG: six tasks for the workers' queue, each holding its slot until the
file named by the run's `gate` parameter exists, and one for a queue no worker of the release
consumes (it stays queued: the scaler must not count it). The held tasks name their executor in
each way a Celery task can: not at all, by class name, by import path."""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

CELERY = "airflow.providers.celery.executors.celery_executor.CeleryExecutor"
EXECUTORS = [None, "CeleryExecutor", CELERY]
WAIT = 'while [ ! -e "{{ params.gate }}" ]; do sleep 0.5; done'

with DAG(
    dag_id="burst",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"gate": "/dev/null"},
    max_active_tasks=16,
):
    for n in range(6):
        BashOperator(
            task_id=f"held_{n}",
            bash_command=WAIT,
            execution_timeout=timedelta(minutes=10),
            executor=EXECUTORS[n % len(EXECUTORS)],
        )
    BashOperator(task_id="elsewhere", bash_command="true", queue="elsewhere")
