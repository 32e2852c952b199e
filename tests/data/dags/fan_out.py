"""The throttling test's DAG: six tasks ready at once, each holding its slot (and pod) a while."""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(dag_id="fan_out", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    for n in range(6):
        BashOperator(task_id=f"task_{n}", bash_command="sleep 4")
