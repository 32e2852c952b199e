"""The e2e runner's logic over fakes: phase order, cluster reuse, deadlines, failure reports and
artifacts. What it checks on a real cluster runs in the e2e workflow (tests/e2e/test_kind.py)."""

from __future__ import annotations

import pytest

from chart_tools.cluster import scenarios
from chart_tools.cluster.e2e import POLL, READY_TIMEOUT, E2EFailure
from chart_tools.cluster.versions import PINS
from tests.e2e.fakes import FakeShell, healthy_release, job, pod, ready_deployment, runner


def test_a_passing_run_creates_the_cluster_loads_the_image_runs_and_cleans_up(tmp_path):
    r = runner(tmp_path, ["default"])
    healthy_release(r.cluster)
    assert r.e2e.run() == 0
    assert r.shell.commands() == [
        "kind get",
        "kind create",
        "kind export",
        "docker build",
        "kind load",
        "kubectl port-forward",
        "kubectl delete",
        "kind delete",
    ]
    create = r.shell.calls[1]
    assert create[create.index("--image") + 1] == PINS["1.35"].node_image
    assert create[create.index("--config") + 1].endswith("python/chart_tools/cluster/kind.yaml")
    assert "e2e-default" in r.shell.calls[6]  # the scenario's own namespace is deleted
    # The release got the e2e's image values last among the files, and the api-server was used
    # through the port-forward with the admin password from the release's Secret.
    release, namespace, values = r.helm.installs[0]
    assert (release, namespace) == ("airflow", "e2e-default")
    assert values[-2]["cluster"]["image"] == {
        "repository": "airflow-dags",
        "tag": "e2e",
        "pullPolicy": "Never",
    }
    assert r.airflows[0].url == "http://127.0.0.1:43210" and r.airflows[0].login == ("admin", "s3cret")
    assert r.airflows[0].triggered == ["tutorial"]
    assert sorted(r.airflows[0].log_reads) == ["print_date", "sleep", "templated"]
    assert all(f.stopped for f in r.shell.forwards)
    for phase in ("cluster", "image", "scenario default", "delete cluster"):
        assert any(line.startswith(f"e2e: {phase} done in ") for line in r.said), phase
    assert r.said[-1] == "e2e: default: passed"


def test_an_existing_cluster_is_reused_and_left_alone(tmp_path):
    r = runner(tmp_path, ["default"], FakeShell(clusters=["airflow-e2e"]))
    healthy_release(r.cluster)
    assert r.e2e.run() == 0
    assert "kind create" not in r.shell.commands() and "kind delete" not in r.shell.commands()


def test_keep_leaves_the_namespace_and_the_cluster(tmp_path):
    r = runner(tmp_path, ["default"], keep=True)
    healthy_release(r.cluster)
    assert r.e2e.run() == 0
    assert "kubectl delete" not in r.shell.commands() and "kind delete" not in r.shell.commands()


def test_a_reused_cluster_of_another_kubernetes_version_is_refused(tmp_path):
    r = runner(
        tmp_path, ["default"], FakeShell(clusters=["airflow-e2e"]), kube_version="1.30", node_version="1.35"
    )
    with pytest.raises(E2EFailure, match=r"runs Kubernetes v1\.35\.8, not 1\.30: delete it"):
        r.e2e.run()
    assert "docker build" not in r.shell.commands()


