"""A DAG file that reads a Variable while it is parsed: the dag-processor decrypts it with its
fernet key (the key-removal experiment sets the Variable through the REST API, encrypted by the
api-server, and waits for the description to show it)."""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Variable

with DAG(
    dag_id="parse_time_variable",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    description=Variable.get("key_removal_probe", default="unset"),
):
    BashOperator(task_id="echo", bash_command="echo parsed")
