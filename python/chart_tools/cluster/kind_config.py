"""kind's cluster config (`kind.x-k8s.io/v1alpha4`, kind: Cluster) checked before kind sees it.

The schema is ours, written from the fields of kind's v1alpha4 Go types: unknown fields are
errors (kind itself rejects them, but only once Docker is there), roles, protocols and IP
families are the enums kind accepts, ports are port numbers. A finding names the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

CONFIG = Path(__file__).with_name("kind.yaml")
PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
PATCHES = {"type": "array", "items": {"type": "string"}}
JSON6902 = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["group", "version", "kind", "patch"],
        "properties": {n: {"type": "string"} for n in ("group", "version", "kind", "patch")},
    },
}
PORT_MAPPING = {
    "type": "object",
    "additionalProperties": False,
    "required": ["containerPort"],
    "properties": {
        "containerPort": PORT,
        "hostPort": PORT,
        "listenAddress": {"type": "string"},
        "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
    },
}
MOUNT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["hostPath", "containerPath"],
    "properties": {
        "hostPath": {"type": "string"},
        "containerPath": {"type": "string"},
        "readOnly": {"type": "boolean"},
        "selinuxRelabel": {"type": "boolean"},
        "propagation": {"enum": ["None", "HostToContainer", "Bidirectional"]},
    },
}
NODE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role"],
    "properties": {
        "role": {"enum": ["control-plane", "worker"]},
        # repository:tag, optionally @sha256:digest (kindest/node images)
        "image": {"type": "string", "pattern": r"^[a-z0-9./_-]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "extraMounts": {"type": "array", "items": MOUNT},
        "extraPortMappings": {"type": "array", "items": PORT_MAPPING},
        "kubeadmConfigPatches": PATCHES,
        "kubeadmConfigPatchesJSON6902": JSON6902,
    },
}
NETWORKING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ipFamily": {"enum": ["ipv4", "ipv6", "dual"]},
        "apiServerPort": {"type": "integer", "minimum": -1, "maximum": 65535},
        "apiServerAddress": {"type": "string"},
        "podSubnet": {"type": "string"},
        "serviceSubnet": {"type": "string"},
        "disableDefaultCNI": {"type": "boolean"},
        "kubeProxyMode": {"enum": ["iptables", "ipvs", "nftables", "none"]},
        "dnsSearch": {"type": "array", "items": {"type": "string"}},
    },
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "apiVersion"],
    "properties": {
        "kind": {"const": "Cluster"},
        "apiVersion": {"const": "kind.x-k8s.io/v1alpha4"},
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "nodes": {"type": "array", "minItems": 1, "items": NODE},
        "networking": NETWORKING,
        "featureGates": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "runtimeConfig": {"type": "object", "additionalProperties": {"type": "string"}},
        "kubeadmConfigPatches": PATCHES,
        "kubeadmConfigPatchesJSON6902": JSON6902,
        "containerdConfigPatches": PATCHES,
        "containerdConfigPatchesJSON6902": PATCHES,
    },
}


def problems(config: Any) -> list[str]:
    """Each way `config` is not a kind v1alpha4 Cluster kind would start, as `key: reason`."""
    findings = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(config)
    ]
    nodes = config.get("nodes", []) if isinstance(config, dict) else []
    if nodes and not any(isinstance(n, dict) and n.get("role") == "control-plane" for n in nodes):
        findings.append("nodes: kind needs at least one control-plane node")
    host_ports = [
        m.get("hostPort")
        for n in nodes
        if isinstance(n, dict)
        for m in n.get("extraPortMappings", [])
        if isinstance(m, dict) and m.get("hostPort")
    ]
    findings += [
        f"extraPortMappings: hostPort {p} is mapped twice"
        for p in sorted(set(host_ports))
        if host_ports.count(p) > 1
    ]
    return findings


def load(path: Path = CONFIG) -> dict[str, Any]:
    """The checked config; ValueError naming the file and the first problem otherwise."""
    config = yaml.safe_load(path.read_text())
    found = problems(config)
    if found:
        raise ValueError(f"{path}: {found[0]}")
    return config
