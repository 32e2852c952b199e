"""What `chart-tools e2e` proves on a kind cluster, one function per scenario. Each runs in its
own namespace (`ctx.namespace`) and raises E2EFailure naming what went wrong; the runner reports
it with the namespace's pod logs and events."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path

from chart_tools import ROOT
from chart_tools.chart.render import fullname
from chart_tools.cluster.e2e import E2E, READY_TIMEOUT, E2EFailure, Run

GIT_SERVER = Path(__file__).with_name("git-server.yaml")
GIT_URL = "git://git-server:9418/dags.git"  # the Service in the scenario's namespace
SAMPLE = "kubernetes_sample"


def default(ctx: E2E) -> None:
    """Celery, the chart's defaults: the tutorial succeeds and each task's log is readable
    through the api-server (served by the worker pod that ran it)."""
    ctx.install("airflow")
    ctx.wait_ready("airflow")
    with ctx.airflow("airflow") as api:
        run = ctx.run_dag(api, "tutorial")
        ctx.expect_success(run)
        ctx.check_logs(api, run)


def _task_pods(ctx: E2E, run: Run) -> dict[str, dict]:
    """The KubernetesExecutor's pods of a DAG run, by task id (from the annotations Airflow sets)."""
    pods = ctx.cluster.list("Pod", ctx.namespace, "kubernetes_executor=True")
    found = {}
    for pod in pods:
        notes = pod["metadata"].get("annotations") or {}
        if (notes.get("dag_id"), notes.get("run_id")) == (run.dag_id, run.run_id):
            found[notes["task_id"]] = pod
    return found


def kubernetes_executor(ctx: E2E) -> None:
    """One pod per task; the pod operator's passing pod succeeds and its failing pod fails;
    executor_config's override is in effect in its task pod. DAGs come from the in-cluster git
    server, as executor_config_example's pod runs another image than the DAG image."""
    serve_dags(ctx)
    ctx.install(
        "airflow",
        ["values/kubernetes-executor.yaml"],
        {
            "cluster": {
                **git_dags(),
                "podOperator": {"enabled": True},
                "kubernetes": {"deleteOnSuccess": False},
            }
        },
    )
    ctx.wait_ready("airflow")
    with ctx.airflow("airflow") as api:
        run = ctx.run_dag(api, "tutorial")
        ctx.expect_success(run)
        pods = _task_pods(ctx, run)
        if sorted(pods) != sorted(run.tasks):
            raise E2EFailure(f"tutorial's tasks {sorted(run.tasks)} ran in pods for {sorted(pods)}")
        phases = {task: pod["status"].get("phase") for task, pod in pods.items()}
        if set(phases.values()) != {"Succeeded"}:
            raise E2EFailure(f"tutorial's task pods ended {phases}")

        sample = ctx.run_dag(api, SAMPLE)
        if (sample.tasks.get("passing-task"), sample.tasks.get("failing-task")) != ("success", "failed"):
            raise E2EFailure(f"{SAMPLE}: passing-task and failing-task ended {sample.tasks}")

        override = ctx.run_dag(api, "executor_config_example")
        ctx.expect_success(override)
        read_back = api.xcom("executor_config_example", override.run_id, "small_pod")
        if read_back != {"memory_request_mi": "128", "memory_limit_mi": "128"}:
            raise E2EFailure(
                f"executor_config_example: small_pod read {read_back} in its pod, not 128Mi/128Mi"
            )
        pod = _task_pods(ctx, override).get("small_pod", {})
        resources = (pod.get("spec", {}).get("containers") or [{}])[0].get("resources", {})
        if resources.get("limits", {}).get("memory") != "128Mi":
            raise E2EFailure(f"executor_config_example: small_pod's pod has resources {resources}")


def cluster_on_base(ctx: E2E) -> None:
    """A base release and two cluster releases on it: each cluster runs a DAG, and cluster A's
    database credentials cannot open cluster B's database."""
    ctx.install("airflow-base", ["values/base-only.yaml"])
    ctx.wait_ready("airflow-base")
    for team in ("team-a", "team-b"):
        ctx.install(team, ["values/cluster-on-base.yaml"])
    for team in ("team-a", "team-b"):
        ctx.wait_ready(team)
        with ctx.airflow(team) as api:
            ctx.expect_success(ctx.run_dag(api, "tutorial"))
    password = ctx.secret(f"{fullname('team-a')}-database", "password")
    own, other = (
        database_login(ctx, "team-a", "team_a_airflow", db, password)
        for db in ("team_a_airflow", "team_b_airflow")
    )
    if own != "connected":
        raise E2EFailure(f"team-a cannot open its own database: {own}")
    if "permission denied for database" not in other:
        raise E2EFailure(f"team-a's credentials opening team-b's database: {other}")


