"""Two KubernetesPodOperator tasks after a start task: one passes, one fails on purpose.

The launched pods run as the chart's dedicated service account (no API rights) when
`cluster.podOperator.enabled` is on, and meet Pod Security "restricted". `failing` runs a command
that exits with an error, to show what a failed pod looks like in the UI and logs: the pod's
output and exit code reach the task's log.
"""

import os
from datetime import datetime

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

# Set by the chart on every Airflow container when cluster.podOperator.enabled is true.
SERVICE_ACCOUNT = os.environ.get("AIRFLOW_VAR_POD_OPERATOR_SERVICE_ACCOUNT", "default")
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
COMMON = {
    "image": "python:3.12-slim",
    "cmds": ["python", "-c"],
    "labels": {"example": "kubernetes_sample"},
    "service_account_name": SERVICE_ACCOUNT,
    "security_context": RESTRICTED_POD,
    "container_security_context": RESTRICTED_CONTAINER,
    "container_resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    "get_logs": True,
    "on_finish_action": "delete_succeeded_pod",
}

with DAG(
    dag_id="kubernetes_sample",
    description="KubernetesPodOperator: a passing and a failing pod",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "kubernetes"],
):
    start = EmptyOperator(task_id="start")
    passing = KubernetesPodOperator(
        task_id="passing-task",
        name="passing-test",
        arguments=["print('hello world')"],
        **COMMON,
    )
    failing = KubernetesPodOperator(
        task_id="failing-task",
        name="fail",
        arguments=["import sys; print('failing on purpose'); sys.exit(3)"],
        retries=0,  # it fails on purpose: no point trying again
        **COMMON,
    )
    start >> [passing, failing]
