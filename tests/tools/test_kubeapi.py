"""The stand-in Kubernetes API, driven by the official Kubernetes Python client (as Airflow drives
it): RBAC from Roles in the store, admission (service account, ResourceQuota), watches with
resourceVersion and selectors, patches, and pods run by the kubelet with their logs.

The expected messages are the real API server's (kube-apiserver's RBAC authorizer and quota
admission), which Airflow matches on ("exceeded quota") and users read in task logs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from chart_tools.runtime import kubestore
from chart_tools.runtime.kubeapi import StandInKubeAPI
from chart_tools.runtime.kubelet import Kubelet
from chart_tools.runtime.kubestore import Key, apply_patch, label_selector
from chart_tools.runtime.plan import PodPlan, Process, RunPlanError
from chart_tools.runtime.processes import Runner

NS = "team"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[StandInKubeAPI]:
    api = StandInKubeAPI(tmp_path / "api", NS)
    api.store({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "launcher"}}, NS)
    api.store({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}}, NS)
    rules = [
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": ["create", "get", "list", "watch", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r"},
        "rules": rules,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "r"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "launcher", "namespace": NS}],
    }
    api.store(role, NS)
    api.store(binding, NS)
    yield api
    api.close()


def core(api: StandInKubeAPI, tmp_path: Path, account: str | None = None) -> client.CoreV1Api:
    """A client as a pod of `account` has it (its own token), or the administrator's."""
    path = api.kubeconfig
    if account:
        path = Path(api.service_account_env(NS, account, tmp_path / account)["KUBECONFIG"])
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return client.CoreV1Api(client.ApiClient(configuration))


def pod(name: str, account: str = "launcher", labels: dict | None = None, command: str = "true") -> dict:
    container = {"name": "base", "image": "busybox:1.36", "command": ["sh", "-c", command]}
    spec = {"serviceAccountName": account, "restartPolicy": "Never", "containers": [container]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
    }


def refusal(err: pytest.ExceptionInfo[ApiException]) -> tuple[int, str]:
    """Status code and message of the API's answer."""
    return err.value.status, json.loads(err.value.body)["message"]


def test_rbac_allows_what_the_role_grants_and_refuses_the_rest_with_the_api_servers_message(api, tmp_path):
    launcher, nobody = core(api, tmp_path, "launcher"), core(api, tmp_path, "nobody")
    assert launcher.list_namespaced_pod(NS).items == []
    launcher.create_namespaced_pod(NS, pod("p1"))
    with pytest.raises(ApiException) as err:
        nobody.list_namespaced_pod(NS)
    assert refusal(err) == (
        403,
        'pods is forbidden: User "system:serviceaccount:team:nobody" cannot list resource "pods" in API '
        'group "" in the namespace "team"',
    )
    with pytest.raises(ApiException) as err:
        nobody.read_namespaced_pod_log("p1", NS)
    assert refusal(err)[1] == (
        'pods "p1" is forbidden: User "system:serviceaccount:team:nobody" cannot get resource "pods/log" in '
        'API group "" in the namespace "team"'
    )
    with pytest.raises(ApiException) as err:  # other namespaces: no binding there
        launcher.list_namespaced_pod("kube-system")
    assert refusal(err)[0] == 403
    with pytest.raises(ApiException) as err:  # secrets: not granted
        launcher.read_namespaced_secret("s", NS)
    assert refusal(err)[0] == 403


def test_a_role_edit_takes_effect_at_once(api, tmp_path):
    launcher = core(api, tmp_path, "launcher")
    role = api.objects.get(Key(NS, "roles", "r"))
    role["rules"][0]["verbs"].remove("create")
    api.store(role, NS)
    with pytest.raises(ApiException) as err:
        launcher.create_namespaced_pod(NS, pod("p1"))
    assert "cannot create resource" in refusal(err)[1]


def test_an_unknown_token_is_unauthorized(api, tmp_path):
    forged = tmp_path / "forged"
    forged.write_text(api.kubeconfig.read_text().replace(api.tokens.admin_token, "forged"))
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(forged), client_configuration=configuration)
    stranger = client.CoreV1Api(client.ApiClient(configuration))
    with pytest.raises(ApiException) as err:
        stranger.list_namespaced_pod(NS)
    assert err.value.status == 401