LOGIN = """
import sys, psycopg2
try:
    host, dbname, user, password = sys.argv[1:5]
    psycopg2.connect(host=host, dbname=dbname, user=user, password=password, connect_timeout=20).close()
    print("connected")
except psycopg2.OperationalError as err:
    print("refused:", " ".join(str(err).split()))
"""


def database_login(ctx: E2E, release: str, user: str, database: str, password: str) -> str:
    """What a login as `user` to `database` on the base's server answers, tried from the
    release's scheduler pod (its network position, its image's driver)."""
    host = f"{fullname('airflow-base')}-postgres"
    target = f"deploy/{fullname(release)}-scheduler"
    out = ctx.kubectl(
        "exec", target, "-c", "scheduler", "--", "python", "-c", LOGIN, host, database, user, password
    )
    return out.strip().splitlines()[-1] if out.strip() else "(no output)"


def git_sync(ctx: E2E) -> None:
    """DAGs from the in-cluster git server; a DAG pushed later reaches Airflow without a restart."""
    work = serve_dags(ctx)
    ctx.install("airflow", [], {"cluster": git_dags()})
    ctx.wait_ready("airflow")
    before = _pod_starts(ctx)
    with ctx.airflow("airflow") as api:
        ctx.expect_success(ctx.run_dag(api, "tutorial"))
        text = (
            (work / "dags" / "tutorial.py").read_text().replace('dag_id="tutorial"', 'dag_id="pushed_later"')
        )
        (work / "dags" / "pushed_later.py").write_text(text)
        push(ctx, work, "a DAG pushed after the install")
        ctx.expect_success(ctx.run_dag(api, "pushed_later"))
    if _pod_starts(ctx) != before:
        raise E2EFailure(f"pods restarted or were replaced: before {before}, after {_pod_starts(ctx)}")


def _pod_starts(ctx: E2E) -> dict[str, int]:
    """Each running pod of the release and its containers' restarts."""
    pods = ctx.cluster.list("Pod", ctx.namespace, "app.kubernetes.io/instance=airflow")
    return {
        p["metadata"]["name"]: sum(
            c.get("restartCount", 0) for c in p["status"].get("containerStatuses") or []
        )
        for p in pods
        if p["status"].get("phase") == "Running"
    }


def git_dags(period: str = "5s") -> dict:
    """cluster.* values reading DAGs from the scenario's git server (dags/ of its repository)."""
    repo = {"name": "e2e", "url": GIT_URL, "ref": "main", "subPath": "dags"}
    return {"dags": {"mode": "gitSync", "git": {"period": period, "repos": [repo]}}}


