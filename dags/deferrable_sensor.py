"""A deferrable sensor: the task hands its wait to the triggerer and is resumed when it ends.

`wait` is the standard provider's DateTimeSensorAsync, which always defers (even when its time
has passed): its first run frees its worker slot (or task pod) at once, the triggerer watches the
clock, and the task resumes on a worker 15 seconds after the run was triggered. `after` runs
when it succeeded.
"""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG

with DAG(
    dag_id="deferrable_sensor",
    description="A sensor that waits in the triggerer",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example"],
):
    wait = DateTimeSensorAsync(
        task_id="wait",
        target_time="{{ (dag_run.run_after + macros.timedelta(seconds=15)).isoformat() }}",
    )
    after = BashOperator(task_id="after", bash_command="echo 'resumed by the triggerer'")
    wait >> after
