"""Preflight: the cluster tier needs Docker (a running engine), kind, kubectl and git. Without
them `chart-tools e2e`, `make e2e` and `make demo` stop with exit 2 and one line naming each
missing tool and the version needed; pytest's e2e tests skip with that line (fail under E2E=1)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping

from chart_tools.cluster.shell import CommandError, Shell
from chart_tools.cluster.versions import PINS, Pin, version_tuple


def needed(pin: Pin) -> dict[str, str]:
    """Each tool and the version the pinned cluster needs, as the messages name them."""
    minor = version_tuple(pin.kubectl)[:2]
    return {
        "docker": "20.10+ with its engine running",
        "kind": f"{pin.kind}+",
        "kubectl": f"v{minor[0]}.{minor[1] - 1}+",
        "git": "2.x",
    }


class Unavailable(RuntimeError):
    """The cluster tier cannot run on this machine; the message says what to install."""


def _version_problem(shell: Shell, kube: str) -> str:
    pin = PINS[kube]
    words = shell.run(["kind", "version"], timeout=30).split()  # kind v0.33.0 go1.25 linux/amd64
    found = words[1] if len(words) > 1 else "?"
    if version_tuple(found) < version_tuple(pin.kind):
        return f"kind {found} is older than {pin.kind}, which the Kubernetes {kube} node image needs"
    client = json.loads(shell.run(["kubectl", "version", "--client", "-o", "json"], timeout=30))
    found = client["clientVersion"]["gitVersion"]
    minor = version_tuple(pin.kubectl)[:2]
    if version_tuple(found)[:2] < (minor[0], minor[1] - 1):
        return f"kubectl {found} is older than {needed(pin)['kubectl']}, the oldest for Kubernetes {kube}"
    return ""


def check(shell: Shell, kube: str, which: Callable[[str], str | None] = shutil.which) -> None:
    """Unavailable with one line when a tool is missing, too old, or Docker's engine is down."""
    missing = [f"{tool} {need}" for tool, need in needed(PINS[kube]).items() if not which(tool)]
    if missing:
        raise Unavailable(
            f"the cluster tier needs {', '.join(missing)}: not found on PATH (see docs/testing.md)"
        )
    try:
        shell.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=60)
    except CommandError as err:
        reason = str(err).split(": ", 1)[-1]
        raise Unavailable(
            f"the cluster tier needs a running Docker engine; docker info says: {reason}"
        ) from None
    problem = _version_problem(shell, kube)
    if problem:
        raise Unavailable(problem)


def decide(reason: str, env: Mapping[str, str]) -> str:
    """What pytest does with the cluster tier's tests: "run" when the tools are there, else
    "skip" with the reason, except under E2E=1 (a machine meant to run them), where it is "fail"."""
    if not reason:
        return "run"
    return "fail" if env.get("E2E") == "1" else "skip"