def serve_dags(ctx: E2E) -> Path:
    """Start the git server and push the project's dags/ to it; the local work tree."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ctx.namespace}}
    ctx.kubectl("apply", "-f", "-", input=json.dumps(namespace))  # may exist: a kept earlier run
    ctx.kubectl("apply", "-f", str(GIT_SERVER))
    ctx.wait(
        "git server ready",
        lambda: bool(
            (ctx.cluster.get("Deployment", ctx.namespace, "git-server") or {})
            .get("status", {})
            .get("readyReplicas")
        ),
        READY_TIMEOUT,
    )
    work = ctx.options.out / "work" / ctx.namespace
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "dags", work / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    git(ctx, work, "init", "--quiet", "--initial-branch=main")
    push(ctx, work, "the project's example DAGs")
    return work


def git(ctx: E2E, work: Path, *args: str) -> str:
    identity = ["-c", "user.name=chart-tools e2e", "-c", "user.email=e2e@example.com"]
    return ctx.shell.run(["git", "-C", str(work), *identity, *args], timeout=120)


def push(ctx: E2E, work: Path, message: str) -> None:
    """Commit everything in `work` and push it to the git server through a port-forward."""
    git(ctx, work, "add", "--all")
    git(ctx, work, "commit", "--quiet", "-m", message)
    with ctx.forward("svc/git-server", 9418) as port:
        git(ctx, work, "push", "--quiet", f"git://127.0.0.1:{port}/dags.git", "HEAD:main")
    ctx.say(f"e2e: pushed {message}")


def lifecycle(ctx: E2E) -> None:
    """helm upgrade with a changed value keeps every Secret's data and the database claim (old
    runs still listed); uninstall keeps the claims and Secrets marked keep; a reinstall
    reattaches them and sees the old runs."""
    ctx.install("airflow")
    ctx.wait_ready("airflow")
    with ctx.airflow("airflow") as api:
        first = ctx.run_dag(api, "tutorial")
        ctx.expect_success(first)
    secrets, claims = _secrets(ctx), _claims(ctx)
    ctx.install("airflow", [], {"cluster": {"config": {"core": {"parallelism": 48}}}})
    ctx.wait_ready("airflow")
    _same("after helm upgrade", "Secret data", secrets, _secrets(ctx))
    _same("after helm upgrade", "claims", claims, _claims(ctx))
    _old_run_listed(ctx, first.run_id, "after helm upgrade")

    ctx.helm.uninstall("airflow", ctx.namespace)
    kept = {n for n, obj in _objects(ctx, "Secret").items() if _keep(obj)}
    left = {n for n in _objects(ctx, "Secret")}
    if not kept or not kept <= left:
        raise E2EFailure(f"after helm uninstall: kept Secrets {sorted(kept)}, left {sorted(left)}")
    kept_claims = {
        n: uid for n, uid in claims.items() if _keep(_objects(ctx, "PersistentVolumeClaim").get(n, {}))
    }
    _same("after helm uninstall", "kept claims", kept_claims, {n: _claims(ctx).get(n) for n in kept_claims})
    if not kept_claims:
        raise E2EFailure("after helm uninstall: no PersistentVolumeClaim was kept")

    ctx.install("airflow")
    ctx.wait_ready("airflow")
    _same("after reinstall", "kept claims", kept_claims, {n: _claims(ctx).get(n) for n in kept_claims})
    _old_run_listed(ctx, first.run_id, "after reinstall")


def _objects(ctx: E2E, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in ctx.cluster.list(kind, ctx.namespace)}


def _keep(obj: dict) -> bool:
    return (obj.get("metadata", {}).get("annotations") or {}).get("helm.sh/resource-policy") == "keep"


def _secrets(ctx: E2E) -> dict[str, dict]:
    """The release's own Secrets (not helm's release records) and their data."""
    return {
        n: o.get("data") for n, o in _objects(ctx, "Secret").items() if o.get("type") != "helm.sh/release.v1"
    }


def _claims(ctx: E2E) -> dict[str, str]:
    return {n: o["metadata"]["uid"] for n, o in _objects(ctx, "PersistentVolumeClaim").items()}


def _same(when: str, what: str, before: dict, after: dict) -> None:
    changed = sorted(k for k in before if before[k] != after.get(k))
    if changed:
        raise E2EFailure(f"{when}: {what} changed or gone: {changed}")


def _old_run_listed(ctx: E2E, run_id: str, when: str) -> None:
    with ctx.airflow("airflow") as api:
        state = api.run_state("tutorial", run_id)
    if state != "success":
        raise E2EFailure(f"{when}: the earlier tutorial run {run_id} is {state}, not a listed success")


def metrics(ctx: E2E) -> None:
    """Metrics on: after a run, the statsd-exporter's /metrics has airflow_ series."""
    ctx.install("airflow", [], {"cluster": {"metrics": {"enabled": True}}})
    ctx.wait_ready("airflow")
    with ctx.airflow("airflow") as api:
        ctx.expect_success(ctx.run_dag(api, "tutorial"))
    with ctx.forward(f"svc/{fullname('airflow')}-statsd", 9102) as port:
        series: list[str] = []

        def scraped() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                text = response.read().decode()
            series[:] = [ln for ln in text.splitlines() if ln.startswith("airflow_")]
            return bool(series)

        ctx.wait("airflow_ series on the statsd-exporter's /metrics", scraped, READY_TIMEOUT)
    ctx.say(f"e2e: {len(series)} airflow_ samples, e.g. {series[0].split()[0]}")


SCENARIOS: dict[str, Callable[[E2E], None]] = {
    "default": default,
    "kubernetes-executor": kubernetes_executor,
    "cluster-on-base": cluster_on_base,
    "git-sync": git_sync,
    "lifecycle": lifecycle,
    "metrics": metrics,
}