def test_a_pod_that_never_gets_ready_is_named_with_its_reason_at_the_deadline(tmp_path):
    r = runner(tmp_path, ["default"])
    healthy_release(r.cluster)
    r.cluster.objects["Deployment"][0] = ready_deployment("airflow-scheduler", ready=False)
    r.cluster.objects["Pod"] = [
        pod("airflow-scheduler-abc", waiting="ImagePullBackOff"),
        pod("airflow-api-server-x"),
    ]
    r.cluster.objects["Event"] = [
        {
            "metadata": {"name": "e1"},
            "lastTimestamp": "2026-12-05T11:00:00Z",
            "type": "Warning",
            "reason": "Failed",
            "involvedObject": {"kind": "Pod", "name": "airflow-scheduler-abc"},
            "message": "Back-off pulling image",
        }
    ]
    r.cluster.logs[("airflow-scheduler-abc", "main")] = "scheduler says hello"
    assert r.e2e.run() == 1
    # The deadline passed in the runner's clock, polling at POLL intervals, not in real time.
    assert READY_TIMEOUT < r.clock.now <= READY_TIMEOUT + POLL
    failure = r.said[-1]
    assert failure.startswith("e2e: default: FAILED: release airflow ready: not done after 900 s")
    assert "Deployment airflow-scheduler" in failure
    assert "pod airflow-scheduler-abc: container main ImagePullBackOff" in failure
    folder = tmp_path / "artifacts" / "default"
    assert "ImagePullBackOff" in (folder / "failure.txt").read_text()
    assert (folder / "logs" / "airflow-scheduler-abc_main.log").read_text() == "scheduler says hello"
    assert (
        "Warning Failed Pod/airflow-scheduler-abc: Back-off pulling image"
        in (folder / "events.txt").read_text()
    )
    assert (folder / "helm-airflow.txt").read_text() == "status: deployed\n1 deployed install\n"
    assert "airflow-scheduler-abc" in (folder / "problems.txt").read_text()
    assert "kind delete" in r.shell.commands()  # the cluster is still removed


def test_a_failed_migration_job_fails_at_once_with_its_pod(tmp_path):
    r = runner(tmp_path, ["default"])
    healthy_release(r.cluster)
    r.cluster.objects["Job"] = [job("airflow-migrate-1", "Failed", "BackoffLimitExceeded")]
    r.cluster.objects["Pod"] = [pod("airflow-migrate-1-xyz", phase="Failed", ready=False)]
    r.cluster.objects["Pod"][0]["status"]["containerStatuses"][0]["state"] = {
        "terminated": {"exitCode": 1, "reason": "Error"}
    }
    assert r.e2e.run() == 1
    assert r.clock.now == 0  # no waiting for the deadline
    assert "Job airflow-migrate-1 Failed: BackoffLimitExceeded" in r.said[-1]
    assert "pod airflow-migrate-1-xyz: container main exited 1 (Error)" in r.said[-1]


def test_a_failing_scenario_is_reported_and_the_next_one_still_runs(tmp_path, monkeypatch):
    ran = []

    def broken(ctx):
        ctx.install("airflow")
        raise RuntimeError("something unexpected")

    monkeypatch.setitem(scenarios.SCENARIOS, "broken", broken)
    monkeypatch.setitem(scenarios.SCENARIOS, "fine", lambda ctx: ran.append(ctx.namespace))
    r = runner(tmp_path, ["broken", "fine"])
    assert r.e2e.run() == 1
    assert ran == ["e2e-fine"]
    assert r.said[-2:] == ["e2e: broken: FAILED: RuntimeError: something unexpected", "e2e: fine: passed"]
    assert r.helm.uninstalls == ["airflow"]  # the broken scenario's release was removed with its namespace
    deleted = [c[c.index("-n") + 1] for c in r.shell.calls if c[0] == "kubectl" and "delete" in c]
    assert deleted == ["e2e-broken", "e2e-fine"]
    assert "Traceback" in (tmp_path / "artifacts" / "broken" / "failure.txt").read_text()


def test_a_failed_dag_run_names_the_task_states(tmp_path):
    def failing(api):
        api.end, api.states["sleep"] = "failed", "failed"

    r = runner(tmp_path, ["default"], airflow=failing)
    healthy_release(r.cluster)
    assert r.e2e.run() == 1
    assert "DAG tutorial run ended failed; tasks {'print_date': 'success', 'sleep': 'failed'" in r.said[-1]


def test_a_task_log_without_the_tasks_output_fails(tmp_path):
    def no_output(api):
        api.logs["templated"] = ["*** Could not read served logs: 403"]

    r = runner(tmp_path, ["default"], airflow=no_output)
    healthy_release(r.cluster)
    assert r.e2e.run() == 1
    assert "tutorial task templated log: the api-server could not read it" in r.said[-1]


