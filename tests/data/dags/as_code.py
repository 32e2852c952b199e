"""Returns what a connection and a variable hold when they reach the worker only as
AIRFLOW_CONN_OPS_DB / AIRFLOW_VAR_OPS_ENVIRONMENT from a Secret (cluster.connections and
cluster.variables), running in the pool cluster.pools created (tests/runtime/test_operations.py)."""

from datetime import datetime

from airflow.sdk import BaseHook, Variable, dag, task


@dag(dag_id="as_code", schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def as_code():
    @task(pool="ops_pool")
    def read() -> dict[str, str]:
        connection = BaseHook.get_connection("ops_db")
        return {
            "host": connection.host,
            "login": connection.login,
            "schema": connection.schema,
            "environment": Variable.get("ops_environment"),
        }

    read()


as_code()
