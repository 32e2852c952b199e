"""What the cluster tier needs, and what happens without it: exit 2 with one line naming each
missing tool and its version; pytest skips, except under E2E=1 where it fails."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chart_tools import ROOT
from chart_tools.cluster import tools
from tests.e2e.fakes import FakeShell


def shell(kind="kind v0.33.0 go1.25 linux/amd64", kubectl="v1.35.8"):
    s = FakeShell()
    s.answers[("kind", "version")] = kind
    s.answers[("kubectl", "version")] = json.dumps({"clientVersion": {"gitVersion": kubectl}})
    return s


def test_every_missing_tool_is_named_with_the_version_needed():
    with pytest.raises(tools.Unavailable) as err:
        tools.check(
            shell(), "1.35", which=lambda tool: None if tool in ("kind", "kubectl") else f"/usr/bin/{tool}"
        )
    assert str(err.value) == (
        "the cluster tier needs kind v0.33.0+, kubectl v1.34+: not found on PATH (see docs/testing.md)"
    )


def test_an_engine_that_does_not_answer_is_named():
    s = shell()
    s.fail[("docker", "info")] = "docker info failed (exit 1): Cannot connect to the Docker daemon"
    with pytest.raises(
        tools.Unavailable, match="needs a running Docker engine; docker info says: Cannot connect"
    ):
        tools.check(s, "1.35", which=lambda tool: tool)


@pytest.mark.parametrize(
    ("kube", "kind", "kubectl", "message"),
    [
        (
            "1.35",
            "kind v0.29.0 go1.24 linux/amd64",
            "v1.35.0",
            "kind v0.29.0 is older than v0.33.0, which the Kubernetes 1.35",
        ),
        ("1.35", "kind v0.33.0 go1.25 linux/amd64", "v1.31.2", "kubectl v1.31.2 is older than v1.34+"),
        ("1.30", "kind v0.29.0 go1.24 linux/amd64", "v1.28.0", "kubectl v1.28.0 is older than v1.29+"),
    ],
)
def test_tools_too_old_for_the_pinned_version_are_refused(kube, kind, kubectl, message):
    with pytest.raises(tools.Unavailable, match=message):
        tools.check(shell(kind, kubectl), kube, which=lambda tool: tool)


def test_tools_that_are_there_and_recent_pass():
    tools.check(shell(), "1.35", which=lambda tool: tool)
    tools.check(shell("kind v0.33.0 go1.25 linux/amd64", "v1.35.8"), "1.30", which=lambda tool: tool)


@pytest.mark.parametrize(
    ("reason", "env", "action"),
    [("", {}, "run"), ("", {"E2E": "1"}, "run"), ("no kind", {}, "skip"), ("no kind", {"CI": "true"}, "skip"),
     ("no kind", {"E2E": "1"}, "fail"), ("no kind", {"E2E": "0"}, "skip")],
)  # fmt: skip
def test_pytest_skips_without_the_tools_unless_e2e_is_asked_for(reason, env, action):
    assert tools.decide(reason, env) == action


def chart_tools(*args, path):
    env = {"PATH": str(path), "HOME": str(path)}
    return subprocess.run(
        [sys.executable, "-m", "chart_tools.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT
    )


@pytest.mark.parametrize("command", ["e2e", "demo"])
def test_without_the_tools_the_commands_exit_2_with_one_line(tmp_path, command):
    done = chart_tools(command, "--kube-version", "1.30", path=tmp_path)  # an empty PATH: nothing found
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"chart-tools {command}: the cluster tier needs docker 20.10+ with its engine running, "
        "kind v0.29.0+, kubectl v1.29+, git 2.x: not found on PATH (see docs/testing.md)"
    ]


def test_e2e_help_lists_the_scenarios_and_versions(tmp_path):
    done = chart_tools("e2e", "--help", path=tmp_path)
    assert done.returncode == 0
    for word in (
        "default",
        "kubernetes-executor",
        "cluster-on-base",
        "git-sync",
        "lifecycle",
        "metrics",
        "1.30",
        "--keep",
    ):
        assert word in done.stdout
