"""Every bad value is caught at render time, on both helm majors, with a message naming its key.

The cases under "examples" are the ones users and hostile tenants tried (newlines that add
fields and arguments, values the API server or Airflow would refuse later, nulls that used to
end in template traces). The generated cases inject into every string field the schema has and
null every section. Each case is judged by tests/outcome.py, the same oracle as the fuzzing tier.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from chart_tools.chart.render import find
from chart_tools.chart.values import defaults
from tests.fuzz.cases import INJECTION, SCHEMA, nest
from tests.helpers import airflow_cfg, container, deployment, pod_of
from tests.outcome import judge

GIT = {"name": "d", "url": "https://git.example.com/d.git"}


def git(**repo: Any) -> dict[str, Any]:
    return {"cluster": {"dags": {"mode": "gitSync", "git": {"repos": [{**GIT, **repo}]}}}}


# A request above its limit by 7e-9 bytes, 1e-16 of the amount: floats see two equal numbers.
ABOVE_BY_LESS_THAN_FLOAT_PRECISION = {
    "requests": {"memory": "82551198.141061928"},
    "limits": {"memory": "82551198.141061921"},
}
EXAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "priority class adds hostNetwork": (
        {"cluster": {"placement": {"priorityClassName": "x\nhostNetwork: true"}}},
        "cluster.placement.priorityClassName",
    ),
    "git ref adds an exechook": (
        git(ref="main\n- --exechook-command=/bin/sh"),
        "cluster.dags.git.repos[0].ref",
    ),
    "git URL adds an exechook": (
        git(url=GIT["url"] + "\n- --exechook-command=/bin/sh"),
        "cluster.dags.git.repos[0].url",
    ),
    "admin e-mail adds an argument": (
        {"cluster": {"auth": {"admin": {"email": "a@example.com\n- --role=Viewer"}}}},
        "cluster.auth.admin.email",
    ),
    "config value adds a section": (
        {"cluster": {"config": {"core": {"x": "1\n[core]\nexecutor = LocalExecutor"}}}},
        "cluster.config.core",
    ),
    "config section name adds a section": (
        {"cluster": {"config": {"core]\n[core": {"executor": "LocalExecutor"}}}},
        "cluster.config",
    ),
    "config option in capitals bypasses the guard": (
        {"cluster": {"config": {"core": {"EXECUTOR": "LocalExecutor"}}}},
        "cluster.config.core",
    ),
    "quantity plenty": (
        {"cluster": {"workers": {"resources": {"requests": {"memory": "plenty"}}}}},
        "cluster.workers.resources",
    ),
    "quantity 2 GB": (
        {"cluster": {"workers": {"resources": {"limits": {"memory": "2 GB"}}}}},
        "cluster.workers.resources",
    ),
    "negative size": (
        {"base": {"database": {"postgres": {"persistence": {"size": "-1Gi"}}}}},
        "base.database.postgres.persistence.size",
    ),
    "negative request": (
        {"cluster": {"scheduler": {"resources": {"requests": {"cpu": "-1"}}}}},
        "cluster.scheduler.resources",
    ),
    "object name": ({"fullnameOverride": "Prod_Airflow"}, "fullnameOverride"),
    "label key": ({"commonLabels": {"bad key": "x"}}, "commonLabels"),
    "label value": ({"cluster": {"podLabels": {"team": "not valid!"}}}, "cluster.podLabels"),
    "chart label overridden": (
        {"cluster": {"podLabels": {"app.kubernetes.io/component": "x"}}},
        "cluster.podLabels",
    ),
    "requests above limits": (
        {"cluster": {"scheduler": {"resources": {"requests": {"memory": "4Gi"}}}}},
        "cluster.scheduler.resources",
    ),
    "ServiceMonitor interval": (
        {
            "cluster": {
                "metrics": {"enabled": True, "force": True, "serviceMonitor": {"interval": "every minute"}}
            }
        },
        "cluster.metrics.serviceMonitor.interval",
    ),
    "image digest": ({"cluster": {"image": {"digest": "sha256:abc"}}}, "cluster.image.digest"),
    "database host with a path and query": (
        {
            "base": {
                "database": {
                    "type": "external",
                    "external": {
                        "host": "db.example.com/airflow?sslmode=disable",
                        "passwordSecret": {"name": "pw"},
                    },
                }
            }
        },
        "base.database.external.host",
    ),
    "Flower user name with a colon": (
        {"cluster": {"flower": {"enabled": True, "username": "ad:min"}}},
        "cluster.flower.username",
    ),
    "Elasticsearch host without a scheme": (
        {"cluster": {"logging": {"elasticsearch": {"enabled": True, "host": "es.example.com:9200"}}}},
        "cluster.logging.elasticsearch.host",
    ),
    "extraEnv overrides the executor": (
        {"cluster": {"extraEnv": [{"name": "AIRFLOW__CORE__EXECUTOR", "value": "LocalExecutor"}]}},
        "cluster.extraEnv[0]",
    ),
    "extraEnv overrides the database URL": (
        {"cluster": {"extraEnv": [{"name": "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "value": "sqlite://"}]}},
        "cluster.extraEnv[0]",
    ),
    "extraEnv overrides a chart variable": (
        {"cluster": {"extraEnv": [{"name": "CONNECTION_CHECK_MAX_COUNT", "value": "20"}]}},
        "cluster.extraEnv[0]",
    ),
    "LoadBalancer without TLS": (
        {"cluster": {"apiServer": {"service": {"type": "LoadBalancer"}}}},
        "cluster.apiServer.service.type",
    ),
    "NodePort without TLS": (
        {"cluster": {"apiServer": {"service": {"type": "NodePort"}}}},
        "cluster.apiServer.service.type",
    ),
    "Ingress without TLS": (
        {"cluster": {"apiServer": {"ingress": {"enabled": True, "host": "a.example.com"}}}},
        "cluster.apiServer.ingress.tls",
    ),
    "Flower Ingress without TLS": (
        {"cluster": {"flower": {"enabled": True, "ingress": {"enabled": True, "host": "f.example.com"}}}},
        "cluster.flower.ingress.tls",
    ),
    "Ingress without a host": (
        {"cluster": {"apiServer": {"ingress": {"enabled": True, "tls": {"secretName": "t"}}}}},
        "cluster.apiServer.ingress.host",
    ),
    "Ingress host an IP address": (
        {
            "cluster": {
                "apiServer": {"ingress": {"enabled": True, "host": "10.0.0.1", "tls": {"secretName": "t"}}}
            }
        },
        "cluster.apiServer.ingress.host",
    ),
    "Ingress with an issuer and a cluster issuer": (
        {
            "cluster": {
                "apiServer": {
                    "ingress": {
                        "enabled": True,
                        "host": "a.example.com",
                        "tls": {"issuer": "a", "clusterIssuer": "b"},
                    }
                }
            }
        },
        "cluster.apiServer.ingress.tls",
    ),
    "Ingress annotation the chart sets": (
        {
            "cluster": {
                "apiServer": {
                    "ingress": {
                        "enabled": True,
                        "host": "a.example.com",
                        "tls": {"issuer": "a"},
                        "annotations": {"cert-manager.io/issuer": "b"},
                    }
                }
            }
        },
        "cluster.apiServer.ingress.annotations",
    ),
    "HTTPRoute without a Gateway": (
        {"cluster": {"apiServer": {"httpRoute": {"enabled": True}}}},
        "cluster.apiServer.httpRoute.parentRefs",
    ),
    "HTTPRoute on every listener": (
        {"cluster": {"apiServer": {"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]}}}},
        "cluster.apiServer.httpRoute.parentRefs",
    ),
    "database TLS options twice": (
        {
            "base": {
                "database": {
                    "type": "external",
                    "external": {
                        "host": "db.example.com",
                        "passwordSecret": {"name": "db"},
                        "caSecret": "ca",
                        "query": "sslmode=require",
                    },
                }
            }
        },
        "base.database.external.query",
    ),
    "Redis CA without TLS": (
        {"cluster": {"redis": {"type": "external", "external": {"host": "r.example.com", "caSecret": "ca"}}}},
        "cluster.redis.external.caSecret",
    ),
    "admin password in values in the GitOps mode": (
        {"generateSecrets": False, "cluster": {"auth": {"admin": {"password": "secret"}}}},
        "cluster.auth.admin.password",
    ),
    "null cluster": ({"cluster": None}, "cluster"),
    "null section": ({"cluster": {"dags": {"git": None}}}, "cluster.dags"),
    "empty image tag": ({"cluster": {"image": {"tag": ""}}}, "cluster.image.tag"),
    "wrong shape": ({"cluster": {"image": "apache/airflow:3.3.2"}}, "cluster.image"),
    "credentials over http in the URL": (
        git(url="http://bot:token@git.example.com/d.git"),
        "cluster.dags.git.repos[0]",
    ),
    "Elasticsearch credentials over http": (
        {
            "cluster": {
                "logging": {
                    "elasticsearch": {
                        "enabled": True,
                        "host": "http://es.example.com:9200",
                        "credentialsSecret": "es",
                    }
                }
            }
        },
        "cluster.logging.elasticsearch",
    ),
    "OpenSearch credentials without TLS": (
        {
            "cluster": {
                "logging": {
                    "opensearch": {
                        "enabled": True,
                        "host": "os.example.com",
                        "useSsl": False,
                        "credentialsSecret": "os",
                    }
                }
            }
        },
        "cluster.logging.opensearch",
    ),
    "DAG folder over the log folder": (
        {"cluster": {"dags": {"path": "/opt/airflow/logs"}}},
        "cluster.dags.path",
    ),
    "DAG folder over the image's files": ({"cluster": {"dags": {"path": "/usr"}}}, "cluster.dags.path"),
    "log folder over the config file": (
        {"cluster": {"config": {"logging": {"base_log_folder": "/opt/airflow"}}}},
        "cluster.config.logging.base_log_folder",
    ),
    "log server on a git-sync port": (
        {**git(), "cluster": {**git()["cluster"], "config": {"logging": {"worker_log_server_port": 8100}}}},
        "cluster.config.logging.worker_log_server_port",
    ),
    "spread twice over one key": (
        {
            "cluster": {
                "placement": {
                    "topologySpreadConstraints": [
                        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                        {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                    ]
                }
            }
        },
        "cluster.placement.topologySpreadConstraints[1]",
    ),
    "toleration Exists with a value": (
        {"cluster": {"placement": {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}}},
        "cluster.placement.tolerations",
    ),
    "affinity operator": (
        {
            "cluster": {
                "placement": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {"matchExpressions": [{"key": "k", "operator": "Near", "values": ["v"]}]}
                                ]
                            }
                        }
                    }
                }
            }
        },
        "cluster.placement.affinity",
    ),
    "extended resource overcommitted": (
        {
            "cluster": {
                "workers": {
                    "resources": {
                        "requests": {"cpu": "1", "memory": "1Gi", "example.com/gpu": 1},
                        "limits": {"memory": "2Gi", "example.com/gpu": 2},
                    }
                }
            }
        },
        "cluster.workers.resources",
    ),
    "checksum annotation": (
        {"cluster": {"podAnnotations": {"checksum/config": "x"}}},
        "cluster.podAnnotations",
    ),
    "request above its limit by less than float precision (found by the fuzzer)": (
        {"cluster": {"workers": {"resources": ABOVE_BY_LESS_THAN_FLOAT_PRECISION}}},
        "cluster.workers.resources",
    ),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_bad_value_is_refused_naming_its_key(name, helm_major):
    values, key = EXAMPLES[name]
    outcome = judge(values, helm_major)
    assert outcome.refused, f"{outcome.kind}: {outcome.message}"
    assert outcome.names(key), outcome.message


@pytest.mark.parametrize(
    ("request_", "limit"),
    [("100m", "0.1"), ("1.50Gi", "1.5Gi"), ("82551198.141061921", "82551198.141061928"), ("007.5", "7.5")],
)
def test_a_request_equal_to_or_just_below_its_limit_renders(request_, limit, helm_major):
    """The other side of the rule: equal amounts spelled differently, and a request below its
    limit by less than float precision, are what the API server accepts."""
    resources = {"requests": {"memory": request_}, "limits": {"memory": limit}}
    outcome = judge({"cluster": {"workers": {"resources": resources}}}, helm_major)
    assert outcome.kind == "rendered", outcome.message


def test_the_release_name_must_start_with_a_letter(helm_major, tmp_path):
    from chart_tools.chart.render import RenderError, render

    with pytest.raises(RenderError, match=r"must start with a letter.*fullnameOverride"):
        render(helm_major=helm_major, release="1st")


# ------------------------------------------------------------ generated from the schema

# A valid element for each list whose items have string fields, and the values that use it.
ITEMS = {
    "cluster.dags.git.repos": (GIT, {"cluster.dags.mode": "gitSync"}),
    "cluster.metrics.exporter.extraMappings": (
        {"match": "a.b", "name": "a_b"},
        {"cluster.metrics.enabled": True},
    ),
    "cluster.metrics.exporter.overrideMappings": (
        {"match": "a.b", "name": "a_b"},
        {"cluster.metrics.enabled": True},
    ),
}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    return (
        SCHEMA["definitions"][ref.rsplit("/", 1)[-1]]
        if ref.startswith("#/definitions/") and "." not in ref.rsplit("/", 1)[-1]
        else node
    )


def string_fields(node: dict[str, Any] = SCHEMA, path: str = "") -> list[str]:
    """Paths of every string the schema lets users write: fields, map values (under a key
    `injected`) and fields of list items (`[0]`). Kubernetes' own types are left to the fuzzer."""
    node = _resolve(node)
    found: list[str] = []
    if "string" in (node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]):
        found.append(path)
    for key, child in node.get("properties", {}).items():
        if not child.get("$ref", "").startswith("#/definitions/io.k8s") and not child.get(
            "$ref", ""
        ).startswith("#/properties"):
            found += string_fields(child, f"{path}.{key}" if path else key)
    for child in [*node.get("patternProperties", {}).values(), node.get("additionalProperties")]:
        if isinstance(child, dict) and path != "cluster.config":
            found += string_fields(child, f"{path}.injected")
    if path == "cluster.config":
        found.append("cluster.config.core.injected")
    if isinstance(node.get("items"), dict) and path in ITEMS:
        found += string_fields(node["items"], f"{path}[0]")
    return found


