"""`chart-tools e2e` and `chart-tools demo`: the chart installed on a kind cluster.

The runner creates (or reuses) the kind cluster, builds the DAG image and loads it into kind,
then runs each scenario (scenarios.py) in its own namespace: releases installed with pyhelm3,
waits on what the API reports, Airflow checked through a port-forward with the same client code
the runtime tier runs for real (chart_tools.airflow_api). Every wait has a deadline; a failure
names the pod and its reason and leaves pod logs, events and the releases' history in the
artifact folder. Commands, the cluster reads, helm and Airflow are passed in, so that tests can
drive the whole flow with fakes.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from chart_tools import ROOT
from chart_tools.chart.render import fullname
from chart_tools.cluster import kind_config
from chart_tools.cluster.shell import Background
from chart_tools.cluster.status import event_line, job_state, pod_problem, workload_ready
from chart_tools.cluster.versions import DEFAULT_KUBE, PINS

if TYPE_CHECKING:  # the Airflow client takes most of a second to import: only when a run needs it
    from chart_tools.airflow_api import Airflow

CLUSTER = "airflow-e2e"
ARTIFACTS = ROOT / "build" / "e2e"
DAG_IMAGE = ("airflow-dags", "e2e")
ADMIN = "admin"  # the chart's default cluster.auth.admin.username, which the e2e keeps
READY_TIMEOUT = 900.0  # seconds: a fresh runner pulls every image first
RUN_TIMEOUT = 900.0
POLL = 5.0
# What every e2e release gets: the DAG image built from images/airflow-dags, loaded into kind
# (never pulled), so the example DAGs are there; the dag-processor looks for new files often.
E2E_VALUES: dict[str, Any] = {
    "cluster": {
        "image": {"repository": DAG_IMAGE[0], "tag": DAG_IMAGE[1], "pullPolicy": "Never"},
        "dags": {"mode": "image"},
        "config": {"dag_processor": {"refresh_interval": 10}},
    }
}


class E2EFailure(RuntimeError):
    """A check failed on the cluster; the message names what and why (the pod and its reason)."""


class Commands(Protocol):
    def run(
        self, argv: list[str], timeout: float = 600, input: str | None = None, cwd: Path = ROOT
    ) -> str: ...
    def start(self, argv: list[str]) -> Background: ...


class Cluster(Protocol):
    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict[str, Any]]: ...
    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...
    def log(self, namespace: str, pod: str, container: str, previous: bool = False) -> str: ...


class Helm(Protocol):
    def install(self, release: str, namespace: str, values: list[dict[str, Any]]) -> int: ...
    def uninstall(self, release: str, namespace: str) -> None: ...
    def history(self, release: str, namespace: str) -> list[str]: ...
    def status(self, release: str, namespace: str) -> str: ...


class Clock:
    """Time for the waits; tests pass one that jumps instead of sleeping."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


@dataclass
class Options:
    scenarios: list[str]
    keep: bool = False
    kube_version: str = DEFAULT_KUBE
    helm_major: int = 3
    cluster: str = CLUSTER
    out: Path = ARTIFACTS


@dataclass
class Run:
    """A finished DAG run: its state, and each task's state and try number."""

    dag_id: str
    run_id: str
    ds: str
    state: str
    tasks: dict[str, str] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)


