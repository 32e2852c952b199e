"""The release as a cluster holds it after `helm install`: the stand-in API and its kubelet.

The API is loaded with every rendered object (and the Secrets the user created beforehand), a
Pod per running workload (so a ResourceQuota counts the release's own pods) and a
service-account token for each pod that mounts one. Pods created through the API later (a
KubernetesExecutor task, a pod operator's pod) are planned here from the objects the API then
holds, wired to the release's Services and run by the kubelet; `provide` lets the caller put
what the pod's image would hold in place (the smoke's DAG files in DAG mode `image`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chart_tools.chart.render import NAMESPACE, Manifest
from chart_tools.runtime.kubeapi import StandInKubeAPI
from chart_tools.runtime.kubelet import Kubelet, PodRun
from chart_tools.runtime.kubestore import Key, Obj
from chart_tools.runtime.plan import Cluster, PodPlan, RunPlan, local_path, plan_pod, wire
from chart_tools.runtime.processes import Runner

TOKEN_FOLDER = "/var/run/secrets/kubernetes.io/serviceaccount"  # where a pod's token is mounted


class LocalCluster:
    """One release in the stand-in API, with a kubelet for the pods created through it."""

    def __init__(self, run_dir: Path, runner: Runner, provide: Callable[[PodPlan, Obj], None]) -> None:
        self.run_dir, self.provide = run_dir, provide
        self.api = StandInKubeAPI(run_dir / "kube-api", NAMESPACE)
        self.kubelet = Kubelet(self.api, runner, self._plan)
        self.plan: RunPlan | None = None
        self.migration: Key | None = None

    def install(self, objects: list[Manifest], plan: RunPlan) -> None:
        """Load the release: its objects, a pod per running workload, the pods' tokens."""
        self.plan = plan
        for obj in objects:
            self.api.store(obj, NAMESPACE)
        for obj in objects:
            if obj["kind"] in ("Deployment", "StatefulSet", "Job") and obj["spec"].get("replicas", 1) != 0:
                key = self.kubelet.register(obj, NAMESPACE)
                if obj["kind"] == "Job":
                    self.migration = key
        for pod in plan.workloads:
            self.give_token(pod)

    def migrated(self) -> None:
        """The migration Job's pod is done (it no longer counts against a quota)."""
        if self.migration:
            self.kubelet.finish(self.migration, "Succeeded")

    def give_token(self, pod: PodPlan) -> None:
        """In-cluster credentials become a kubeconfig with the pod's service-account token."""
        if pod.token:
            folder = local_path(pod.root, TOKEN_FOLDER)
            env = self.api.service_account_env(NAMESPACE, pod.service_account, folder)
            for process in pod.init + pod.main:
                process.env.update(env)

    def _plan(self, pod: Obj) -> PodPlan:
        """A Pod created through the API, planned from the objects the API holds in its namespace."""
        assert self.plan is not None, "install() comes first"
        namespace = pod["metadata"]["namespace"]
        objects = [o for kind in ("secrets", "configmaps") for o in self.api.objects.list(kind, namespace)[0]]
        planned = plan_pod(pod, Cluster(objects, namespace, self.plan.log_ports), self.run_dir)
        wire(planned, self.plan.services, self.plan.endpoints)
        self.give_token(planned)
        self.provide(planned, pod)
        return planned

    def task_pods(self, dag_id: str, run_id: str) -> dict[str, PodRun]:
        """Task id -> the last pod a task of this run ran in, by the KubernetesExecutor's
        annotations."""
        pods: dict[str, PodRun] = {}
        for run in list(self.kubelet.runs.values()):
            annotations = run.pod["metadata"].get("annotations") or {}
            if (annotations.get("dag_id"), annotations.get("run_id")) == (dag_id, run_id):
                pods[annotations["task_id"]] = run
        return pods

    def close(self) -> None:
        self.api.close()