def test_admission_refuses_a_missing_service_account_and_pods_over_the_quota(api, tmp_path):
    admin = core(api, tmp_path)
    with pytest.raises(ApiException) as err:
        admin.create_namespaced_pod(NS, pod("p0", account="ghost"))
    assert refusal(err) == (
        403,
        'pods "p0" is forbidden: error looking up service account team/ghost: '
        'serviceaccount "ghost" not found',
    )
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "pods"},
        "spec": {"hard": {"pods": "2"}},
    }
    api.store(quota, NS)
    admin.create_namespaced_pod(NS, pod("p1"))
    admin.create_namespaced_pod(NS, pod("p2"))
    with pytest.raises(ApiException) as err:
        admin.create_namespaced_pod(NS, pod("p3"))
    assert refusal(err) == (
        403,
        'pods "p3" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2',
    )
    api.objects.update(Key(NS, "pods", "p1"), lambda p: p["status"].update(phase="Succeeded"))
    admin.create_namespaced_pod(NS, pod("p3"))  # a finished pod no longer counts


def test_watch_replays_from_a_version_and_follows_selections(api, tmp_path):
    """From version 0 the current objects come as ADDED; from a list's version only what changed
    since; a relabelled pod leaves (DELETED, no deletion time) and enters (ADDED) selections, and a
    deleted one goes with its deletion time, as the KubernetesExecutor tells them apart."""
    admin = core(api, tmp_path)
    admin.create_namespaced_pod(NS, pod("old", labels={"owner": "a"}))
    version = admin.list_namespaced_pod(NS).metadata.resource_version
    admin.create_namespaced_pod(NS, pod("new", labels={"owner": "a"}))
    admin.patch_namespaced_pod("old", NS, {"metadata": {"labels": {"owner": "b"}}})
    admin.delete_namespaced_pod("new", NS)

    def events(selector: str, since: str) -> list[tuple[str, str, bool]]:
        stream = watch.Watch().stream(
            admin.list_namespaced_pod, NS, label_selector=selector, resource_version=since, timeout_seconds=1
        )
        return [
            (e["type"], e["object"].metadata.name, bool(e["object"].metadata.deletion_timestamp))
            for e in stream
        ]

    assert events("owner=a", "0") == []  # nothing is owned by a any more
    assert events("owner=b", "0") == [("ADDED", "old", False)]
    assert events("owner=a", version) == [
        ("ADDED", "new", False),
        ("DELETED", "old", False),  # relabelled: left the selection
        ("DELETED", "new", True),  # deleted
    ]
    assert events("owner=b", version) == [("ADDED", "old", False)]


def test_a_watch_from_a_version_older_than_the_history_kept_is_gone(api, tmp_path, monkeypatch):
    """As after the real server's compaction: an ERROR event with 410, which the client raises."""
    monkeypatch.setattr(kubestore, "HISTORY", 3)
    admin = core(api, tmp_path)
    version = admin.list_namespaced_pod(NS).metadata.resource_version
    for n in range(4):
        admin.create_namespaced_pod(NS, pod(f"p{n}"))
    with pytest.raises(ApiException) as err:
        list(watch.Watch().stream(admin.list_namespaced_pod, NS, resource_version=version, timeout_seconds=1))
    assert err.value.status == 410
    fresh = admin.list_namespaced_pod(NS).metadata.resource_version  # a new list, a new start
    assert (
        list(watch.Watch().stream(admin.list_namespaced_pod, NS, resource_version=fresh, timeout_seconds=1))
        == []
    )


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ("a=1,b!=2", {"a": "1"}, True),
        ("a=1,b!=2", {"a": "1", "b": "2"}, False),
        ("a in (1, 2),!c", {"a": "2"}, True),
        ("a notin (1,2)", {}, True),
        ("a notin (1,2)", {"a": "1"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("airflow-worker=3,airflow_executor_done!=True", {"airflow-worker": "3"}, True),
    ],
)
def test_label_selectors(selector, labels, selected):
    assert label_selector(selector)({"metadata": {"labels": labels}}) is selected


def test_patches_merge_labels_and_apply_json_patch_operations():
    obj = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}}
    merged = apply_patch(
        obj, {"metadata": {"labels": {"a": "9", "b": None}}}, "application/strategic-merge-patch+json"
    )
    assert merged["metadata"]["labels"] == {"a": "9"}
    ops = [{"op": "add", "path": "/spec/x/-", "value": 3}, {"op": "remove", "path": "/metadata/labels/a"}]
    assert apply_patch(obj, ops, "application/json-patch+json") == {
        "metadata": {"labels": {"b": "2"}},
        "spec": {"x": [1, 2, 3]},
    }


