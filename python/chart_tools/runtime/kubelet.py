"""The kubelet of the stand-in API: Pods created through the API run as local processes.

The scheduler's KubernetesExecutor and KubernetesPodOperator tasks create Pods through the API.
Here a planner (the smoke's: plan.plan_pod over the objects the API holds, so env, Secrets,
ConfigMaps and volumes are resolved as for the chart's own workloads) turns each Pod into
processes; init containers run in order, then the main containers. The Pod's status follows the
processes as a kubelet reports it: Pending (scheduled, then initialising), Running, then
Succeeded or Failed, with each container's state (waiting, running, terminated with its exit
code) and the usual events. Containers run once, as `restartPolicy: Never` says (the policy of
both Airflow's task pods and the pod operator's). A Pod that cannot be planned stays Pending with
CreateContainerConfigError, as a missing Secret key leaves it in a cluster. Deleting a running
Pod stops its containers (SIGTERM, then SIGKILL after the grace period) before it disappears.
Image contents are not emulated: every image's command runs on this machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chart_tools.runtime.kubeapi import StandInKubeAPI
from chart_tools.runtime.kubeauth import Denied
from chart_tools.runtime.kubestore import Key, Obj, now
from chart_tools.runtime.plan import PodPlan, Process, RunPlanError
from chart_tools.runtime.processes import Runner, Spawned, StepError, signal_session, stop_container

Planner = Callable[[Obj], PodPlan]
LOG_POLL_SECONDS = 0.2


@dataclass
class PodRun:
    """What the kubelet knows of one Pod: its containers' states and processes."""

    key: Key
    pod: Obj
    states: dict[str, Obj] = field(default_factory=dict)  # container -> its status entry
    spawned: dict[str, Spawned] = field(default_factory=dict)  # container -> its process
    done: set[str] = field(default_factory=set)  # containers that have exited
    deleting: threading.Event = field(default_factory=threading.Event)
    started_at: str = field(default_factory=now)
    phase: str = "Pending"
    plan: PodPlan | None = None

    def names(self, kind: str) -> list[str]:
        return [c["name"] for c in self.pod["spec"].get(kind) or []]


def _image(pod: Obj, container: str) -> str:
    specs = pod["spec"]["containers"] + (pod["spec"].get("initContainers") or [])
    return next(c["image"] for c in specs if c["name"] == container)


