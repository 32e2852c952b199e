"""Both executors and the KubernetesPodOperator, run for real on one stack.

values/celery-kubernetes-executor.yaml with `cluster.podOperator.enabled`: tasks run on Celery
workers unless they ask for the KubernetesExecutor, and task code may launch pods. Every pod goes
through the stand-in Kubernetes API, which authorises each request with the caller's own
service-account token against the rendered Roles, and the runtime's kubelet runs the pods. The
tests run one at a time, so the pods that appear during a test are that test's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from chart_tools import ROOT
from chart_tools.chart.validate import validate
from chart_tools.runtime.kubelet import PodRun
from chart_tools.runtime.kubestore import Key
from chart_tools.runtime.processes import wait_until
from chart_tools.runtime.smoke import DAGS
from tests.runtime.stacks import DEADLINE, Stack, running

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.usefixtures("runtime_ready"),
    pytest.mark.xdist_group("pod-operator"),
]

VALUES = [
    ROOT / "values" / "celery-kubernetes-executor.yaml",
    ROOT / "tests" / "data" / "pod-operator-values.yaml",
]
WORKER = "system:serviceaccount:airflow:airflow-worker"
ROLE = Key("airflow", "roles", "airflow-pod-launcher")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running(
        tmp_path_factory.mktemp("pod-operator"), VALUES, dag_files=sorted(DAGS.glob("*.py"))
    ) as stack:
        yield stack


def run_dag(stack: Stack, dag_id: str) -> tuple[str, str, dict, dict[str, PodRun]]:
    """Trigger a run and wait for its end: run id, run state, task instances, and the pods created
    meanwhile by task id (once each has ended)."""
    before = set(stack.cluster.kubelet.runs)
    run_id = stack.trigger(dag_id)
    state, tasks = stack.wait_run(dag_id, run_id)
    pods = {k: r for k, r in list(stack.cluster.kubelet.runs.items()) if k not in before}
    ended = lambda: all(r.phase in ("Succeeded", "Failed") for r in pods.values())  # noqa: E731
    wait_until(f"the pods of {run_id} ended", ended, DEADLINE, stack.runner, 0.5)
    by_task = {r.pod["metadata"]["labels"]["task_id"]: r for r in pods.values()}
    assert len(by_task) == len(pods), "a task ran in more than one pod"
    return run_id, state, tasks, by_task


def log_text(stack: Stack, dag_id: str, run_id: str, task_id: str) -> str:
    """A task's first try's log, read through the REST API (served by the worker that ran it)."""
    return "\n".join(stack.api.log_lines(dag_id, run_id, task_id, 1))


def test_multi_executor_runs_one_task_as_a_pod_and_the_other_on_celery(stack):
    """executor_config_example: `small_pod` asks for the KubernetesExecutor and runs in its own
    pod with its pod_override; `default_executor` runs on a Celery worker, in no pod."""
    run_id, state, tasks, pods = run_dag(stack, "executor_config_example")
    assert state == "success"
    assert tasks["small_pod"].executor == "KubernetesExecutor"
    assert list(pods) == ["small_pod"]
    assert pods["small_pod"].pod["spec"]["containers"][0]["image"] == "apache/airflow:3.3.2-python3.12"
    assert stack.api.xcom("executor_config_example", run_id, "small_pod") == {
        "memory_request_mi": "128",
        "memory_limit_mi": "128",
    }
    assert (
        stack.api.xcom("executor_config_example", run_id, "default_executor") == "ran on the default executor"
    )
    assert tasks["default_executor"].hostname  # a Celery worker ran it and serves its log
    assert "ran on the default executor" in log_text(
        stack, "executor_config_example", run_id, "default_executor"
    )


def test_pod_operator_runs_the_sample_pods(stack):
    """kubernetes_sample: the worker launches both pods as the launched-pod account, follows their
    logs through the API into the task log, deletes the passing pod and keeps the failing one."""
    run_id, state, tasks, pods = run_dag(stack, "kubernetes_sample")
    assert state == "failed"  # as designed: one of the two pods fails
    assert {k: t.state.value for k, t in tasks.items()} == {
        "start": "success",
        "passing-task": "success",
        "failing-task": "failed",
    }
    passing, failing = pods["passing-task"], pods["failing-task"]
    assert (passing.phase, failing.phase) == ("Succeeded", "Failed")
    assert failing.states["base"]["terminated"]["exitCode"] == 3
    for run in (passing, failing):
        pod = {"apiVersion": "v1", "kind": "Pod", **run.pod}
        assert pod["spec"]["serviceAccountName"] == "airflow-launched-pod"
        pod["metadata"] = {k: v for k, v in pod["metadata"].items() if k in ("name", "labels", "annotations")}
        findings = validate([pod])
        assert not findings, "\n".join(map(str, findings))
        followed = f"/pods/{run.key.name}/log?container=base&follow=True&timestamps=True"
        assert any(c.user == WORKER and c.path.endswith(followed) for c in list(stack.cluster.api.calls))
    assert "hello world" in log_text(stack, "kubernetes_sample", run_id, "passing-task")
    assert "failing on purpose" in log_text(stack, "kubernetes_sample", run_id, "failing-task")
    assert stack.cluster.api.objects.get(passing.key) is None  # on_finish_action=delete_succeeded_pod
    kept = stack.cluster.api.objects.get(failing.key)
    assert kept["metadata"]["labels"]["already_checked"] == "True"


def test_a_verb_missing_from_the_role_fails_the_task_with_the_apis_403(stack):
    """The pod-launcher Role without `create` on pods, as a cluster would have it after a bad
    edit: the worker's request is refused and the task's log names the refusal. (The task's retry
    would fail the same way; the Role is restored once the first try has failed.)"""
    role = stack.cluster.api.objects.get(ROLE)
    broken = copy.deepcopy(role)
    for rule in broken["rules"]:
        if rule["resources"] == ["pods"]:
            rule["verbs"].remove("create")
    stack.cluster.api.store(broken, "airflow")
    try:
        run_id = stack.trigger("kubernetes_sample")
        first_try_over = lambda: task_state(stack, run_id, "passing-task") in ("up_for_retry", "failed")  # noqa: E731
        wait_until("passing-task's first try", first_try_over, DEADLINE, stack.runner, 0.5)
    finally:
        stack.cluster.api.store(role, "airflow")
    refused = [c for c in list(stack.cluster.api.calls) if c.status == 403]
    assert {(c.method, c.user) for c in refused} == {("POST", WORKER)}
    log = log_text(stack, "kubernetes_sample", run_id, "passing-task")
    assert "ForbiddenException: (403)" in log, log[-3000:]
    assert (
        f'User \\"{WORKER}\\" cannot create resource \\"pods\\" in API group \\"\\" in the namespace' in log
    )


def task_state(stack: Stack, run_id: str, task_id: str) -> str:
    tasks = {t.task_id: t for t in stack.api.task_instances("kubernetes_sample", run_id)}
    state = tasks[task_id].state
    return state.value if state else "none"
