"""The files the cluster tier hands to others: the kind config (kind v1alpha4), the pins, the git
server's manifest, and the GitHub workflows (which `make lint` also checks)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from chart_tools import ROOT
from chart_tools.cluster import kind_config, versions
from chart_tools.cluster.e2e import DAG_IMAGE
from chart_tools.cluster.status import job_state, pod_problem, workload_ready

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = ROOT / ".venv" / "bin"


def test_the_checked_in_kind_config_is_a_kind_v1alpha4_cluster():
    config = kind_config.load()
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker"]
    assert all("image" not in n for n in config["nodes"])  # the image comes from the pins


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        ({"apiVersion": "kind.x-k8s.io/v1alpha3"}, "apiVersion: 'kind.x-k8s.io/v1alpha4' was expected"),
        ({"nodes": [{"role": "master"}]}, "nodes.0.role: 'master' is not one of ['control-plane', 'worker']"),
        ({"nodes": [{"role": "worker"}]}, "nodes: kind needs at least one control-plane node"),
        (
            {"nodes": [{"role": "control-plane", "imagee": "x"}]},
            "nodes.0: Additional properties are not allowed",
        ),
        (
            {"nodes": [{"role": "control-plane", "image": "kindest/node:v1.35.8@sha256:abc"}]},
            "nodes.0.image: 'kindest/node:v1.35.8@sha256:abc' does not match",
        ),
        (
            {
                "nodes": [
                    {"role": "control-plane", "extraPortMappings": [{"containerPort": 80, "hostPort": 70000}]}
                ]
            },
            "nodes.0.extraPortMappings.0.hostPort: 70000 is greater than the maximum of 65535",
        ),
        (
            {
                "nodes": [
                    {
                        "role": "control-plane",
                        "extraPortMappings": [{"containerPort": 80, "protocol": "HTTP"}],
                    }
                ]
            },
            "nodes.0.extraPortMappings.0.protocol: 'HTTP' is not one of ['TCP', 'UDP', 'SCTP']",
        ),
        (
            {
                "nodes": [
                    {"role": "control-plane", "extraPortMappings": [{"containerPort": 80, "hostPort": 8080}]},
                    {"role": "worker", "extraPortMappings": [{"containerPort": 81, "hostPort": 8080}]},
                ]
            },
            "extraPortMappings: hostPort 8080 is mapped twice",
        ),
        ({"networking": {"ipFamily": "ipv5"}}, "networking.ipFamily: 'ipv5' is not one of"),
    ],
)
def test_kind_config_mistakes_are_named_by_key(change, finding):
    config = {**kind_config.load(), **change}
    assert any(f.startswith(finding) for f in kind_config.problems(config)), kind_config.problems(config)


def test_a_full_kind_config_with_every_node_field_passes():
    node = {
        "role": "control-plane",
        "image": versions.PINS["1.30"].node_image,
        "labels": {"ingress-ready": "true"},
        "extraMounts": [
            {"hostPath": "/tmp/x", "containerPath": "/x", "readOnly": True, "propagation": "None"}
        ],
        "extraPortMappings": [
            {"containerPort": 30080, "hostPort": 8080, "listenAddress": "127.0.0.1", "protocol": "TCP"}
        ],
        "kubeadmConfigPatches": ["kind: InitConfiguration\n"],
    }
    config = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": "x", "nodes": [node]}
    config["networking"] = {"kubeProxyMode": "nftables", "apiServerPort": 6443, "podSubnet": "10.244.0.0/16"}
    assert kind_config.problems(config) == []


def test_pins_are_kind_node_images_with_digests_for_both_ends_of_the_supported_range():
    from chart_tools.chart.validate import KUBE_VERSIONS

    assert sorted(versions.PINS) == sorted(KUBE_VERSIONS)  # the range the render tier validates
    for kube, pin in versions.PINS.items():
        assert re.fullmatch(rf"kindest/node:v{re.escape(kube)}\.\d+@sha256:[0-9a-f]{{64}}", pin.node_image)
        assert pin.kubectl == pin.node_image.split(":")[1].split("@")[0]  # kubectl of the node's version
        assert re.fullmatch(r"v0\.\d+\.\d+", pin.kind)


def test_the_pins_are_printed_as_github_step_outputs_by_the_file_itself():
    done = subprocess.run(
        ["python3", "python/chart_tools/cluster/versions.py", "1.30"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    pin = versions.PINS["1.30"]
    assert done.stdout == f"kind={pin.kind}\nkubectl={pin.kubectl}\nnode_image={pin.node_image}\n"


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(job: dict) -> list[dict]:
    return job["steps"]


def test_e2e_workflow_covers_both_kubernetes_versions_and_helm_majors_from_the_pins():
    job = workflow("e2e.yaml")["jobs"]["e2e"]
    assert sorted(job["strategy"]["matrix"]["kube"]) == sorted(versions.PINS)
    assert sorted(job["strategy"]["matrix"]["helm"]) == ["3", "4"]
    kind = next(s for s in steps(job) if s.get("uses", "").startswith("helm/kind-action@"))
    # kind's inputs come from the pins' step outputs, never a second copy of the versions.
    assert kind["with"]["version"] == "${{ steps.pins.outputs.kind }}"
    assert kind["with"]["node_image"] == "${{ steps.pins.outputs.node_image }}"
    assert kind["with"]["config"] == "python/chart_tools/cluster/kind.yaml"
    runs = " ".join(s.get("run", "") for s in steps(job))
    assert "ct lint --config ct.yaml" in runs and "ct install --config ct.yaml" in runs
    assert 'make e2e KUBE_VERSION="$KUBE" HELM="$HELM"' in runs
    upload = next(s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "failure()" and upload["with"]["path"] == "build/e2e/artifacts"


def test_every_action_is_pinned_by_commit_and_permissions_are_least():
    for path in WORKFLOWS.glob("*.yaml"):
        text = path.read_text()
        for ref in re.findall(r"uses:\s*(\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref}"
        flow = yaml.safe_load(text)
        assert flow["permissions"] in ({}, {"contents": "read"}), path.name
    release = workflow("release.yaml")["jobs"]["release"]["permissions"]
    assert release == {"contents": "write", "packages": "write"}


def test_release_workflow_packages_signed_and_publishes_to_oci_and_pages():
    flow = workflow("release.yaml")
    assert flow[True]["push"]["tags"] == ["airflow-*"]  # YAML 1.1 reads the key `on` as True
    runs = "\n".join(s.get("run", "") for s in steps(flow["jobs"]["release"]))
    assert "chart-tools package" in runs and "--sign" in runs
    assert 'chart-tools publish --oci "oci://ghcr.io/$owner/charts"' in runs
    assert 'chart-tools publish --repo-dir site --url "https://$owner.github.io/$name"' in runs
    assert "${{ secrets." not in runs  # secrets reach commands through env, never the script text


def test_test_workflow_runs_make_lint_and_make_test():
    jobs = workflow("test.yaml")["jobs"]
    assert [s.get("run") for s in steps(jobs["lint"])][-1] == "make lint"
    assert steps(jobs["test"])[-1]["run"] == "make test"
    assert jobs["test"]["container"].startswith("python:3.11-bookworm")  # Debian 12, as make test expects


def test_workflow_checks_find_an_unpinned_action_and_a_schema_error(tmp_path):
    """The checks `make lint` runs on the workflows can fail: the same tools on bad workflows."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\non: push\npermissions: {}\njobs:\n  j:\n    name: j\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v5\n"
    )
    done = subprocess.run([BIN / "zizmor", "--offline", str(bad)], capture_output=True, text=True)
    assert done.returncode != 0 and "unpinned-uses" in done.stdout + done.stderr
    bad.write_text("name: bad\non: push\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    schema = [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(bad)]
    done = subprocess.run(schema, capture_output=True, text=True)
    assert done.returncode != 0


def test_the_git_server_manifest_passes_chart_tools_validate():
    manifest = Path("python/chart_tools/cluster/git-server.yaml")
    done = subprocess.run(
        [BIN / "chart-tools", "validate", "--manifest", str(manifest)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "2 objects in 1 manifest files, Kubernetes 1.30, 1.35: 0 findings"
    objects = yaml.safe_load_all((ROOT / manifest).read_text())
    pods = [o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"]
    images = {c["image"] for p in pods for c in p["initContainers"] + p["containers"]}
    assert images == {":".join(DAG_IMAGE)}  # the image the run builds and loads, never pulled


def test_pod_problems_are_named_as_kubectl_describe_would():
    def pod(**status):
        return {"metadata": {"name": "p"}, "status": status}

    waiting = {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m"}}}
    assert (
        pod_problem(pod(phase="Running", containerStatuses=[waiting]))
        == "pod p: container c CrashLoopBackOff: back-off 5m"
    )
    starting = {"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}
    assert pod_problem(pod(phase="Pending", containerStatuses=[starting])) == "pod p: Pending, not Ready"
    restarted = {"name": "c", "state": {"running": {}}, "restartCount": 3,
                 "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}  # fmt: skip
    assert (
        pod_problem(pod(phase="Running", containerStatuses=[restarted]))
        == "pod p: container c exited 137 (OOMKilled, 3 restarts)"
    )
    unschedulable = [{"type": "PodScheduled", "status": "False", "message": "0/2 nodes are available"}]
    assert (
        pod_problem(pod(phase="Pending", conditions=unschedulable))
        == "pod p: not scheduled: 0/2 nodes are available"
    )
    ready = [{"type": "Ready", "status": "True"}]
    assert (
        pod_problem(
            pod(
                phase="Running", conditions=ready, containerStatuses=[{"name": "c", "state": {"running": {}}}]
            )
        )
        == ""
    )
    assert pod_problem(pod(phase="Succeeded")) == ""


def test_workloads_are_ready_only_when_the_current_spec_runs_every_replica():
    def deployment(generation=2, observed=2, replicas=2, updated=2, ready=2, running=2):
        return {"metadata": {"generation": generation}, "spec": {"replicas": replicas},
                "status": {"observedGeneration": observed, "updatedReplicas": updated, "readyReplicas": ready,
                           "replicas": running}}  # fmt: skip

    assert workload_ready(deployment())
    assert not workload_ready(deployment(observed=1))  # the controller has not seen the change
    assert not workload_ready(deployment(updated=1))  # a rollout in progress
    assert not workload_ready(deployment(ready=1))
    assert not workload_ready(deployment(running=3))  # an old pod still terminating
    assert job_state({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == "Complete"
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "reached limit",
    }
    assert job_state({"status": {"conditions": [failed]}}) == "Failed: BackoffLimitExceeded reached limit"
    assert job_state({"status": {}}) == ""


def test_values_merge_as_helm_merges_files():
    from chart_tools.cluster.helm import helm_merge

    repos = [{"name": "examples", "url": "https://example.org/a.git"}]
    ours = [{"name": "e2e", "url": "git://git-server:9418/dags.git"}]
    merged = helm_merge(
        {"cluster": {"dags": {"mode": "image", "git": {"repos": repos, "period": "60s"}}, "executor": "X"}},
        {"cluster": {"dags": {"mode": "gitSync", "git": {"repos": ours}}}},
    )
    assert merged == {
        "cluster": {"dags": {"mode": "gitSync", "git": {"repos": ours, "period": "60s"}}, "executor": "X"}
    }


def test_the_pins_table_in_the_docs_matches_the_pins():
    text = (ROOT / "docs" / "testing.md").read_text()
    rows = re.findall(
        r"^\| (1\.\d+) \| `(kindest/node:v[\d.]+)@sha256:([0-9a-f]{8})…([0-9a-f]{5})` \| (\S+) \| (\S+) \|$",
        text,
        re.M,
    )
    shown = {kube: (image, head, tail, kind, kubectl) for kube, image, head, tail, kind, kubectl in rows}
    assert shown == {
        kube: (p.node_image.split("@")[0], p.node_image[-64:][:8], p.node_image[-5:], p.kind, p.kubectl)
        for kube, p in versions.PINS.items()
    }
