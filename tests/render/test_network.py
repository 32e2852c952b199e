"""NetworkPolicies, proven by network-config-analyzer: for each profile, the exact set of
connections into the release's pods that the analyzer finds allowed is the matrix written here
from the chart's intent (docs/security.md), so every allowed pair is allowed and every other pair
denied. Probe pods stand for the rest of the cluster: a pod in the release's namespace, one in
another namespace, Prometheus, an ingress controller, and addresses outside the cluster."""

from __future__ import annotations

import pytest

from chart_tools import ROOT
from chart_tools.chart import connectivity as nca
from chart_tools.chart.connectivity import ANYWHERE, Connection
from chart_tools.chart.render import render
from chart_tools.chart.validate import validate

NS = "airflow"
PROBES = [
    nca.namespace(NS),
    nca.namespace("other"),
    nca.namespace("monitoring"),
    nca.namespace("ingress", {"role": "ingress"}),
    nca.pod(NS, "intruder"),
    nca.pod("other", "intruder"),
    nca.pod("monitoring", "prometheus", {"app.kubernetes.io/name": "prometheus"}),
    nca.pod("ingress", "controller"),
]
PROBE_NAMES = {f"{NS}/intruder", "other/intruder", "monitoring/prometheus", "ingress/controller", ANYWHERE}
TASK = f"{NS}/airflow-pod-template-task"  # the KubernetesExecutor's pod template, as a Pod
CORE = {"api-server", "scheduler", "dag-processor", "triggerer", "migrate"}  # in every cluster release
DATABASE_CLIENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker", "flower", "migrate")


def analyze(
    releases: list[tuple[str, list[str], list[str]]], helm_major: int
) -> tuple[set[Connection], set[str]]:
    """Every allowed connection, and the releases' endpoints; releases are (name, values files,
    --set values), all installed in NS."""
    workloads = []
    for release, files, sets in releases:
        objects = render([ROOT / f for f in files], sets, helm_major=helm_major, release=release)
        assert not validate(objects)
        workloads += nca.in_namespace(objects, NS)
    return nca.analyze(workloads + PROBES), nca.endpoints(workloads)


def ingress(
    releases: list[tuple[str, list[str], list[str]]], helm_major: int
) -> tuple[set[Connection], set[str]]:
    """Allowed connections into the releases' pods, and every endpoint, probes included."""
    connections, ours = analyze(releases, helm_major)
    return nca.into(connections, ours), ours | PROBE_NAMES


def named(endpoints: set[str], prefix: str) -> dict[str, str]:
    """Short component names (`api-server`, `migrate`) for endpoints `NS/<prefix>-<component>`."""
    short = {}
    for endpoint in endpoints:
        name = endpoint.removeprefix(f"{NS}/")
        if name.startswith(f"{prefix}-"):
            component = name.removeprefix(f"{prefix}-")
            short["migrate" if component.startswith("migrate-") else component] = endpoint
    return short


def reach(sources: set[str], dst: str, port: str) -> set[Connection]:
    return {Connection(src, dst, port) for src in sources if src != dst}


def release_matrix(
    pods: dict[str, str], everyone: set[str], api_from: set[str] | None = None
) -> set[Connection]:
    """What one release's policies admit: the api-server from `api_from` (default: everyone), the
    database from its Airflow pods (each waits for migrations; task pods do not), Redis from its
    Celery clients, log ports from the api-server."""
    airflow = {pods[c] for c in DATABASE_CLIENTS if c in pods}
    allowed = reach(everyone if api_from is None else api_from, pods["api-server"], "TCP/8080")
    allowed |= reach({pods["api-server"]}, pods["triggerer"], "TCP/8794")
    if "postgres" in pods:
        allowed |= reach(airflow, pods["postgres"], "TCP/5432")
    if "worker" in pods:
        allowed |= reach({pods["api-server"]}, pods["worker"], "TCP/8793")
    if "redis" in pods:
        celery = {pods[c] for c in ("scheduler", "worker", "flower") if c in pods}
        allowed |= reach(celery, pods["redis"], "TCP/6379")
    return allowed


def test_default_profile(helm_major):
    allowed, everyone = ingress([("airflow", [], [])], helm_major)
    pods = named(everyone, "airflow")
    assert set(pods) == CORE | {"worker", "postgres", "redis"}
    assert allowed == release_matrix(pods, everyone)


def test_kubernetes_executor_profile(helm_major):
    """Task pods reach the api-server (execution API) but not the database; with the api-server
    restricted to an ingress controller, task pods are still admitted and nobody else is."""
    files = ["values/kubernetes-executor.yaml"]
    allowed, everyone = ingress([("airflow", files, [])], helm_major)
    pods = named(everyone, "airflow")
    assert set(pods) == CORE | {"postgres", "pod-template-task"}
    assert allowed == release_matrix(pods, everyone)
    assert Connection(TASK, pods["postgres"], "TCP/5432") not in allowed

    ingress_only = [r"networkPolicy.apiServerFrom[0].namespaceSelector.matchLabels.role=ingress"]
    allowed, everyone = ingress([("airflow", files, ingress_only)], helm_major)
    assert allowed == release_matrix(pods, everyone, api_from={"ingress/controller", TASK})