class E2E:
    """One cluster, the scenarios run on it, and their reports."""

    def __init__(
        self,
        options: Options,
        shell: Commands,
        cluster: Callable[[Path], Cluster],
        helm: Callable[[int, Path], Helm],
        connect: Callable[[str, str, str], Airflow] | None = None,
        clock: Clock | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.options, self.shell, self.say = options, shell, say
        self._connect = connect
        self._cluster_factory, self._helm_factory = cluster, helm
        self.clock = clock or Clock()
        self.kubeconfig = options.out / "kubeconfig"
        self.namespace = "airflow"
        self.releases: list[str] = []  # installed in the current namespace, for the artifacts
        self.created = False  # the kind cluster was created by this run (and is deleted by it)

    # -- the run ---------------------------------------------------------------------------

    def phase(self, name: str, func: Callable[[], Any]) -> Any:
        """Run one phase, saying when it starts and how long it took, or that it failed."""
        self.say(f"e2e: {name} ...")
        start = self.clock.monotonic()
        try:
            result = func()
        except BaseException:
            self.say(f"e2e: {name} failed after {self.clock.monotonic() - start:.1f} s")
            raise
        self.say(f"e2e: {name} done in {self.clock.monotonic() - start:.1f} s")
        return result

    def run(self) -> int:
        """Every chosen scenario; 0 when all passed, 1 otherwise (each failure reported)."""
        self.options.out.mkdir(parents=True, exist_ok=True)
        failures: dict[str, str] = {}
        try:
            self.phase("cluster", self.ensure_cluster)
            self.phase("image", self.load_image)
            for name in self.options.scenarios:
                failure = self.scenario(name)
                if failure:
                    failures[name] = failure
        finally:
            if self.created and not self.options.keep:
                self.phase("delete cluster", lambda: self.kind("delete", "cluster"))
        for name in self.options.scenarios:
            self.say(f"e2e: {name}: {'FAILED: ' + failures[name] if name in failures else 'passed'}")
        return 1 if failures else 0

    def scenario(self, name: str) -> str:
        """Run one scenario in its own namespace; "" when it passed, else the failure (reported,
        artifacts collected). The namespace is deleted afterwards unless --keep."""
        from chart_tools.cluster.scenarios import SCENARIOS

        self.namespace, self.releases = f"e2e-{name}", []
        try:
            self.phase(f"scenario {name}", lambda: SCENARIOS[name](self))
            return ""
        except Exception as err:  # any failure of one scenario is reported; the next one runs
            return self.report_failure(name, err)
        finally:
            if not self.options.keep:
                self.delete_namespace()

    def delete_namespace(self) -> None:
        """Uninstall the scenario's releases and delete its namespace; a failure here is said,
        not raised: the scenario's own result stands and the next one runs."""
        try:
            for release in self.releases:
                self.helm.uninstall(release, self.namespace)
            self.kubectl(
                "delete", "namespace", self.namespace, "--ignore-not-found", "--wait=true", timeout=600
            )
        except Exception as err:
            self.say(f"e2e: could not delete namespace {self.namespace}: {err}")

    def kind(self, *args: str, timeout: float = 900) -> str:
        return self.shell.run(["kind", *args, "--name", self.options.cluster], timeout=timeout)

    def ensure_cluster(self) -> None:
        """Create the kind cluster unless one of that name exists, and connect to it."""
        kind_config.load()  # a broken config fails here with its key, before kind starts
        existing = self.shell.run(["kind", "get", "clusters"], timeout=60).split()
        if self.options.cluster not in existing:
            image = PINS[self.options.kube_version].node_image
            self.say(f"e2e: creating kind cluster {self.options.cluster} ({image.split('@')[0]})")
            self.kind(
                "create", "cluster", "--image", image, "--config", str(kind_config.CONFIG), "--wait", "5m"
            )
            self.created = True
        else:
            self.say(f"e2e: reusing kind cluster {self.options.cluster}")
        self.kind("export", "kubeconfig", "--kubeconfig", str(self.kubeconfig), timeout=60)
        self.cluster = self._cluster_factory(self.kubeconfig)
        self.helm = self._helm_factory(self.options.helm_major, self.kubeconfig)
        versions = {n["status"]["nodeInfo"]["kubeletVersion"] for n in self.cluster.list("Node", "")}
        wrong = sorted(v for v in versions if not v.startswith(f"v{self.options.kube_version}."))
        if wrong:
            raise E2EFailure(
                f"cluster {self.options.cluster} runs Kubernetes {', '.join(wrong)}, not "
                f"{self.options.kube_version}: delete it (kind delete cluster --name {self.options.cluster}) "
                "or pass that --kube-version"
            )

    def load_image(self) -> None:
        """Build the DAG image (images/airflow-dags, the project root as context) into kind."""
        tag = ":".join(DAG_IMAGE)
        self.shell.run(
            ["docker", "build", "-f", "images/airflow-dags/Dockerfile", "-t", tag, "."], timeout=1800
        )
        self.kind("load", "docker-image", tag)

    def kubectl(self, *args: str, timeout: float = 300, input: str | None = None) -> str:
        argv = ["kubectl", "--kubeconfig", str(self.kubeconfig), "-n", self.namespace, *args]
        return self.shell.run(argv, timeout=timeout, input=input)

    # -- failure reports -------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Each pod of the namespace that is not doing its work, with the reason."""
        return [p for p in map(pod_problem, self.cluster.list("Pod", self.namespace)) if p]

    def report_failure(self, scenario: str, err: Exception) -> str:
        """Collect the artifacts and return the one-line failure (the first pod problem named)."""
        message = str(err) if isinstance(err, E2EFailure) else f"{type(err).__name__}: {err}"
        folder = self.options.out / "artifacts" / scenario
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "logs").mkdir(parents=True)
        (folder / "failure.txt").write_text(f"{message}\n\n{''.join(traceback.format_exception(err))}")
        try:
            self.collect(folder)
        except Exception as collect_err:  # the report of the first failure matters more
            (folder / "collect-error.txt").write_text(f"{type(collect_err).__name__}: {collect_err}\n")
        self.say(f"e2e: {scenario} failed: {message}")
        self.say(f"e2e: pod logs, events and helm history in {folder}")
        return message

    def collect(self, folder: Path) -> None:
        pods = self.cluster.list("Pod", self.namespace)
        (folder / "pods.yaml").write_text(yaml.safe_dump(pods, sort_keys=False))
        (folder / "problems.txt").write_text("".join(f"{p}\n" for p in self.problems()))
        events = sorted(map(event_line, self.cluster.list("Event", self.namespace)))
        (folder / "events.txt").write_text("".join(f"{e}\n" for e in events))
        for pod in pods:
            status = pod.get("status", {})
            for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
                name = f"{pod['metadata']['name']}_{c['name']}"
                (folder / "logs" / f"{name}.log").write_text(
                    self.cluster.log(self.namespace, pod["metadata"]["name"], c["name"])
                )
                if c.get("restartCount"):
                    log = self.cluster.log(self.namespace, pod["metadata"]["name"], c["name"], previous=True)
                    (folder / "logs" / f"{name}.previous.log").write_text(log)
        for release in self.releases:
            lines = [
                f"status: {self.helm.status(release, self.namespace)}",
                *self.helm.history(release, self.namespace),
            ]
            (folder / f"helm-{release}.txt").write_text("\n".join(lines) + "\n")

    # -- what scenarios use ----------------------------------------------------------------

    def wait(
        self, what: str, done: Callable[[], bool], timeout: float, explain: Callable[[], str] | None = None
    ) -> None:
        """Poll `done` until true; E2EFailure naming `what` (and `explain()`) at the deadline."""
        start = self.clock.monotonic()
        while not done():
            if self.clock.monotonic() - start > timeout:
                detail = explain() if explain else "; ".join(self.problems())
                raise E2EFailure(
                    f"{what}: not done after {timeout:.0f} s" + (f"; {detail}" if detail else "")
                )
            self.clock.sleep(POLL)

    def install(self, release: str, profiles: Sequence[str] = (), extra: dict[str, Any] | None = None) -> int:
        """helm upgrade --install: the profiles (values/ files), the e2e's own values, then `extra`."""
        values = [yaml.safe_load((ROOT / p).read_text()) or {} for p in profiles]
        revision = self.helm.install(release, self.namespace, [*values, E2E_VALUES, extra or {}])
        if release not in self.releases:
            self.releases.append(release)
        self.say(f"e2e: release {release} revision {revision} in namespace {self.namespace}")
        return revision

    def not_ready(self, release: str) -> list[str]:
        """The release's workloads not Ready and Jobs not complete; E2EFailure for a failed Job."""
        selector = f"app.kubernetes.io/instance={release}"
        pending = [
            f"{kind} {obj['metadata']['name']}"
            for kind in ("Deployment", "StatefulSet")
            for obj in self.cluster.list(kind, self.namespace, selector)
            if not workload_ready(obj)
        ]
        for job in self.cluster.list("Job", self.namespace, selector):
            state = job_state(job)
            if state.startswith("Failed"):
                problems = "; ".join(self.problems())
                raise E2EFailure(f"Job {job['metadata']['name']} {state}; {problems}")
            if state != "Complete":
                pending.append(f"Job {job['metadata']['name']}")
        return pending

    def wait_ready(self, release: str) -> None:
        """Every Deployment and StatefulSet of the release Ready, its migration Job complete."""
        explain = lambda: "; ".join([*self.not_ready(release), *self.problems()])  # noqa: E731
        self.wait(f"release {release} ready", lambda: not self.not_ready(release), READY_TIMEOUT, explain)

    def secret(self, name: str, key: str) -> str:
        obj = self.cluster.get("Secret", self.namespace, name)
        if not obj or key not in (obj.get("data") or {}):
            raise E2EFailure(f"Secret {name} has no key {key}")
        return base64.b64decode(obj["data"][key]).decode()

    @contextlib.contextmanager
    def forward(self, target: str, port: int) -> Iterator[int]:
        """`kubectl port-forward` to `target` (svc/NAME); the local port while it runs."""
        argv = ["kubectl", "--kubeconfig", str(self.kubeconfig), "-n", self.namespace]
        forward = self.shell.start([*argv, "port-forward", target, f":{port}"])
        try:
            line = forward.line(timeout=60)
            match = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
            if not match:
                raise E2EFailure(f"port-forward {target}: unexpected output {line!r}")
            yield int(match[1])
        finally:
            forward.stop()

    @contextlib.contextmanager
    def airflow(self, release: str) -> Iterator[Airflow]:
        """The release's api-server through a port-forward, logged in as the admin user."""
        full = fullname(release)
        password = self.secret(f"{full}-airflow", "admin-password")
        with self.forward(f"svc/{full}-api-server", 8080) as port:
            yield self.login(f"http://127.0.0.1:{port}", ADMIN, password)

    def login(self, url: str, username: str, password: str) -> Airflow:
        """A logged-in client of the api-server at `url` (the one passed in, in tests)."""
        if self._connect:
            return self._connect(url, username, password)
        from chart_tools.airflow_api import Airflow

        return Airflow(url, username, password)

    def run_dag(self, api: Airflow, dag_id: str) -> Run:
        """Wait for the DAG to be parsed, trigger it and wait for the run to finish."""
        from chart_tools.airflow_api import RunWatch

        self.wait(f"DAG {dag_id} parsed", lambda: api.dag_parsed(dag_id), RUN_TIMEOUT)
        started = api.trigger(dag_id)
        self.say(f"e2e: triggered {dag_id} run {started.dag_run_id}")
        watch = RunWatch(api, dag_id, started.dag_run_id, started.state.value, self.say)
        self.wait(f"DAG run {dag_id} {started.dag_run_id}", watch, RUN_TIMEOUT)
        tasks = api.task_instances(dag_id, started.dag_run_id)
        return Run(
            dag_id,
            started.dag_run_id,
            started.logical_date.strftime("%Y-%m-%d"),
            watch.state,
            {t.task_id: t.state.value if t.state else "none" for t in tasks},
            {t.task_id: t.try_number for t in tasks},
        )

    def expect_success(self, run: Run) -> None:
        if run.state != "success" or set(run.tasks.values()) != {"success"}:
            raise E2EFailure(f"DAG {run.dag_id} run ended {run.state}; tasks {run.tasks}")

    def check_logs(self, api: Airflow, run: Run) -> None:
        """Every task's log, read through the api-server as the UI reads it, shows the task's work."""
        from chart_tools.airflow_api import log_problem

        for task, try_number in run.tries.items():
            problem = log_problem(task, api.log_lines(run.dag_id, run.run_id, task, try_number), run.ds)
            if problem:
                raise E2EFailure(f"{run.dag_id} task {task} log: {problem}")

    # -- make demo -------------------------------------------------------------------------

    def demo(self) -> int:
        """The default profile on a kind cluster, its UI forwarded until Ctrl-C (KeyboardInterrupt).
        The cluster and the release stay afterwards."""
        self.options.out.mkdir(parents=True, exist_ok=True)
        self.phase("cluster", self.ensure_cluster)
        self.phase("image", self.load_image)
        self.phase("install", lambda: self.install("airflow"))
        self.phase("ready", lambda: self.wait_ready("airflow"))
        password = self.secret(f"{fullname('airflow')}-airflow", "admin-password")
        with self.forward(f"svc/{fullname('airflow')}-api-server", 8080) as port:
            self.say(f"Airflow UI: http://127.0.0.1:{port}  (login: {ADMIN} / {password})")
            self.say(
                f"kubectl: --kubeconfig {self.kubeconfig} -n {self.namespace}; Ctrl-C stops the port-forward"
            )
            while True:
                self.clock.sleep(3600)
