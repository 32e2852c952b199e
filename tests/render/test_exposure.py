"""Ingress and HTTPRoute for the api-server and Flower: TLS always, backends that exist, the
HTTPRoute checked by our strict Gateway API schema; plain-HTTP Services only when acknowledged."""

import copy

import pytest

from chart_tools.chart.render import find, render
from chart_tools.chart.validate import check_schema
from tests.conftest import ci_file
from tests.helpers import of_kind


@pytest.fixture
def exposed(helm_major):
    return render([ci_file("exposure")], helm_major=helm_major)


def service_port(objects, name):
    """The ports of the rendered Service `name` (the route's backend must be one of them)."""
    service = next(o for o in of_kind(objects, "Service") if o["metadata"]["name"] == name)
    return {p["port"] for p in service["spec"]["ports"]}


def test_ingress_serves_tls_for_its_host_with_cert_manager_or_a_secret(exposed):
    api = find(exposed, "Ingress", "-api-server")
    assert api["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert api["spec"]["ingressClassName"] == "nginx"
    assert api["spec"]["tls"] == [{"hosts": ["airflow.example.com"], "secretName": "airflow-api-server-tls"}]
    flower = find(exposed, "Ingress", "-flower")
    assert "annotations" not in flower["metadata"]
    assert flower["spec"]["tls"] == [
        {"hosts": ["flower.example.com"], "secretName": "flower-example-com-tls"}
    ]
    for ingress in (api, flower):
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == ingress["spec"]["tls"][0]["hosts"][0]
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend["port"]["number"] in service_port(exposed, backend["name"])


def test_httproute_attaches_to_the_named_listener_and_routes_to_the_service(exposed):
    for component, hostnames in (("api-server", ["airflow.example.com"]), ("flower", None)):
        route = find(exposed, "HTTPRoute", f"-{component}")
        assert route["spec"]["parentRefs"] == [
            {"name": "shared-gateway", "namespace": "gateway-system", "sectionName": "https"}
        ]
        assert route["spec"].get("hostnames") == hostnames
        (backend,) = route["spec"]["rules"][0]["backendRefs"]
        assert backend["port"] in service_port(exposed, backend["name"])


def test_nothing_is_exposed_by_default(defaults):
    assert not of_kind(defaults, "Ingress") and not of_kind(defaults, "HTTPRoute")
    assert find(defaults, "Service", "-api-server")["spec"]["type"] == "ClusterIP"


def findings(route, mutate):
    bad = copy.deepcopy(route)
    mutate(bad["spec"])
    return [str(f) for f in check_schema(bad)]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s["parentRefs"][0].update(sectionNam="https"),
        lambda s: s.update(hostnames=["10.0.0.1"]),
        lambda s: s.update(hostnames=["Airflow.example.com"]),
        lambda s: s["rules"][0]["backendRefs"][0].pop("port"),
        lambda s: s["rules"][0]["matches"][0]["path"].update(value="airflow"),
        lambda s: s["parentRefs"][0].update(namespace="Gateway_System"),
        lambda s: s.update(parentRefs=s["parentRefs"] * 33),
    ],
    ids=["typo", "ip-hostname", "capitals", "no-port", "relative-path", "bad-namespace", "too-many-parents"],
)
def test_the_httproute_schema_is_strict(exposed, mutate):
    route = find(exposed, "HTTPRoute", "-api-server")
    assert not findings(route, lambda s: None)
    assert findings(route, mutate)


def test_a_load_balancer_needs_the_plain_http_acknowledgement(helm_major):
    objects = render(
        set_values=[
            "cluster.apiServer.service.type=LoadBalancer",
            "cluster.apiServer.service.plainHttpAcknowledged=true",
        ],
        helm_major=helm_major,
    )
    assert find(objects, "Service", "-api-server")["spec"]["type"] == "LoadBalancer"
