"""The validator must catch what it claims to: each case breaks one rendered object on purpose."""

import copy

import pytest

from chart_tools.chart.render import find, render
from chart_tools.chart.validate import validate
from tests.helpers import container, pod_of


@pytest.fixture(scope="module")
def good():
    return find(render(), "Deployment", "-scheduler")


def checks(obj):
    return {(f.check, f.message.split(":")[0]) for f in validate([obj])}


def broken(good, mutate):
    obj = copy.deepcopy(good)
    mutate(obj)
    return {f.check for f in validate([obj])}


def test_good_object_passes(good):
    assert validate([good]) == []


@pytest.mark.parametrize(
    ("check", "mutate"),
    [
        ("pod-security", lambda o: pod_of(o)["securityContext"].pop("runAsNonRoot")),
        ("pod-security", lambda o: pod_of(o)["securityContext"].update(runAsUser=0)),
        ("pod-security", lambda o: pod_of(o)["securityContext"].pop("seccompProfile")),
        ("pod-security", lambda o: pod_of(o).update(hostNetwork=True)),
        ("pod-security", lambda o: pod_of(o)["volumes"].append({"name": "h", "hostPath": {"path": "/"}})),
        ("pod-security", lambda o: container(o, "scheduler")["securityContext"].update(privileged=True)),
        (
            "pod-security",
            lambda o: container(o, "scheduler")["securityContext"].pop("allowPrivilegeEscalation"),
        ),
        (
            "pod-security",
            lambda o: container(o, "scheduler")["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        ),
        ("resources", lambda o: container(o, "scheduler")["resources"]["limits"].pop("memory")),
        ("resources", lambda o: container(o, "wait-for-migrations")["resources"]["requests"].pop("cpu")),
        ("probes", lambda o: container(o, "scheduler").pop("livenessProbe")),
        ("probes", lambda o: container(o, "scheduler").pop("readinessProbe")),
        (
            "read-only-root",
            lambda o: container(o, "scheduler")["securityContext"].pop("readOnlyRootFilesystem"),
        ),
        (
            "duplicates",
            lambda o: container(o, "scheduler")["env"].append(
                {"name": "AIRFLOW__CORE__FERNET_KEY", "value": "x"}
            ),
        ),
        (
            "duplicates",
            lambda o: container(o, "scheduler")["volumeMounts"].append({"name": "tmp", "mountPath": "/tmp"}),
        ),
        (
            "duplicates",
            lambda o: container(o, "scheduler")["ports"].append({"name": "other", "containerPort": 8974}),
        ),
        ("schema", lambda o: container(o, "scheduler").update(imagee="typo")),
        ("schema", lambda o: o["spec"].update(replicas="two")),
    ],
)
def test_each_breakage_is_found(good, check, mutate):
    assert check in broken(good, mutate)


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("policy/v1beta1", "PodSecurityPolicy"), ("batch/v1beta1", "CronJob"), ("example.com/v1", "Widget")],
)
def test_removed_or_unknown_apis_are_errors(api_version, kind):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}}
    findings = validate([obj])
    assert {f.check for f in findings} == {"schema"}
    assert any("does not exist" in f.message for f in findings)


def test_duplicate_service_ports():
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
    }
    assert [f.check for f in validate([svc])] == ["duplicates"]
