"""KubernetesExecutor task-level pod configuration with `executor_config` and a `pod_override`.

`small_pod` runs in a pod with 128Mi of memory requested and limited and a different image
(the Python 3.12 build of the same Airflow release); everything else comes from the chart's
pod template. With both executors configured the task asks for KubernetesExecutor itself;
the other task runs on the default executor.
"""

from datetime import datetime

from airflow.configuration import conf
from airflow.sdk import DAG, task
from kubernetes.client import models as k8s

KUBERNETES = "KubernetesExecutor" in conf.get("core", "executor")
SMALL_POD = k8s.V1Pod(
    spec=k8s.V1PodSpec(
        containers=[
            k8s.V1Container(
                name="base",  # the task container of Airflow's pod template
                image="apache/airflow:3.3.2-python3.12",
                resources=k8s.V1ResourceRequirements(
                    requests={"cpu": "100m", "memory": "128Mi"}, limits={"memory": "128Mi"}
                ),
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
    def small_pod() -> str:
        return "ran in a 128Mi pod"

    @task
    def default_executor() -> str:
        return "ran on the default executor"

    small_pod() >> default_executor()
