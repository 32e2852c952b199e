"""Two KubernetesPodOperator tasks after a start task: one passes, one fails on purpose.

The launched pods run as the chart's dedicated service account (no API rights) when
`cluster.podOperator.enabled` is on, and meet Pod Security "restricted". `failing` asks for an
image tag that does not exist, to show what a failed pod looks like in the UI and logs.
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
    "cmds": ["python", "-c"],
    "arguments": ["print('hello world')"],
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
        image="python:3.12-slim",
        **COMMON,
    )
    failing = KubernetesPodOperator(
        task_id="failing-task",
        name="fail",
        image="python:this-tag-does-not-exist",
        **COMMON,
    )
    start >> [passing, failing]