def injected_values(path: str) -> dict[str, Any]:
    """Defaults with INJECTION at `path` (list items built from ITEMS)."""
    values: dict[str, Any] = {}
    head, _, rest = path.partition("[0]")
    if rest:
        item, extra = ITEMS[head]
        values = copy.deepcopy(nest(head, [{**item, rest.lstrip("."): INJECTION}]))
        for key, value in extra.items():
            _deep_set(values, key, value)
        return values
    return nest(path, INJECTION)


def _deep_set(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        values = values.setdefault(key, {})
    values[last] = value


STRING_FIELDS = string_fields()


def test_every_string_field_is_covered():
    """The walk finds the strings users write (a guard against the generator finding nothing)."""
    expected = {"fullnameOverride", "cluster.placement.priorityClassName", "cluster.dags.git.repos[0].url",
                "cluster.auth.admin.email", "cluster.config.core.injected", "cluster.podAnnotations.injected",
                "base.database.external.host", "cluster.logging.elasticsearch.frontend"}  # fmt: skip
    assert expected <= set(STRING_FIELDS)
    assert len(STRING_FIELDS) > 100


@pytest.mark.parametrize("path", STRING_FIELDS)
def test_injection_into_every_string_field(path, helm_major):
    """A newline, a YAML field, a flag, quotes and a template: refused naming the field, or kept
    inside its one value (then the render has zero findings and nothing injected)."""
    outcome = judge(injected_values(path), helm_major)
    assert outcome.kind in ("rendered", "schema", "chart"), f"{outcome.kind}: {outcome.message}"
    if outcome.refused:
        assert outcome.names(re.sub(r"\.injected$", "", path)), outcome.message


def object_paths(value: dict[str, Any], path: str = "") -> list[str]:
    found = []
    for key, child in value.items():
        here = f"{path}.{key}" if path else key
        if isinstance(child, dict) and child:
            found += [here, *object_paths(child, here)]
    return found


NULLABLE = {
    "cluster.config",
    "cluster.config.core",
    "cluster.config.logging",
    "cluster.config.api",
    "cluster.config.celery",
    "cluster.config.scheduler",
    "cluster.config.dag_processor",
    "cluster.config.workers",
}  # fmt: skip  (airflow.cfg sections: a null drops the section)


@pytest.mark.parametrize("path", [p for p in object_paths(defaults()) if p not in NULLABLE])
def test_a_null_section_is_a_schema_error(path, helm_major):
    outcome = judge(nest(path, None), helm_major)
    assert outcome.kind == "schema", f"{outcome.kind}: {outcome.message}"
    parent, _, key = path.rpartition(".")
    assert key in outcome.message and outcome.names(parent or key), outcome.message


def test_null_airflow_cfg_sections_drop_them(helm_major):
    outcome = judge({"cluster": {"config": {"celery": None, "api": None}}}, helm_major)
    assert outcome.kind == "rendered", outcome.message
    cfg = airflow_cfg(outcome.objects)
    assert "celery" not in cfg and "workers" not in cfg["api"]  # [api] keeps only the chart's port


# ------------------------------------------------------------ numbers render literally


def test_numbers_render_literally_everywhere(helm_major):
    big = 3_000_000
    values = {
        "cluster": {
            "config": {"core": {"parallelism": big, "ratio": 0.25, "flag": True}},
            "scheduler": {"replicas": 1},
            "workers": {"replicas": 2_147_483_647, "terminationGracePeriodSeconds": big},
            "migrations": {"waitTimeoutSeconds": big},
            "kubernetes": {"podCreationBatchSize": big, "resourceQuota": {"enabled": True, "pods": big}},
            "executor": "CeleryExecutor,KubernetesExecutor",
            "redis": {
                "type": "external",
                "external": {"host": "redis.example.com", "port": 65535, "database": big},
            },
            "dags": {"mode": "gitSync", "git": {"maxFailures": big, "repos": [{**GIT, "depth": big}]}},
        }
    }
    outcome = judge(values, helm_major)
    assert outcome.kind == "rendered", outcome.message
    objects = outcome.objects
    core = airflow_cfg(objects)["core"]
    assert (core["parallelism"], core["ratio"], core["flag"]) == ("3000000", "0.25", "True")
    assert airflow_cfg(objects)["kubernetes_executor"]["worker_pods_creation_batch_size"] == "3000000"
    worker = deployment(objects, "worker")
    assert worker["spec"]["replicas"] == 2_147_483_647
    assert pod_of(worker)["terminationGracePeriodSeconds"] == big
    args = container(worker, "git-sync-d")["args"]
    assert "--depth=3000000" in args and "--max-failures=3000000" in args
    assert container(worker, "wait-for-migrations")["args"][-1] == "3000000"
    broker = {e["name"]: e.get("value") for e in container(worker, "worker")["env"]}[
        "AIRFLOW__CELERY__BROKER_URL"
    ]
    assert broker.endswith("redis.example.com:65535/3000000")
    assert find(objects, "ResourceQuota", "-pods")["spec"]["hard"]["pods"] == "3000000"
    text = repr(objects)
    assert "e+0" not in text and "e+1" not in text
