"""A task that starts in the triggerer: the scheduler itself writes its trigger (with encrypted
kwargs), so the run needs the scheduler's and the triggerer's fernet keys to agree."""

from datetime import datetime

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG

with DAG(dag_id="start_from_trigger", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    DateTimeSensorAsync(
        task_id="wait",
        target_time="{{ (dag_run.run_after + macros.timedelta(seconds=5)).isoformat() }}",
        start_from_trigger=True,
    )