def test_cluster_on_base_profile(helm_major):
    """A base and two clusters in one namespace: both clusters reach the base's database; each
    cluster's Redis, workers and triggerer admit only that cluster's own pods."""
    base = ("airflow-base", ["values/base-only.yaml"], [])
    clusters = [(team, ["values/cluster-on-base.yaml"], []) for team in ("team-a", "team-b")]
    allowed, everyone = ingress([base, *clusters], helm_major)
    postgres = named(everyone, "airflow-base")["postgres"]
    expected = set()
    for team in ("team-a", "team-b"):
        pods = named(everyone, f"{team}-airflow")
        assert set(pods) == CORE | {"worker", "redis"}
        expected |= release_matrix(pods, everyone)
        clients = {pods[c] for c in DATABASE_CLIENTS if c in pods}
        expected |= reach(clients, postgres, "TCP/5432")
    assert allowed == expected
    assert Connection(f"{NS}/team-a-airflow-worker", f"{NS}/team-b-airflow-redis", "TCP/6379") not in allowed


def test_flower_and_metrics(helm_major):
    """Flower from anywhere by default; StatsD only from Airflow's components; scrapes only from
    Prometheus (networkPolicy.metricsFrom)."""
    sets = ["cluster.flower.enabled=true", "cluster.metrics.enabled=true"]
    allowed, everyone = ingress([("airflow", [], sets)], helm_major)
    pods = named(everyone, "airflow")
    senders = {pods[c] for c in ("api-server", "scheduler", "dag-processor", "triggerer", "worker")}
    expected = release_matrix(pods, everyone)
    expected |= reach(everyone, pods["flower"], "TCP/5555")
    expected |= reach(senders, pods["statsd"], "UDP/9125")
    expected |= reach({"monitoring/prometheus"}, pods["statsd"], "TCP/9102")
    assert allowed == expected


def test_one_value_turns_them_off(helm_major):
    """Without policies the analyzer finds the database open to any pod: the proof above can fail."""
    objects = render(set_values=["networkPolicy.enabled=false"], helm_major=helm_major)
    assert not [o for o in objects if o["kind"] == "NetworkPolicy"]
    allowed, everyone = ingress([("airflow", [], ["networkPolicy.enabled=false"])], helm_major)
    postgres = named(everyone, "airflow")["postgres"]
    assert Connection("other/intruder", postgres, "*") in allowed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("networkPolicy.apiServerFrom[0].ipBlock.cidr=10.0.0.0/33", "networkPolicy.apiServerFrom"),
        ("networkPolicy.flowerFrom[0].podSelector.matchLabels.app=a b", "networkPolicy.flowerFrom"),
        (
            "networkPolicy.metricsFrom[0].namespaceSelector.matchExpressions[0].operator=Near",
            "networkPolicy.metricsFrom",
        ),
        (
            "cluster.podLabels.airflow/database=airflow-base",
            "cluster.podLabels: the label airflow/database is set",
        ),
        ("cluster.config.logging.trigger_log_server_port=80", "trigger_log_server_port"),
    ],
)
def test_bad_network_values_are_refused_by_key(value, message, helm_major):
    with pytest.raises(Exception, match=message.replace(".", r"[./]")):
        render(set_values=[value], helm_major=helm_major)


def test_egress_policy(helm_major):
    """With networkPolicy.egress on, a cluster's pods reach DNS, their own pods, the base's
    database and the listed CIDR; pods elsewhere (without policies of their own) and other
    addresses only on port 53."""
    sets = ["networkPolicy.egress.enabled=true", "networkPolicy.egress.cidrs={203.0.113.0/24}"]
    base = ("airflow-base", ["values/base-only.yaml"], [])
    connections, _ = analyze([base, ("team-a", ["values/cluster-on-base.yaml"], sets)], helm_major)
    worker = f"{NS}/team-a-airflow-worker"
    dns = {"TCP/53", "UDP/53"}
    outside = {
        "0.0.0.0-203.0.112.255": dns,
        "203.0.113.0-203.0.113.255": {"*"},
        "203.0.114.0-255.255.255.255": dns,
    }
    expected = {(dst, port) for dst, ports in outside.items() for port in ports}
    expected |= {(probe, port) for probe in PROBE_NAMES - {ANYWHERE} for port in dns}
    expected |= {(f"{NS}/airflow-base-postgres", "TCP/5432"), (f"{NS}/team-a-airflow-api-server", "TCP/8080")}
    expected |= {(f"{NS}/team-a-airflow-redis", "TCP/6379")}
    assert {(c.dst, c.port) for c in connections if c.src == worker} == expected
