"""Who may connect to whom under the rendered NetworkPolicies, as a policy analyzer computes it.

network-config-analyzer (`nca`) reads workloads, namespaces and NetworkPolicies and lists every
connection they allow. Tests compare that list with a matrix written from the chart's intent, so
the proof is the analyzer's reading of the policies, not ours. nca pins PyYAML and networkx at
versions that clash with the render tier's, so it runs from its own virtualenv (.venv-nca).
"""

from __future__ import annotations

import copy
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chart_tools import ROOT
from chart_tools.chart.render import Manifest

NCA = ROOT / ".venv-nca" / "bin" / "nca"
WORKLOADS = {"Deployment", "StatefulSet", "Job", "Pod", "NetworkPolicy"}
ANYWHERE = "0.0.0.0-255.255.255.255"  # how nca names the address space outside the cluster
# One line of nca's `txt_no_fw_rules` report: "ns/name[Kind] => ns/name[Kind] : connections".
_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conns>.+)$")
_CONN = re.compile(r"\{protocols:(?P<protocols>[A-Z]+(, ?[A-Z]+)*)(,dst_ports:(?P<ports>[0-9,-]+))?\}")


class AnalyzerError(RuntimeError):
    """nca is missing or could not analyze the input."""


@dataclass(frozen=True, order=True)
class Connection:
    """One allowed connection: endpoints as `namespace/workload` (or an address range) and a port
    as `TCP/8080`, `UDP/9125`, `TCP/*` (every port of a protocol) or `*` (everything)."""

    src: str
    dst: str
    port: str


def in_namespace(objects: list[Manifest], namespace: str) -> list[Manifest]:
    """Copies of the workloads and NetworkPolicies of a render, placed in `namespace` as
    `helm install -n` would place them; a KubernetesExecutor pod template becomes a Pod named
    `<ConfigMap name>-task` so the analyzer sees task pods too."""
    placed = []
    for obj in objects:
        if obj["kind"] == "ConfigMap" and "pod_template_file.yaml" in obj.get("data", {}):
            pod = yaml.safe_load(obj["data"]["pod_template_file.yaml"])
            pod["metadata"]["name"] = obj["metadata"]["name"] + "-task"
            obj = pod
        if obj["kind"] in WORKLOADS:
            obj = copy.deepcopy(obj)
            obj["metadata"]["namespace"] = namespace
            placed.append(obj)
    return placed


def namespace(name: str, labels: dict[str, str] | None = None) -> Manifest:
    """A Namespace object with the label Kubernetes sets on every namespace, plus `labels`."""
    all_labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all_labels}}


def pod(namespace_name: str, name: str, labels: dict[str, str] | None = None) -> Manifest:
    """A bare Pod: a probe that stands for some other workload of the cluster."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace_name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }


def parse(report: str) -> set[Connection]:
    """The connections of nca's `txt_no_fw_rules` report (other lines are nca's notes)."""
    found = set()
    for line in report.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        src, dst = (re.sub(r"\[[A-Za-z]+\]$", "", match[side]) for side in ("src", "dst"))
        for port in _ports(match["conns"]):
            found.add(Connection(src, dst, port))
    return found


def _ports(connections: str) -> list[str]:
    if connections.strip() == "All connections":
        return ["*"]
    ports = []
    for conn in _CONN.finditer(connections):
        for protocol in conn["protocols"].replace(" ", "").split(","):
            ports += [f"{protocol}/{p}" for p in (conn["ports"] or "*").split(",")]
    if not ports:
        raise AnalyzerError(f"unexpected connection set in nca's report: {connections}")
    return ports


def analyze(objects: list[Manifest]) -> set[Connection]:
    """Every connection the NetworkPolicies among `objects` allow between the objects' pods and
    the outside (objects need their namespaces set, and Namespace objects for selectors)."""
    if not NCA.exists():
        raise AnalyzerError(
            f"network-config-analyzer is not installed in {NCA.parent.parent}: run `make setup`"
        )
    with tempfile.TemporaryDirectory() as tmp:
        resources = Path(tmp) / "resources.yaml"
        resources.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        cmd = [
            str(NCA),
            "--connectivity",
            "--resource_list",
            str(resources),
            "--output_format",
            "txt_no_fw_rules",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise AnalyzerError(f"nca failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)


def into(connections: set[Connection], destinations: set[str]) -> set[Connection]:
    """The connections whose destination is one of `destinations` (what ingress policies decide)."""
    return {c for c in connections if c.dst in destinations}


def endpoints(objects: list[dict[str, Any]]) -> set[str]:
    """`namespace/name` of every workload among `objects`, as `parse` names them."""
    kinds = WORKLOADS - {"NetworkPolicy"}
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in objects if o["kind"] in kinds}
