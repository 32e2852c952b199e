"""`chart-tools smoke`: run the chart's rendered Airflow for real and prove a DAG runs.

Render the chart with values pointing the database at a private local PostgreSQL, plan every
pod (runplan), run the migration Job, start every workload, then act as a user: log in through
the api-server Service with the chart's admin credentials, trigger the example DAG over the REST
API, wait for every task to succeed and read every task's log through the API (served by the
worker's log server, as in a cluster). Each container's probes are run once at the end.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chart_tools import ROOT
from chart_tools.airflow_api import Airflow, AirflowCheckError, RunWatch, log_problem
from chart_tools.chart.render import RELEASE, Manifest, RenderError, fullname, render
from chart_tools.runtime.cluster import LocalCluster
from chart_tools.runtime.kubestore import Obj
from chart_tools.runtime.plan import (
    IMAGE_AIRFLOW_HOME,
    Cluster,
    PodPlan,
    Process,
    RunPlan,
    RunPlanError,
    build_plan,
    image_repository,
    local_path,
    plan_pod,
    under,
    wire,
)
from chart_tools.runtime.processes import (
    Runner,
    StepError,
    echo,
    http_ok,
    probe_action,
    probe_url,
    run_probe,
    wait_until,
)
from chart_tools.runtime.services import POSTGRES_ADMIN_PASSWORD, Endpoint, ServiceError, services
from chart_tools.runtime.usage import ContainerUsage, UsageSampler

DAGS = ROOT / "dags"
DEFAULT_PROFILE = ROOT / "values" / "celery-executor.yaml"
DB_SECRET = "chart-tools-smoke-db"
DB_ADMIN_SECRET = "chart-tools-smoke-db-admin"
DB_CA_SECRET = "chart-tools-smoke-db-ca"
REDIS_CA_SECRET = "chart-tools-smoke-redis-ca"
REDIS_SECRET = "chart-tools-smoke-redis"
# Deadlines on a quiet two-core machine, in seconds. The start phase measures how busy the machine
# is today: when it took longer than QUIET_START_SECONDS, the later deadlines grow by that factor.
TIMEOUTS = {"start": 300.0, "ready": 240.0, "parse": 240.0, "run": 420.0}
QUIET_START_SECONDS = 30.0
# Components a DAG run does not wait for start at a lower CPU priority, and so do the init
# containers, which only wait for the migration: on two cores the first run's path goes first.
OFF_PATH = ("triggerer", "flower")
OFF_PATH_NICE = 10
FIRST_SUCCESS_PHASES = ("render", "plan", "start", "ready", "parse", "run")


@dataclass
class SmokeResult:
    ok: bool
    run_dir: Path
    phases: dict[str, float] = field(default_factory=dict)
    workloads: list[str] = field(default_factory=list)
    run_id: str = ""
    tasks: dict[str, str] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)
    pods: dict[str, str] = field(default_factory=dict)  # task -> the pod it ran in, and how that ended
    logs: dict[str, int] = field(default_factory=dict)  # task -> log lines read through the API
    restarts: dict[str, list[str]] = field(default_factory=dict)  # container -> why it restarted
    usage: dict[str, ContainerUsage] = field(default_factory=dict)  # container -> peak memory, CPU
    migration: float = 0.0  # seconds from the start until the migration Job finished
    failure: str = ""

    def time_to_success(self) -> float:
        """Seconds from rendering to the first successful DAG run."""
        return sum(self.phases.get(name, 0.0) for name in FIRST_SUCCESS_PHASES)

    def report(self) -> str:
        lines = [f"workloads started: {', '.join(self.workloads) or 'none'}"]
        lines += [f"phase {name}: {seconds:.1f} s" for name, seconds in self.phases.items()]
        if self.migration:
            lines.append(f"migration Job finished {self.migration:.1f} s into the start phase")
        if self.run_id:
            lines.append(f"DAG run: {self.run_id}")
        for task, state in self.tasks.items():
            pod = f", ran as pod {self.pods[task]}" if task in self.pods else ""
            read = f", log read through the API ({self.logs[task]} lines)" if task in self.logs else ""
            lines.append(f"  task {task}: {state}{pod}{read}")
        for container, reasons in self.restarts.items():
            lines.append(f"restarts of {container}: {len(reasons)} ({'; '.join(reasons)})")
        for container, used in sorted(self.usage.items()):
            lines.append(f"used by {container}: {used}")
        lines.append("result: SUCCESS" if self.ok else f"result: FAILED at {self.failure}")
        return "\n".join(lines)


def _secret(name: str, key: str, value: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {key: value}}


def runtime_values(
    pg: Endpoint, redis: Endpoint, run_dir: Path, base: str = ""
) -> tuple[Path, list[Manifest]]:
    """Values pointing the database and the broker at the local servers, and the Secrets a user
    would create for them. These are ordinary chart values: nothing is special-cased for tests.
    Both servers speak TLS with certificates from their own CAs, which the values name, so every
    run verifies them as a careful user's install would.

    With `base`, this release is a cluster on the base release of that name, whose embedded
    PostgreSQL the local server plays (its admin Secret holds the local superuser's password)."""
    if base:
        database = {"type": "postgres", "postgres": {"existingSecret": DB_ADMIN_SECRET}}
        secrets = [_secret(DB_ADMIN_SECRET, "postgres-password", POSTGRES_ADMIN_PASSWORD)]
        topology = {
            "base": {"enabled": False, "database": database},
            "cluster": {"airflowbase": {"name": base}},
        }
    else:
        database = {
            "type": "external",
            "external": {
                "host": pg.host,
                "port": pg.port,
                "database": pg.database,
                "user": pg.user,
                "passwordSecret": {"name": DB_SECRET, "key": "password"},
            },
        }
        secrets = [_secret(DB_SECRET, "password", pg.password)]
        if pg.ca_cert:  # verify the local server's certificate, as against a managed database
            database["external"]["caSecret"] = DB_CA_SECRET
            secrets.append(_secret(DB_CA_SECRET, "ca.crt", pg.ca_cert))
        topology = {"base": {"database": database}, "cluster": {}}
    broker = {
        "host": redis.host,
        "port": redis.port,
        "passwordSecret": {"name": REDIS_SECRET, "key": "password"},
    }
    secrets.append(_secret(REDIS_SECRET, "password", redis.password))
    if redis.ca_cert:  # the local server speaks TLS only
        broker |= {"tls": True, "caSecret": REDIS_CA_SECRET}
        secrets.append(_secret(REDIS_CA_SECRET, "ca.crt", redis.ca_cert))
    topology["cluster"]["redis"] = {"type": "external", "external": broker}
    path = run_dir / "runtime-values.yaml"
    path.write_text(yaml.safe_dump(topology))
    return path, secrets


def _dags_folder(process: Process) -> str:
    return process.options.get(("core", "dags_folder"), f"{IMAGE_AIRFLOW_HOME}/dags")


def _log_folder(process: Process) -> Path:
    """The local folder a container writes task logs to ([logging] base_log_folder, as mapped)."""
    folder = process.options.get(("logging", "base_log_folder"), f"{IMAGE_AIRFLOW_HOME}/logs")
    covering = [m for m in process.mounts if under([m])(folder)]
    if not covering:
        return local_path(process.root, folder)
    mount = max(covering, key=len)
    return (process.mounts[mount] / Path(folder).relative_to(mount)).resolve()


def _dags_mount(process: Process) -> str | None:
    """The mount path of the volume covering the process's DAGs folder, if any."""
    covering = [m for m in process.mounts if under([m])(_dags_folder(process))]
    return max(covering, key=len) if covering else None


def _airflow_image(objects: list[Manifest]) -> str:
    """The repository of the release's Airflow image (the scheduler's)."""
    for obj in objects:
        if (
            obj["kind"] == "Deployment"
            and obj["metadata"]["labels"].get("app.kubernetes.io/component") == "scheduler"
        ):
            return image_repository(obj["spec"]["template"]["spec"]["containers"][0]["image"])
    raise StepError("plan", "the render has no scheduler Deployment")


def dags_in_image(plan: RunPlan) -> bool:
    """DAG mode `image`: no pod mounts a volume at its DAGs folder, every pod's image holds them
    (as images/airflow-dags builds it)."""
    return not any(_dags_mount(p) for pod in plan.workloads for p in pod.init + pod.main)


def dag_folders(plan: RunPlan) -> list[Path]:
    """Where the user's DAG source puts DAG files, as local folders: in each pod's image (mode
    `image`), or the claim mounted at the DAGs folder (one folder every pod shares); a pod-local
    volume (the git modes' emptyDir) is left to the containers that fill it."""
    processes = [(pod, p) for pod in plan.workloads for p in pod.init + pod.main]
    image_mode = dags_in_image(plan)
    folders: list[Path] = []
    for pod, process in processes:
        folder = _dags_folder(process)
        mount = _dags_mount(process)
        if image_mode:
            target = local_path(pod.root, folder)
        elif mount and not process.mounts[mount].is_relative_to(pod.root):
            target = process.mounts[mount] / Path(folder).relative_to(mount)
        else:
            continue
        if target not in folders:
            folders.append(target)
    return folders


def provide_dags(plan: RunPlan, dag_files: list[Path]) -> None:
    """Put DAG files where the user's DAG source would have them."""
    for target in dag_folders(plan):
        target.mkdir(parents=True, exist_ok=True)
        for dag in dag_files:
            shutil.copy(dag, target / dag.name)


def admin_credentials(plan: RunPlan) -> tuple[str, str]:
    """The login the chart's migration Job creates (its `airflow users create` arguments)."""
    for process in plan.migration.init + plan.migration.main:
        if process.argv[:3] == ["airflow", "users", "create"]:
            args = dict(a.removeprefix("--").split("=", 1) for a in process.argv[3:] if "=" in a)
            return args["username"], args["password"]
    raise StepError("login", "the migration Job creates no admin user")


def service_url(plan: RunPlan, objects: list[Manifest], component: str) -> str:
    """A component (api-server, flower) as a user reaches it: through its Service."""
    for service in objects:
        if (
            service["kind"] == "Service"
            and service["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ):
            port = str(service["spec"]["ports"][0]["port"])
            local = plan.endpoints.get((service["metadata"]["name"], port))
            if local is None:
                raise StepError(
                    component, f"Service {service['metadata']['name']}:{port} has no running backend"
                )
            return f"http://127.0.0.1:{local}"
    raise StepError(component, "the render has no Service for it")


class Starter(threading.Thread):
    """Starts one pod in the background at once; an error is kept for the main thread to raise."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.work = target
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.work()
        except BaseException as err:  # raised in the main thread by the caller
            self.error = err


class Smoke:
    """One smoke run; `run()` never raises for a failed step: the result says what failed."""

    command = "smoke"

    def __init__(
        self,
        values_files: list[Path],
        helm_major: int = 3,
        dag_id: str = "tutorial",
        mutate: Callable[[list[Manifest]], None] | None = None,
        on_started: Callable[[Runner], None] | None = None,
        base: str = "",
        shared: tuple[Endpoint, Endpoint] | None = None,
        release: str = RELEASE,
        external: dict[tuple[str, str], int] | None = None,
        dag_files: list[Path] | None = None,
    ) -> None:
        """`base`: run as a cluster on that base release (the local PostgreSQL plays its server).
        `shared`: PostgreSQL and Redis to use instead of starting private ones. `external`: local
        ports standing in for Services whose pods do not run here: (Service, port) -> port.
        `dag_files`: the DAG files users would deliver (default: the example DAGs)."""
        self.dag_files = dag_files if dag_files is not None else sorted(DAGS.glob("*.py"))
        self.external = external or {}
        self.values_files = values_files
        self.release = release
        self.base = base
        self.shared = shared
        self.helm_major = helm_major
        self.dag_id = dag_id
        self.mutate = mutate
        self.on_started = on_started
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"chart-tools-{self.command}-"))
        self.result = SmokeResult(ok=False, run_dir=self.run_dir)
        self.runner = Runner(self.run_dir / "logs", on_event=self.say)
        self.endpoints: list[Endpoint] = []
        self.ds = ""  # the triggered run's logical date, as templates print it
        self.slowness = 1.0  # how much longer than on a quiet machine the deadlines are

    def deadline(self, phase: str) -> float:
        return TIMEOUTS[phase] * self.slowness

    def phase(self, name: str, func: Callable[[], Any]) -> Any:
        self.say(f"{name} ...")
        start = time.monotonic()
        value = func()
        self.result.phases[name] = time.monotonic() - start
        self.say(f"{name} done in {self.result.phases[name]:.1f} s")
        return value

    def say(self, message: str) -> None:
        """Progress on stderr, prefixed with the command (`smoke`, `up`)."""
        echo(f"{self.command}: {message}")

    def run(self) -> SmokeResult:
        try:
            with self._services() as (pg, redis):
                self.endpoints = [pg, redis]
                self.cluster = LocalCluster(self.run_dir, self.runner, self._provide_image)
                sampler = UsageSampler(self.runner).start()
                try:
                    self._run(pg, redis)
                    self.result.ok = True
                finally:
                    self.result.restarts = self.runner.restarts()
                    self.result.usage = sampler.stop()
                    self.runner.stop_all()
                    self.cluster.close()
        except (StepError, AirflowCheckError, RunPlanError, ServiceError, RenderError) as err:
            self.result.failure = str(err)
            pods = "".join(f"\n{problem}" for problem in self.cluster.kubelet.problems)
            echo(f"{self.command}: FAILED at {err}{pods}\n{self.runner.tails()}")
        except KeyboardInterrupt:
            self.result.failure = "interrupted"
            self.say("interrupted; every process was stopped")
        return self.result

    def _services(self) -> contextlib.AbstractContextManager[tuple[Endpoint, Endpoint]]:
        return contextlib.nullcontext(self.shared) if self.shared else services(self.run_dir / "services")

    def _run(self, pg: Endpoint, redis: Endpoint) -> None:
        objects = self.phase("render", lambda: self._render(pg, redis))
        external = {**self.external}
        if self.base:
            external[(f"{fullname(self.base)}-postgres", "5432")] = pg.port
        plan = self.plan = self.phase("plan", lambda: build_plan(objects, self.run_dir, external))
        provide_dags(plan, self.dag_files)
        self.airflow_image = _airflow_image(objects)
        self.cluster.install(objects, plan)
        self.phase("start", lambda: self._start(plan))
        self.slowness = max(1.0, self.result.phases["start"] / QUIET_START_SECONDS)
        if self.slowness > 1.5:
            self.say(f"the machine is busy: later deadlines are {self.slowness:.1f}x longer")
        if self.on_started:
            self.on_started(self.runner)
        self.phase("ready", lambda: self._ready(plan))
        api = Airflow(service_url(plan, objects, "api-server"), *admin_credentials(plan))
        self.phase("parse", lambda: self._wait_parsed(api))
        self.use(api, plan, objects)

    def use(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> None:
        """What to do with the running stack: the smoke proves a DAG run, its logs and the probes."""
        self.phase("run", lambda: self._trigger_and_wait(api))
        self.phase("logs", lambda: self._read_logs(api, plan))
        self.phase("probes", lambda: self._probes(plan))
        if any(o["kind"] == "CronJob" for o in objects):
            self.phase("cron jobs", lambda: self._cron_jobs(objects))

    def _provide_image(self, planned: PodPlan, pod: Obj) -> None:
        """What a pod created through the API finds in its image: the release's Airflow image holds
        the DAG files in DAG mode `image` (as images/airflow-dags bakes them)."""
        images = {image_repository(c["image"]) for c in pod["spec"]["containers"]}
        if self.airflow_image in images and dags_in_image(self.plan):
            for process in planned.main:
                target = local_path(planned.root, _dags_folder(process))
                target.mkdir(parents=True, exist_ok=True)
                for dag in self.dag_files:
                    shutil.copy(dag, target / dag.name)

    def _render(self, pg: Endpoint, redis: Endpoint) -> list[Manifest]:
        values, secrets = runtime_values(pg, redis, self.run_dir, self.base)
        rendered = render([*self.values_files, values], helm_major=self.helm_major, release=self.release)
        objects = [*copy.deepcopy(rendered), *secrets]
        if self.mutate:
            self.mutate(objects)
        return objects

    def _start(self, plan: RunPlan) -> None:
        """Everything at once, as `helm install` creates it: the migration Job and every workload,
        whose init containers wait until the schema is current."""
        begun = time.monotonic()
        for pod in plan.workloads:
            for process in pod.init if pod.name not in OFF_PATH else pod.init + pod.main:
                process.nice = OFF_PATH_NICE

        def migrate() -> None:
            self.runner.start_pod_to_completion(plan.migration, TIMEOUTS["start"])
            self.cluster.migrated()
            self.result.migration = time.monotonic() - begun

        threads = [Starter(migrate)]
        threads += [
            Starter(lambda pod=pod: self.runner.start_pod(pod, TIMEOUTS["start"])) for pod in plan.workloads
        ]
        for thread in threads:  # the migration first: when it fails, nothing else can start
            thread.join()
            if thread.error:
                raise thread.error
        self.result.workloads = [p.name for p in plan.workloads]

    def _ready(self, plan: RunPlan) -> None:
        """Every container with an HTTP readiness or startup probe answers it."""
        for pod in plan.workloads:
            for process in pod.main:
                probe = process.probes.get("readinessProbe") or process.probes.get("startupProbe")
                if probe and "httpGet" in probe:
                    url = probe_url(process, probe["httpGet"])
                    wait_until(
                        f"{process.name} ready",
                        lambda url=url: http_ok(url),
                        self.deadline("ready"),
                        self.runner,
                    )

    def _wait_parsed(self, api: Airflow) -> None:
        wait_until(
            f"DAG {self.dag_id} parsed",
            lambda: api.dag_parsed(self.dag_id),
            self.deadline("parse"),
            self.runner,
            2,
        )

    def _trigger_and_wait(self, api: Airflow) -> None:
        run = api.trigger(self.dag_id)
        self.result.run_id, self.ds = run.dag_run_id, run.logical_date.strftime("%Y-%m-%d")
        self.say(f"triggered {self.dag_id} run {self.result.run_id}")
        watch = RunWatch(api, self.dag_id, self.result.run_id, run.state.value, self.say)
        wait_until(f"DAG run {self.result.run_id}", watch, self.deadline("run"), self.runner, interval=2)
        tasks = api.task_instances(self.dag_id, self.result.run_id)
        self.result.tasks = {t.task_id: t.state.value if t.state else "none" for t in tasks}
        self.result.tries = {t.task_id: t.try_number for t in tasks}
        pods = self.cluster.task_pods(self.dag_id, self.result.run_id)
        ended = lambda: all(run.phase in ("Succeeded", "Failed") for run in pods.values())  # noqa: E731
        wait_until("the run's task pods ended", ended, self.deadline("run"), self.runner, 0.5)
        self.result.pods = {task: f"{run.key.name} ({run.phase})" for task, run in pods.items()}
        if watch.state != "success" or set(self.result.tasks.values()) != {"success"}:
            raise StepError("run", f"DAG run ended {watch.state}; tasks {self.result.tasks}")

    def _read_logs(self, api: Airflow, plan: RunPlan) -> None:
        """Every task's log, read as the UI reads it, shows what the task printed. With remote
        logging on (Elasticsearch, OpenSearch) the API reads the remote store instead: not here."""
        options = plan.pod("api-server").main[0].options
        if options.get(("logging", "remote_logging"), "").lower() == "true":
            self.say("logs: remote logging is on; the API would read the remote store, not checked here")
            return
        api_logs = _log_folder(plan.pod("api-server").main[0])
        pods = self.cluster.task_pods(self.dag_id, self.result.run_id)
        for task, try_number in self.result.tries.items():
            task_pod = pods[task].plan if task in pods else None
            if task_pod and _log_folder(task_pod.main[0]) != api_logs:
                self.say(
                    f"logs: task {task} ran in pod {pods[task].key.name}; without a shared log claim or "
                    "remote logging its log stays there, as in a cluster: not read"
                )
                continue
            lines = api.log_lines(self.dag_id, self.result.run_id, task, try_number)
            problem = log_problem(task, lines, self.ds)
            if problem:
                raise StepError("logs", f"task {task} try {try_number}: {problem}")
            self.result.logs[task] = len(lines)

    def _probes(self, plan: RunPlan) -> None:
        """Every probe action of every container passes now; an action two probes share (readiness
        and liveness both `airflow jobs check`) runs once."""
        for pod in plan.workloads:
            for process in pod.main:
                actions = {probe_action(probe): probe for probe in process.probes.values()}
                for probe in actions.values():
                    run_probe(process, probe)

    def _cron_jobs(self, objects: list[Manifest]) -> None:
        """Every CronJob's pod, run once now (as `kubectl create job --from=cronjob/NAME` would):
        it must complete."""
        for obj in objects:
            if obj["kind"] == "CronJob":
                self.run_cron_job(obj, objects)
                self.say(f"cron job {obj['metadata']['name']} completed")

    def run_cron_job(self, obj: Manifest, objects: list[Manifest]) -> PodPlan:
        """One run of a CronJob's pod, wired to the release's Services, to completion."""
        planned = plan_pod(obj, Cluster(objects, log_ports=self.plan.log_ports), self.run_dir)
        wire(planned, self.plan.services, self.plan.endpoints)
        self.cluster.give_token(planned)
        self.runner.start_pod_to_completion(planned, self.deadline("run"))
        return planned

    def cleanup(self, keep: bool) -> None:
        """Remove the run folder after a success unless asked to keep it; keep it after a failure."""
        if self.result.ok and not keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        else:
            self.say(f"run folder kept: {self.run_dir}")
