"""The fault tests' DAG: a long task to break things under, two short ones beside it, one after.

Every task appends "<task> <try>" to the ledger file named by the run's `ledger` parameter when
it starts, so a test counts how often each task really ran; `hold` then sleeps `hold` seconds.
"""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

MARK = 'echo "{{ ti.task_id }} {{ ti.try_number }}" >> "{{ params.ledger }}"'

with DAG(
    dag_id="faults",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"ledger": "/dev/null", "hold": 12},
):
    hold = BashOperator(task_id="hold", bash_command=f"{MARK} && sleep {{{{ params.hold }}}}")
    beside = [BashOperator(task_id=f"beside_{n}", bash_command=f"{MARK} && sleep 3") for n in (1, 2)]
    after = BashOperator(task_id="after", bash_command=MARK)
    [hold, *beside] >> after
