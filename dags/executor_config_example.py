"""KubernetesExecutor task-level pod configuration with `executor_config` and a `pod_override`.

`small_pod` runs in a pod with 128Mi of memory requested and limited and a different image
(the Python 3.12 build of the same Airflow release); everything else comes from the chart's
pod template. The override also hands the pod's own memory request and limit to the task through
the downward API, so the task reports what the pod it runs in was given. With both executors
configured the task asks for KubernetesExecutor itself; the other task runs on the default
executor.
"""

import os
from datetime import datetime

from airflow.configuration import conf
from airflow.sdk import DAG, task
from kubernetes.client import models as k8s

KUBERNETES = "KubernetesExecutor" in conf.get("core", "executor")


def _pod_resource(name: str, resource: str) -> k8s.V1EnvVar:
    """An environment variable holding one of the task container's own requests or limits."""
    field = k8s.V1ResourceFieldSelector(container_name="base", resource=resource, divisor="1Mi")
    return k8s.V1EnvVar(name=name, value_from=k8s.V1EnvVarSource(resource_field_ref=field))


SMALL_POD = k8s.V1Pod(
    spec=k8s.V1PodSpec(
        containers=[
            k8s.V1Container(
                name="base",  # the task container of Airflow's pod template
                image="apache/airflow:3.3.2-python3.12",
                resources=k8s.V1ResourceRequirements(
                    requests={"cpu": "100m", "memory": "128Mi"}, limits={"memory": "128Mi"}
                ),
                env=[
                    _pod_resource("POD_MEMORY_REQUEST_MI", "requests.memory"),
                    _pod_resource("POD_MEMORY_LIMIT_MI", "limits.memory"),
                ],
            )
        ]
    )
)

with DAG(
    dag_id="executor_config_example",
    description="A task with its own pod shape",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "kubernetes"],
):

    @task(executor="KubernetesExecutor" if KUBERNETES else None, executor_config={"pod_override": SMALL_POD})
    def small_pod() -> dict[str, str | None]:
        """What the pod was given, as the pod itself sees it (None outside a task pod)."""
        return {
            "memory_request_mi": os.environ.get("POD_MEMORY_REQUEST_MI"),
            "memory_limit_mi": os.environ.get("POD_MEMORY_LIMIT_MI"),
        }

    @task
    def default_executor() -> str:
        return "ran on the default executor"

    small_pod() >> default_executor()