@pytest.fixture
def kubelet(api, tmp_path) -> Iterator[Kubelet]:
    """A kubelet whose planner runs each pod's command as is."""
    runner = Runner(tmp_path / "logs")

    def planner(obj: dict) -> PodPlan:
        if obj["metadata"].get("labels", {}).get("broken"):
            raise RunPlanError("Pod/x container base.env[A]: Secret 'nope' does not exist")
        root = tmp_path / "pods" / obj["metadata"]["name"]
        root.mkdir(parents=True)
        main = [
            Process(obj["metadata"]["name"], c["name"], c["command"], {}, root, {}, {})
            for c in obj["spec"]["containers"]
        ]
        return PodPlan(obj["metadata"]["name"], "Pod", {}, root, [], main, token=False)

    yield Kubelet(api, runner, planner)
    runner.stop_all()


def wait_phase(api: StandInKubeAPI, name: str, phases: tuple[str, ...]) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = api.objects.get(Key(NS, "pods", name))
        if found and found["status"].get("phase") in phases:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{name} never reached {phases}")


def test_a_pods_status_follows_its_processes(api, kubelet, tmp_path):
    admin = core(api, tmp_path)
    admin.create_namespaced_pod(NS, pod("ok", command="echo done"))
    admin.create_namespaced_pod(NS, pod("bad", command="exit 3"))
    ok = admin.read_namespaced_pod("ok", NS)
    assert ok.status.phase in ("Pending", "Running", "Succeeded")
    wait_phase(api, "ok", ("Succeeded",))
    bad = wait_phase(api, "bad", ("Failed",))
    terminated = bad["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    status = admin.read_namespaced_pod("ok", NS).status  # the client accepts what the kubelet wrote
    assert status.container_statuses[0].state.terminated.exit_code == 0
    assert {c.type: c.status for c in status.conditions}["PodScheduled"] == "True"
    reasons = [
        e.reason for e in admin.list_namespaced_event(NS, field_selector="involvedObject.name=ok").items
    ]
    assert sorted(reasons) == ["Pulled", "Scheduled", "Started"]


def test_a_pod_that_cannot_be_planned_stays_pending_with_the_reason(api, kubelet, tmp_path):
    """As a missing Secret leaves a pod in a cluster; the KubernetesExecutor fails such a task."""
    core(api, tmp_path).create_namespaced_pod(NS, pod("broken", labels={"broken": "yes"}))
    deadline = time.monotonic() + 30
    while not kubelet.problems and time.monotonic() < deadline:
        time.sleep(0.05)
    status = api.objects.get(Key(NS, "pods", "broken"))["status"]
    assert status["phase"] == "Pending"
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError" and "Secret 'nope'" in waiting["message"]
    assert kubelet.problems == ["pod broken: Pod/x container base.env[A]: Secret 'nope' does not exist"]


def test_a_followed_log_streams_until_the_container_ends(api, kubelet, tmp_path):
    """The first line arrives while the container still runs (it waits for a file the test
    writes only then, or 30 s: a log sent only at the end fails instead of hanging); the stream
    ends when the container does."""
    go = tmp_path / "go"
    admin = core(api, tmp_path)
    wait = f"i=0; until [ -e {go} ] || [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done"
    admin.create_namespaced_pod(NS, pod("talker", command=f"echo one; {wait}; echo two"))
    wait_phase(api, "talker", ("Running",))
    response = admin.read_namespaced_pod_log(
        "talker", NS, container="base", follow=True, timestamps=True, _preload_content=False
    )
    lines: list[str] = []
    for raw in response.stream(amt=None):
        lines.extend(raw.decode().splitlines())
        if lines == lines[:1] and not go.exists():
            assert api.objects.get(Key(NS, "pods", "talker"))["status"]["phase"] == "Running"
            go.touch()
    assert [line.split(" ", 1)[1] for line in lines] == ["one", "two"]
    stamp = lines[0].split(" ", 1)[0]
    assert stamp[:4].isdigit() and stamp.endswith("Z")  # RFC 3339, as the pod operator parses it
    wait_phase(api, "talker", ("Succeeded",))
    assert admin.read_namespaced_pod_log("talker", NS, tail_lines=1) == "two\n"


def test_deleting_a_running_pod_stops_it_before_it_goes(api, kubelet, tmp_path):
    admin = core(api, tmp_path)
    admin.create_namespaced_pod(NS, pod("sleeper", command="sleep 300"))
    wait_phase(api, "sleeper", ("Running",))
    admin.delete_namespaced_pod("sleeper", NS, grace_period_seconds=30)
    gone = threading.Event()

    def poll() -> None:
        while api.objects.get(Key(NS, "pods", "sleeper")) is not None:
            time.sleep(0.05)
        gone.set()

    threading.Thread(target=poll, daemon=True).start()
    assert gone.wait(60)
    # 143: ended by SIGTERM, not SIGKILL (137) at the end of the grace period
    assert kubelet.runs[Key(NS, "pods", "sleeper")].states["base"]["terminated"]["exitCode"] == 143
