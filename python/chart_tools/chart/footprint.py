"""What a render asks the scheduler for: the sum of its running workloads' resource requests.

A pod's request is what Kubernetes schedules it by: per resource, the larger of its main
containers' sum and its largest init container. Deployments and StatefulSets count once per
replica; Jobs (the migration) and the pods Airflow launches itself (KubernetesExecutor,
KubernetesPodOperator) are not counted: they come and go.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chart_tools.chart.formats import quantity

GIB = Decimal(2**30)


@dataclass(frozen=True)
class Footprint:
    cpu: Decimal  # cores
    memory: Decimal  # bytes
    pods: int

    def __str__(self) -> str:
        return f"{self.cpu.normalize():f} CPU, {self.memory / GIB:.2f} GiB in {self.pods} pods"


def _requests(containers: list[dict[str, Any]], resource: str) -> list[Decimal]:
    amounts = [((c.get("resources") or {}).get("requests") or {}).get(resource, 0) for c in containers]
    return [quantity(a) or Decimal(0) for a in amounts]


def pod_request(spec: dict[str, Any], resource: str) -> Decimal:
    main = sum(_requests(spec["containers"], resource), Decimal(0))
    return max([main, *_requests(spec.get("initContainers") or [], resource)])


def footprint(objects: list[dict[str, Any]]) -> Footprint:
    cpu, memory, pods = Decimal(0), Decimal(0), 0
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        replicas = obj["spec"].get("replicas", 1)
        spec = obj["spec"]["template"]["spec"]
        cpu += replicas * pod_request(spec, "cpu")
        memory += replicas * pod_request(spec, "memory")
        pods += replicas
    return Footprint(cpu, memory, pods)
