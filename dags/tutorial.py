"""The classic Airflow tutorial in Airflow 3 syntax: three BashOperator tasks.

`templated` shows Jinja in a bash command: the run's `ds`, `macros.ds_add(ds, 7)` and a
`params` value. `sleep` retries, as a flaky task would. Both depend on `print_date`.
"""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

TEMPLATED_COMMAND = """
{% for i in range(3) %}
    echo "run date: {{ ds }}"
    echo "a week later: {{ macros.ds_add(ds, 7) }}"
    echo "param: {{ params.my_param }}"
{% endfor %}
"""

with DAG(
    dag_id="tutorial",
    description="The classic tutorial DAG",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
    tags=["example"],
):
    print_date = BashOperator(task_id="print_date", bash_command="date")
    sleep = BashOperator(task_id="sleep", bash_command="sleep 2", retries=3)
    templated = BashOperator(
        task_id="templated",
        bash_command=TEMPLATED_COMMAND,
        params={"my_param": "Parameter I passed in"},
    )
    print_date >> [sleep, templated]