def test_port_forward_output_that_names_no_port_is_a_failure(tmp_path):
    shell = FakeShell()
    shell.forward_line = "error: unable to forward port because pod is not running"
    r = runner(tmp_path, ["default"], shell)
    healthy_release(r.cluster)
    assert r.e2e.run() == 1
    assert "port-forward svc/airflow-api-server: unexpected output 'error: unable to forward" in r.said[-1]
    assert shell.forwards[0].stopped


def test_a_cluster_that_cannot_be_created_stops_the_run_before_any_scenario(tmp_path):
    shell = FakeShell()
    shell.fail[("kind", "create")] = "kind create cluster failed (exit 1): node image not found"
    r = runner(tmp_path, ["default"], shell)
    with pytest.raises(Exception, match="node image not found"):
        r.e2e.run()
    assert r.helm.installs == []


def test_kubernetes_executor_scenario_fails_when_a_task_ran_outside_its_own_pod(tmp_path):
    r = runner(tmp_path, ["kubernetes-executor"])
    healthy_release(r.cluster)
    r.cluster.objects["Deployment"].append(
        {**ready_deployment("git-server"), "status": {**ready_deployment("x")["status"], "readyReplicas": 1}}
    )
    # Only two of tutorial's three tasks have a pod of this run.
    r.cluster.objects["Pod"] += [
        {
            "metadata": {
                "name": f"tutorial-{task}",
                "annotations": {"dag_id": "tutorial", "run_id": "manual__tutorial", "task_id": task},
            },
            "status": {"phase": "Succeeded"},
        }
        for task in ("print_date", "sleep")
    ]
    assert r.e2e.run() == 1
    assert (
        "tutorial's tasks ['print_date', 'sleep', 'templated'] ran in pods for ['print_date', 'sleep']"
        in r.said[-1]
    )
    # The DAGs were pushed to the scenario's git server, and the release reads them from it.
    assert any(c[:2] == ["git", "-C"] and "push" in c for c in r.shell.calls)
    git = r.helm.installs[0][2][-1]["cluster"]["dags"]
    assert git["mode"] == "gitSync" and git["git"]["repos"][0]["url"] == "git://git-server:9418/dags.git"


def test_lifecycle_scenario_fails_when_an_upgrade_changes_a_secret(tmp_path):
    r = runner(tmp_path, ["lifecycle"])
    healthy_release(r.cluster)
    original = r.helm.install

    def install(release, namespace, values):
        revision = original(release, namespace, values)
        if revision == 2:  # the upgrade regenerates the password
            r.cluster.objects["Secret"][0]["data"]["admin-password"] = "bmV3"
        return revision

    r.helm.install = install
    assert r.e2e.run() == 1
    assert "after helm upgrade: Secret data changed or gone: ['airflow-airflow']" in r.said[-1]


def test_a_cluster_created_by_the_run_is_deleted_when_a_later_step_fails(tmp_path):
    shell = FakeShell()
    shell.fail[("docker", "build")] = "docker build failed (exit 1): no space left on device"
    r = runner(tmp_path, ["default"], shell)
    with pytest.raises(Exception, match="no space left"):
        r.e2e.run()
    assert r.shell.commands()[-1] == "kind delete"
    assert "e2e: image failed after 0.0 s" in r.said


def test_demo_installs_the_default_profile_prints_the_login_and_keeps_everything(tmp_path):
    r = runner(tmp_path, [], cluster="airflow-demo")
    healthy_release(r.cluster)

    def interrupted(seconds):
        raise KeyboardInterrupt  # the user's Ctrl-C while the port-forward runs

    r.clock.sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        r.e2e.demo()
    assert [(release, ns) for release, ns, _ in r.helm.installs] == [("airflow", "airflow")]
    assert "Airflow UI: http://127.0.0.1:43210  (login: admin / s3cret)" in r.said
    assert r.shell.calls[1][-2:] == ["--name", "airflow-demo"]
    assert "kind delete" not in r.shell.commands() and "kubectl delete" not in r.shell.commands()
    assert r.shell.forwards[0].stopped
