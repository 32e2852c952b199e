"""What the cluster's objects say about themselves: is a workload Ready, did a Job finish, why
is a pod not running. Pure functions over objects as the API returns them (plain dicts), named
as `kubectl describe` would name the reason."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
# Waiting reasons every starting container passes through: not a problem yet.
STARTING = {"ContainerCreating", "PodInitializing"}


def workload_ready(obj: Obj) -> bool:
    """A Deployment or StatefulSet whose current spec runs every replica, all Ready."""
    spec, status = obj.get("spec", {}), obj.get("status", {})
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return False
    counts = (status.get("updatedReplicas", 0), status.get("readyReplicas", 0), status.get("replicas", 0))
    return counts == (want, want, want)


def job_state(job: Obj) -> str:
    """ "Complete", "Failed" (with the reason) or "" while it runs."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            if condition["type"] == "Failed":
                return f"Failed: {condition.get('reason', '')} {condition.get('message', '')}".strip()
            return "Complete"
    return ""


def _container_problem(c: Obj) -> str:
    state = c.get("state", {})
    waiting = state.get("waiting")
    if waiting and waiting.get("reason") not in STARTING:
        message = f": {waiting['message']}" if waiting.get("message") else ""
        return f"container {c['name']} {waiting.get('reason')}{message}"
    ended = state.get("terminated") or (c.get("lastState") or {}).get("terminated")
    if ended and ended.get("exitCode"):
        restarts = f", {c['restartCount']} restarts" if c.get("restartCount") else ""
        return f"container {c['name']} exited {ended['exitCode']} ({ended.get('reason', 'Error')}{restarts})"
    return ""


def pod_problem(pod: Obj) -> str:
    """Why a pod is not (yet) doing its work, one line naming it; "" for a healthy or finished pod."""
    name, status = pod["metadata"]["name"], pod.get("status", {})
    phase = status.get("phase", "Pending")
    if phase == "Succeeded":
        return ""
    for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        problem = _container_problem(c)
        if problem:
            return f"pod {name}: {problem}"
    for condition in status.get("conditions") or []:
        if condition["type"] == "PodScheduled" and condition["status"] == "False":
            return f"pod {name}: not scheduled: {condition.get('message', condition.get('reason', ''))}"
    if phase == "Failed":
        return f"pod {name}: Failed {status.get('reason', '')} {status.get('message', '')}".rstrip()
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
    return "" if ready else f"pod {name}: {phase}, not Ready"


def event_line(event: Obj) -> str:
    """One event as `kubectl get events` shows it: time, type, reason, object, message."""
    when = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
    target = event.get("involvedObject", {})
    return (
        f"{when} {event.get('type', '')} {event.get('reason', '')} "
        f"{target.get('kind', '')}/{target.get('name', '')}: {event.get('message', '')}"
    )