class Kubelet:
    """Runs the API's Pods with `runner`; `planner` turns a Pod into processes."""

    def __init__(self, api: StandInKubeAPI, runner: Runner, planner: Planner) -> None:
        self.api, self.runner, self.planner = api, runner, planner
        self.runs: dict[Key, PodRun] = {}
        self.problems: list[str] = []  # pods that could not run, and why
        api.on_pod_created = self.admit
        api.on_pod_deleted = self.delete
        api.read_log = self.read_log

    # ------------------------------------------------------------ the chart's own pods

    def register(self, obj: Obj, namespace: str) -> Key:
        """A pod of one of the chart's workloads, which the runtime runs itself: listed like any
        pod and counted by a ResourceQuota, as in a cluster. Running until `finish`."""
        template = obj["spec"]["template"]
        suffix = "0" if obj["kind"] == "StatefulSet" else secrets.token_hex(3)[:5]
        key = Key(namespace, "pods", f"{obj['metadata']['name']}-{suffix}")
        metadata = {"name": key.name, "labels": template["metadata"].get("labels") or {}}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": template["spec"],
            "status": {"phase": "Running", "podIP": "127.0.0.1"},
        }
        self.api.objects.put(key, pod)
        return key

    def finish(self, key: Key, phase: str) -> None:
        self.api.objects.update(key, lambda pod: pod["status"].update(phase=phase))

    # ------------------------------------------------------------ the API's pods

    def admit(self, key: Key) -> None:
        pod = self.api.objects.get(key)
        if pod is None:
            return
        self.runs[key] = PodRun(key, pod)
        threading.Thread(target=self._live, args=(self.runs[key],), daemon=True).start()

    def _live(self, run: PodRun) -> None:
        key = run.key
        self._update(run, "Pending", scheduled=True)
        self._event(run, "Scheduled", f"Successfully assigned {key.namespace}/{key.name} to localhost")
        try:
            plan = run.plan = self.planner(run.pod)
        except RunPlanError as err:
            for name in run.names("containers"):
                run.states[name] = {"waiting": {"reason": "CreateContainerConfigError", "message": str(err)}}
            self._update(run, "Pending")
            self._event(run, "Failed", f"Error: {err}", "Warning")
            self.problems.append(f"pod {key.name}: {err}")
            return
        try:
            phase = self._run_containers(run, plan)
        except StepError as err:  # the run is stopping: start nothing more
            self.problems.append(f"pod {key.name}: {err}")
            phase = "Failed"
        self._update(run, phase)
        if run.deleting.is_set():
            self.api.objects.remove(key)

    def _run_containers(self, run: PodRun, plan: PodPlan) -> str:
        """Init containers in order, then every main container; the phase they leave the pod in."""
        for process in plan.init:
            if run.deleting.is_set():
                return "Failed"
            self._start(run, process)
            self._update(run, "Pending")
            if self._wait(run, process) != 0:
                return "Failed"
        for process in plan.main:
            self._start(run, process)
        self._update(run, "Running")
        codes = [self._wait(run, process) for process in plan.main]
        return "Succeeded" if not any(codes) else "Failed"

    def _start(self, run: PodRun, process: Process) -> None:
        self._event(run, "Pulled", f'Container image "{_image(run.pod, process.container)}" already present')
        run.spawned[process.container] = self.runner.spawn(process)
        run.states[process.container] = {"running": {"startedAt": now()}}
        self._event(run, "Started", f"Started container {process.container}")

    def _wait(self, run: PodRun, process: Process) -> int:
        code = run.spawned[process.container].wait()
        started = run.states[process.container]["running"]["startedAt"]
        reason = "Completed" if code == 0 else "Error"
        run.states[process.container] = {
            "terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now()}
        }
        run.done.add(process.container)
        self._update(run, "Running" if process.container in run.names("containers") else "Pending")
        return code

    def delete(self, key: Key, grace: int) -> bool:
        """A deletion request: stop a pod that still runs (True: it disappears once stopped)."""
        run = self.runs.get(key)
        pod = self.api.objects.get(key)
        if run is None or pod is None or pod["status"].get("phase") in ("Succeeded", "Failed"):
            return False
        run.deleting.set()
        self._event(run, "Killing", "Stopping container(s)")

        def stop() -> None:
            for spawned in list(run.spawned.values()):
                signal_session(spawned.popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for spawned in list(run.spawned.values()):
                with contextlib.suppress(Exception):
                    spawned.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                stop_container(spawned.popen)

        threading.Thread(target=stop, daemon=True).start()
        return True

    # ------------------------------------------------------------ status and events

    def _update(self, run: PodRun, phase: str, scheduled: bool = False) -> None:
        """Write the pod's status (and, once, its node) as the kubelet reports it."""
        run.phase = phase
        mains, inits = run.names("containers"), run.names("initContainers")

        def entry(name: str, waiting: str) -> Obj:
            state = run.states.get(name) or {"waiting": {"reason": waiting}}
            return {
                "name": name,
                "image": _image(run.pod, name),
                "imageID": "",
                "ready": "running" in state,
                "started": "running" in state,
                "restartCount": 0,
                "state": state,
                **({"containerID": f"local://{run.spawned[name].popen.pid}"} if name in run.spawned else {}),
            }

        initialised = all(i in run.done for i in inits)
        running = all("running" in run.states.get(m, {}) for m in mains)
        conditions = [
            ("PodScheduled", True),
            ("Initialized", initialised),
            ("ContainersReady", running),
            ("Ready", running),
        ]

        def change(pod: Obj) -> None:
            if scheduled:
                pod["spec"]["nodeName"] = "localhost"
            pod["status"] = {
                "phase": phase,
                "hostIP": "127.0.0.1",
                "podIP": "127.0.0.1",
                "podIPs": [{"ip": "127.0.0.1"}],
                "startTime": run.started_at,
                "qosClass": pod.get("status", {}).get("qosClass", "Burstable"),
                "conditions": [
                    {"type": kind, "status": str(ok), "lastTransitionTime": now()} for kind, ok in conditions
                ],
                "initContainerStatuses": [entry(i, "PodInitializing") for i in inits],
                "containerStatuses": [
                    entry(m, "PodInitializing" if inits else "ContainerCreating") for m in mains
                ],
            }
            if not inits:
                del pod["status"]["initContainerStatuses"]

        self.api.objects.update(run.key, change)

    def _event(self, run: PodRun, reason: str, message: str, kind: str = "Normal") -> None:
        key, name = run.key, f"{run.key.name}.{secrets.token_hex(8)}"
        involved = {
            "kind": "Pod",
            "apiVersion": "v1",
            "namespace": key.namespace,
            "name": key.name,
            "uid": run.pod["metadata"].get("uid", ""),
        }
        self.api.objects.put(
            Key(key.namespace, "events", name),
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": kind,
                "source": {"component": "kubelet", "host": "localhost"},
                "firstTimestamp": now(),
                "lastTimestamp": now(),
                "count": 1,
            },
        )

    # ------------------------------------------------------------ logs

    def read_log(self, key: Key, query: dict[str, str]) -> Iterator[str]:
        """`pods/log` of a container: its lines (with their timestamps when asked), from
        sinceSeconds/sinceTime, the last tailLines; with follow, until the container ends."""
        run, container = self.runs.get(key), query["container"]
        spawned = run.spawned.get(container) if run else None
        if run is None or spawned is None:
            raise Denied(
                400,
                "BadRequest",
                f'container "{container}" in pod "{key.name}" is waiting to start: ContainerCreating',
            )
        since = _since(query)
        tail = int(query["tailLines"]) if query.get("tailLines") else None
        follow = query.get("follow", "").lower() in ("true", "1")
        stamped = query.get("timestamps", "").lower() in ("true", "1")
        return _log_lines(spawned.log, lambda: container in run.done, since, tail, follow, stamped)


def _since(query: dict[str, str]) -> str:
    """The earliest timestamp asked for, comparable as text with the log's stamps ("" for all)."""
    if query.get("sinceTime"):
        moment = dt.datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
    elif query.get("sinceSeconds"):
        moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(query["sinceSeconds"]))
    else:
        return ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def _log_lines(
    log: Path, finished: Callable[[], bool], since: str, tail: int | None, follow: bool, stamped: bool
) -> Iterator[str]:
    """Lines of a timestamped container log; "" while following and nothing is new."""

    def shown(line: str) -> str:
        return line if stamped else line.split(" ", 1)[1]

    with open(log, encoding="utf-8", errors="replace") as source:
        lines = [line for line in source.readlines() if line.endswith("\n") and line >= since]
        partial = ""
        yield from (
            shown(line) for line in (lines[max(0, len(lines) - tail) :] if tail is not None else lines)
        )
        while follow:
            ended = finished()  # read once more after the end: the last lines may be unread
            chunk = partial + source.read()
            *complete, partial = chunk.split("\n")
            yield from (shown(line + "\n") for line in complete if line + "\n" >= since)
            if ended and not partial:
                return
            if not complete:
                yield ""
                time.sleep(LOG_POLL_SECONDS)
