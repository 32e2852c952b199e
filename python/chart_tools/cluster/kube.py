"""The cluster as the e2e reads it, through the official `kubernetes` client: objects as plain
dicts (what `kubectl get -o json` shows), so the runner's logic works on data a test can write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

Obj = dict[str, Any]


class Kube:
    """Reads of one cluster, by kind: list, get, and a container's log."""

    def __init__(self, kubeconfig: Path) -> None:
        api = config.new_client_from_config(config_file=str(kubeconfig))
        core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
        self.core = core
        # kind -> (list in a namespace, read one)
        self.calls = {
            "Pod": (core.list_namespaced_pod, core.read_namespaced_pod),
            "Secret": (core.list_namespaced_secret, core.read_namespaced_secret),
            "PersistentVolumeClaim": (
                core.list_namespaced_persistent_volume_claim,
                core.read_namespaced_persistent_volume_claim,
            ),
            "Event": (core.list_namespaced_event, core.read_namespaced_event),
            "Service": (core.list_namespaced_service, core.read_namespaced_service),
            "Deployment": (apps.list_namespaced_deployment, apps.read_namespaced_deployment),
            "StatefulSet": (apps.list_namespaced_stateful_set, apps.read_namespaced_stateful_set),
            "Job": (batch.list_namespaced_job, batch.read_namespaced_job),
        }

    def list(self, kind: str, namespace: str, selector: str = "") -> list[Obj]:
        if kind == "Node":
            return json.loads(self.core.list_node(_preload_content=False).data)["items"]
        answer = self.calls[kind][0](namespace, label_selector=selector, _preload_content=False)
        return json.loads(answer.data)["items"]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        try:
            return json.loads(self.calls[kind][1](name, namespace, _preload_content=False).data)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def log(self, namespace: str, pod: str, container: str, previous: bool = False) -> str:
        try:
            return self.core.read_namespaced_pod_log(pod, namespace, container=container, previous=previous)
        except ApiException as err:
            return f"(no log: {err.status} {err.reason})"
