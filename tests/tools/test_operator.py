"""The operator converter: the old operator's resources, shaped exactly as its Go types decode them.

The fixtures under tests/data/operator are written from the operator's Go API types (each line
names the Go field it sets) and together set every field of GO_TYPES; the expected values below
are written from what the operator did with each field, not from the converter's output.
"""

import copy
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from chart_tools import CHART, ROOT
from chart_tools.chart.operator import (
    CHART_DERIVED,
    CHART_SECRETS,
    Conversion,
    Converter,
    combined,
    convert_files,
    load_resource,
    split,
)
from chart_tools.chart.operator_types import GO_TYPES, K8S_TYPES, OUTPUT_ONLY, SCALAR_WORDS, used_fields
from chart_tools.chart.render import render
from chart_tools.chart.validate import validate
from chart_tools.chart.values import ValuesError, defaults, schema_errors
from tests.helpers import airflow_cfg

DATA = ROOT / "tests" / "data" / "operator"
BASES = sorted(p.stem for p in DATA.glob("base-*.yaml"))
CLUSTERS = sorted(p.stem for p in DATA.glob("cluster-*.yaml"))
FIXTURES = sorted(DATA.glob("*.yaml"))
HEAD = "apiVersion: airflow.k8s.io/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}}}\n"
BASE_HEAD = HEAD.format(kind="AirflowBase", name="b")
CHART_VALUES = defaults()


def convert(base: str, cluster: str) -> Conversion:
    return convert_files(DATA / f"{base}.yaml", DATA / f"{cluster}.yaml")


def renders_clean(values, tmp_path, helm_major=3, release="airflow"):
    path = tmp_path / f"{release}.yaml"
    path.write_text(yaml.safe_dump(values))
    assert not schema_errors(values)
    findings = validate(render([path], helm_major=helm_major, release=release))
    assert not findings, "\n".join(map(str, findings))


def assert_warned(conv: Conversion, *fragments: str) -> None:
    text = "\n".join(conv.warnings)
    missing = [f for f in fragments if f not in text]
    assert not missing, f"no warning with {missing} in:\n{text}"


def resources(dotted: str, requests: dict[str, str], limits: dict[str, str]) -> dict[str, Any]:
    """The operator's requests and limits over the chart's defaults for that container (every
    container keeps a cpu and memory request and a memory limit)."""
    default: Any = CHART_VALUES
    for key in dotted.split("."):
        default = default[key]
    return {"requests": {**default["requests"], **requests}, "limits": {**default["limits"], **limits}}


# ---------------------------------------------------------------- full resources


def test_postgres_base_and_celery_cluster(tmp_path, helm_major):
    conv = convert("base-postgres", "cluster-celery")
    values = combined(conv)
    base, cluster = values["base"], values["cluster"]
    assert values["commonLabels"] == {"team": "data"}  # AirflowBaseSpec.Labels
    assert base == {
        "database": {
            "type": "postgres",
            "postgres": {
                "persistence": {"size": "20Gi", "storageClass": "standard"},
                # requests as given, the chart's default memory limit replaced by the given one
                "resources": resources(
                    "base.database.postgres.resources", {"cpu": "200m", "memory": "512Mi"}, {"memory": "2Gi"}
                ),
                "database": "af_db",  # SchedulerSpec.DBName
                "user": "af_user",  # SchedulerSpec.DBUser
            },
        },
        "storage": {"enabled": True, "size": "50Gi", "storageClass": "standard-rwo"},
    }
    assert cluster["executor"] == "CeleryExecutor"
    assert cluster["placement"]["nodeSelector"] == {"pool": "airflow"}
    assert cluster["placement"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert cluster["podAnnotations"] == {"prometheus.io/scrape": "false"}
    assert cluster["podLabels"] == {"team": "data"}
    # AIRFLOW__SECTION__KEY variables are airflow.cfg options; EXECUTOR and FERNET_KEY are the chart's
    assert cluster["config"] == {"core": {"parallelism": "64"}, "scheduler": {"dag_dir_list_interval": "60"}}
    assert cluster["extraEnv"] == [
        {"name": "MY_SETTING", "value": "on"},
        {"name": "SMTP_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "smtp", "key": "password"}}},
        {"name": "SLACK_TOKEN", "valueFrom": {"secretKeyRef": {"name": "slack", "key": "token"}}},
    ]
    redis = cluster["redis"]["embedded"]
    assert redis["persistence"] == {"enabled": True, "size": "2Gi", "storageClass": "ssd"}
    # a limit without a request requests the limit (Kubernetes' rule the operator's pods ran under)
    assert redis["resources"] == resources(
        "cluster.redis.embedded.resources", {"memory": "512Mi"}, {"memory": "512Mi"}
    )
    assert cluster["scheduler"]["resources"] == resources("cluster.scheduler.resources", {"cpu": "1"}, {})
    assert cluster["workers"] == {
        "replicas": 3,
        "resources": resources("cluster.workers.resources", {"memory": "4Gi"}, {"memory": "4Gi"}),
    }
    assert cluster["apiServer"]["replicas"] == 2
    # a request above the chart's default limit (1Gi) raises the limit with it, with a warning
    assert cluster["apiServer"]["resources"] == resources(
        "cluster.apiServer.resources", {"memory": "1500Mi"}, {"memory": "1500Mi"}
    )
    assert_warned(conv, "limits.memory 1Gi is raised to the request 1500Mi")
    assert cluster["flower"]["enabled"] is True
    assert cluster["flower"]["resources"] == resources("cluster.flower.resources", {"cpu": "100m"}, {})
    assert cluster["dags"] == {
        "mode": "gitSync",  # once: false
        "git": {"repos": [{"name": "dags", "url": "https://github.com/example/dags.git", "ref": "0a1b2c3",
                           "subPath": "dags", "credentialsSecret": "git-creds"}]},
    }  # fmt: skip
    assert_warned(
        conv,
        "spec.postgres: image postgres:9.6 is replaced by postgres:",
        "spec.postgres.volumeClaimTemplate.metadata: has no equivalent",
        "spec.postgres.volumeClaimTemplate.spec.accessModes: the chart chooses",
        "spec.postgres.volumeClaimTemplate.spec.volumeMode: has no equivalent",
        "spec.postgres.Options: server options max_connections=200, shared_buffers=256MB",
        "spec.storage: the chart runs no NFS server",
        "spec.storage.resources: resources of the NFS server have no equivalent",
        "spec.storage: image k8s.gcr.io/volume-nfs:0.8",
        "spec.nodeSelector: has no equivalent for the base's database pod",
        "spec.affinity: has no equivalent for the base's database pod",
        "spec.annotations: pod annotations have no equivalent",
        "spec.config.airflow: options were written for Airflow 1.10",
        "AIRFLOW__CORE__EXECUTOR: is set by the chart",
        "AIRFLOW__CORE__FERNET_KEY: is a secret the chart generates",
        "spec.redis: image redis:4.0 is replaced",
        "spec.redis.additionalargs: redis-server arguments '--maxmemory 200mb",
        "spec.scheduler: image gcr.io/airflow-operator/airflow:1.10.2 is replaced by apache/airflow:",
        "spec.flower.replicas: 2: the chart runs one Flower",
        "branch main is not used",
        "Secret git-creds must hold keys username: bot and password",
    )
    renders_clean(values, tmp_path, helm_major)


def test_mysql_base_and_kubernetes_cluster(tmp_path):
    conv = convert("base-mysql", "cluster-kubernetes")
    values = combined(conv)
    assert values["base"]["database"] == {
        "type": "mysql",
        "mysql": {
            "persistence": {"size": "30Gi", "storageClass": "fast"},
            # limits only: Kubernetes requested the limits
            "resources": resources(
                "base.database.mysql.resources", {"cpu": "2", "memory": "3Gi"}, {"cpu": "2", "memory": "3Gi"}
            ),
            "database": "k8s_db",
            "user": "k8s_user",
        },
    }
    cluster = values["cluster"]
    assert cluster["executor"] == "KubernetesExecutor"
    assert cluster["kubernetes"] == {
        "resources": resources("cluster.kubernetes.resources", {"memory": "768Mi"}, {})
    }
    assert cluster["apiServer"] == {"replicas": 1}
    assert not {"flower", "redis", "workers"} & set(cluster)
    assert cluster["dags"] == {
        "mode": "gitInit",  # once: true
        "git": {"repos": [{"name": "dags", "url": "git@github.com:example/dags.git", "ref": "main",
                           "subPath": "airflow/dags", "credentialsSecret": "deploy-key"}]},
    }  # fmt: skip
    assert_warned(
        conv,
        "image mysql:5.7 is replaced by mysql:",
        "spec.mysql.replicas: 2: the embedded mysql is a single instance",
        "spec.mysql.operator: true",
        "spec.mysql.Options: server options max_connections=300",
        "spec.mysql.backup: (schedule '0 2 * * *' to s3 storage with Secret backup-s3 config "
        "endpoint=https://s3.example.com, region=us-east-1, bucket=airflow-backups) has no equivalent",
        "spec.mysql.backupVolumeClaimTemplate: (the backup staging claim) has no equivalent",
        "spec.redis: only used with the Celery executor",
        "spec.worker.replicas: the Kubernetes executor starts one pod per task",
        "spec.flower: Flower needs the Celery executor",
        "spec.airflowbase.name: other-base differs from the AirflowBase given (my-base)",
        "Secret deploy-key must hold key ssh-privatekey",
        "then set cluster.dags.git.knownHosts",
    )
    # SSH needs host keys: the converted file says so and the chart refuses to render without them
    cluster["dags"]["git"]["knownHosts"] = (
        "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    )
    renders_clean(values, tmp_path)


def test_sqlproxy_base_and_a_cluster_from_kubectl(tmp_path):
    """Both resources as `kubectl get -o yaml` returns them: metadata and status are ignored."""
    conv = convert("base-sqlproxy", "cluster-kubectl")
    values = combined(conv)
    assert values["base"] == {
        "database": {
            "type": "sqlproxy",
            "sqlproxy": {
                "instance": "my-project:us-central1:airflow-db",
                "engine": "postgres",
                "passwordSecret": {"name": "pc-live-db-password"},
                "resources": resources(
                    "base.database.sqlproxy.resources", {"cpu": "50m", "memory": "64Mi"}, {}
                ),
                "database": "qkzp3v0a8m2xw1rt",
                "user": "hb7c1n4d9e0fy2su",
            },
        }
    }
    assert values["cluster"] == {
        "executor": "CeleryExecutor",
        "redis": {
            "type": "external",
            "external": {
                "host": "redis.example.internal",
                "port": 6380,  # RedisSpec.RedisPort is a string
                "passwordSecret": {"name": "pc-live-redis-password"},
            },
        },
        "apiServer": {"replicas": 1},
        "workers": {"replicas": 1},
        "dags": {"mode": "gitSync", "git": {"repos": [
            {"name": "dags", "url": "https://github.com/example/dags.git", "ref": "master"}]}},
    }  # fmt: skip
    assert_warned(
        conv,
        "create Secret pc-live-db-password (key password)",
        "airflow-sqlproxy:1.8.0 is replaced by the Cloud SQL Auth Proxy v2 image",
        "spec.redis.redisPassword: create Secret pc-live-redis-password",
        "spec.redis: image, version describe the embedded Redis",
    )
    assert not any("metadata" in w or "status" in w for w in conv.warnings)
    renders_clean(values, tmp_path)


def test_memorystore_is_an_external_redis_to_create(tmp_path):
    conv = convert("base-postgres", "cluster-memorystore")
    cluster = combined(conv)["cluster"]
    # the host in memoryStore.status is the operator's instance, deleted with the AirflowCluster
    assert cluster["redis"] == {"type": "external", "external": {"host": "REPLACE-WITH-MEMORYSTORE-HOST"}}
    assert cluster["workers"] == {"replicas": 2}
    assert_warned(
        conv,
        "spec.memoryStore: becomes an external Redis: the operator's Memorystore instance ms-cluster-redis "
        "in my-project/us-central1 is deleted with the AirflowCluster, so create one with locationId "
        "us-central1-a, alternativeLocationId us-central1-f, authorizedNetwork "
        "projects/my-project/global/networks/default, "
        "memorySizeGb 5, tier STANDARD_HA, redisVersion REDIS_4_0, maxMemoryPolicy allkeys-lru, "
        "notifyKeyspaceEvents E, redisConfigs activedefrag=yes and set cluster.redis.external.host",
        "spec.redis: not used when spec.memoryStore is set",
    )
    assert not any("10.0.0.3" in w for w in conv.warnings)
    renders_clean(combined(conv), tmp_path)


def test_nfspv_is_a_dag_claim_and_s3_and_gcs_have_no_mode(tmp_path):
    conv = convert("base-mysql", "cluster-nfspv")
    cluster = combined(conv)["cluster"]
    assert cluster["executor"] == "LocalExecutor"  # Sequential
    assert "workers" not in cluster
    assert cluster["dags"] == {
        "mode": "persistentVolume",
        "persistentVolume": {"size": "5Gi", "storageClass": "filestore", "accessModes": ["ReadWriteMany"],
                             "subPath": "team-a/dags"},
    }  # fmt: skip
    assert_warned(
        conv,
        "Sequential becomes LocalExecutor",
        "spec.worker: no workers with the Local executor",
        "spec.dags.storage: DAGs copied from s3 storage (config endpoint=https://s3.example.com, "
        "region=eu-west-1, bucket=team-a-dags) with Secret dags-s3 have no equivalent mode",
        "spec.dags.gcs: DAGs from a GCS bucket (legacy-dags) have no equivalent mode",
        "spec.dags.nfspv.metadata: has no equivalent",
        "spec.dags.nfspv.spec.selector: has no equivalent",
        "copy your DAG files into it; to mount the existing claim airflow-dags instead",
    )
    renders_clean(combined(conv), tmp_path)


def test_every_fixture_pair_converts_to_values_the_schema_accepts():
    for base in BASES:
        for cluster in CLUSTERS:
            values = combined(convert(base, cluster))
            assert not schema_errors(values), (base, cluster)


def test_split_gives_a_base_release_and_a_cluster_on_it(tmp_path, helm_major):
    base, cluster = split(convert("base-postgres", "cluster-celery"), "pg-base")
    assert base["cluster"] == {"enabled": False}
    assert cluster["base"] == {
        "enabled": False,
        "database": {"type": "postgres"},
        "storage": {"enabled": True},
    }
    assert cluster["cluster"]["airflowbase"] == {"name": "pg-base"}
    renders_clean(base, tmp_path, helm_major, release="pg-base")
    renders_clean(cluster, tmp_path, helm_major, release="pc-cluster")


# ---------------------------------------------------------------- single fields


def cluster_file(tmp_path, spec: str, name: str = "c") -> Any:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HEAD.format(kind="AirflowCluster", name=name) + f"spec: {spec}\n")
    return path


def convert_cluster(tmp_path, spec: str, base: str = "base-postgres") -> Conversion:
    return convert_files(DATA / f"{base}.yaml", cluster_file(tmp_path, spec))


def test_git_wins_over_nfspv(tmp_path):
    conv = convert_cluster(
        tmp_path, "{dags: {git: {repo: 'https://x.example/d.git'}, nfspv: {spec: {storageClassName: nfs}}}}"
    )
    dags = combined(conv)["cluster"]["dags"]
    assert dags["mode"] == "gitSync" and "persistentVolume" not in dags
    assert dags["git"]["repos"][0]["ref"] == "master"  # the operator's default branch
    assert_warned(conv, "spec.dags.nfspv: git wins")


def test_a_cluster_without_executor_is_local(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(HEAD.format(kind="AirflowCluster", name="c"))
    assert combined(convert_files(DATA / "base-postgres.yaml", path))["cluster"] == {
        "executor": "LocalExecutor"
    }


def test_a_sqlproxy_without_type_is_mysql(tmp_path):
    """The operator treated every type but postgres as MySQL (port 3306)."""
    path = tmp_path / "b.yaml"
    path.write_text(BASE_HEAD + "spec: {sqlproxy: {project: p, region: r, instance: i}}\n")
    conv = convert_files(path, cluster_file(tmp_path, "{}"))
    assert combined(conv)["base"]["database"]["sqlproxy"]["engine"] == "mysql"


def test_an_external_redis_without_port_keeps_the_chart_default(tmp_path):
    conv = convert_cluster(tmp_path, "{executor: Celery, redis: {redisHost: r.example}}")
    assert combined(conv)["cluster"]["redis"] == {"type": "external", "external": {"host": "r.example"}}


def test_a_request_above_a_default_limit_raises_the_limit(tmp_path):
    conv = convert_cluster(tmp_path, "{executor: Celery, worker: {resources: {requests: {memory: 64Gi}}}}")
    assert combined(conv)["cluster"]["workers"]["resources"]["limits"]["memory"] == "64Gi"
    default = CHART_VALUES["cluster"]["workers"]["resources"]["limits"]["memory"]
    assert_warned(conv, f"the chart's default limits.memory {default} is raised to the request 64Gi")


def test_config_options_airflow_cfg_cannot_hold_stay_environment_variables(tmp_path):
    conv = convert_cluster(
        tmp_path,
        "{config: {airflow: {AIRFLOW__CORE__LOG_FORMAT: '%(asctime)s %(message)s', "
        'AIRFLOW__CORE__MOTD: "two\\nlines", AIRFLOW__CORE__Bad-Name: x}}}',
    )
    cluster = combined(conv)["cluster"]
    assert cluster["config"] == {"core": {"log_format": "%%(asctime)s %%(message)s"}}  # % doubled in the file
    assert cluster["extraEnv"] == [
        {"name": "AIRFLOW__CORE__MOTD", "value": "two\nlines"},
        {"name": "AIRFLOW__CORE__Bad-Name", "value": "x"},
    ]


def test_the_options_the_chart_owns_are_the_ones_the_converter_drops(tmp_path):
    """CHART_DERIVED and CHART_SECRETS restate chart facts: the options the chart writes itself
    (with the Kubernetes executor and git DAGs, which the converter can produce) and the chart's
    list of options that only come from Secrets. Airflow 2's names stay dropped as well."""
    values = {
        "executor": "CeleryExecutor,KubernetesExecutor",
        "dags": {"mode": "gitSync", "git": {"repos": [{"name": "d", "url": "https://example.com/d.git"}]}},
    }
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"cluster": values}))
    cfg = airflow_cfg(render([path]))
    written = {(section, key) for section in cfg.sections() for key in cfg[section]}
    defaults = {(section, key) for section, keys in CHART_VALUES["cluster"]["config"].items() for key in keys}
    assert written - defaults == CHART_DERIVED
    template = (CHART / "templates" / "config" / "_config.tpl").read_text()
    reserved = re.search(r'define "airflow.config.reserved" -}}\n(.*?){{- end', template, re.S)[1]
    chart_secrets = {(section, key) for section, keys in yaml.safe_load(reserved).items() for key in keys}
    legacy = {("core", "sql_alchemy_conn"), ("webserver", "secret_key")}
    assert chart_secrets | legacy == CHART_SECRETS


def test_untagged_keys_match_in_any_case(tmp_path):
    conv = convert_cluster(tmp_path, "{config: {airflowsecret: [{ENV: A, sEcReT: s, field: f}]}}")
    assert combined(conv)["cluster"]["extraEnv"] == [
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "f"}}}
    ]
    path = tmp_path / "b.yaml"
    path.write_text(BASE_HEAD + "spec: {postgres: {options: {a: b}}}\n")
    assert_warned(
        convert_files(path, cluster_file(tmp_path, "{}")), "spec.postgres.Options: server options a=b"
    )


# ---------------------------------------------------------------- errors

# (spec of an AirflowCluster named c, start of the one-line error); base: base-postgres
CLUSTER_ERRORS = {
    "string for an object reference": (
        "{dags: {git: {repo: r, cred: git-token}}}",
        "AirflowCluster c: spec.dags.git.cred: expected an object reference {name: ...} "
        "(corev1.LocalObjectReference), got a string",
    ),
    "string for the base reference": (
        "{airflowbase: pg-base}",
        "AirflowCluster c: spec.airflowbase: expected an object reference {name: ...}",
    ),
    "object for a string": (
        "{executor: {name: Celery}}",
        "AirflowCluster c: spec.executor: expected a string (Go string), got an object",
    ),
    "list for a string": (
        "{redis: {additionalargs: [--maxmemory, 200mb]}}",
        "AirflowCluster c: spec.redis.additionalargs: expected a string (Go string), got a list",
    ),
    "replicas two": (
        "{executor: Celery, worker: {replicas: two}}",
        "AirflowCluster c: spec.worker.replicas: expected an integer (Go int32), got a string",
    ),
    "int32 overflow": (
        "{executor: Celery, worker: {replicas: 3000000000}}",
        "AirflowCluster c: spec.worker.replicas: 3000000000 is out of range for Go int32 "
        "(-2147483648 to 2147483647)",
    ),
    "negative replicas": ("{ui: {replicas: -1}}", "AirflowCluster c: spec.ui.replicas: -1 is negative"),
    "redisPort not a number": (
        "{executor: Celery, redis: {redisHost: h, redisPort: abc}}",
        "AirflowCluster c: spec.redis.redisPort: 'abc' is not a port number (1-65535)",
    ),
    "redisPort out of range": (
        "{executor: Celery, redis: {redisHost: h, redisPort: '70000'}}",
        "AirflowCluster c: spec.redis.redisPort: '70000' is not a port number",
    ),
    "redisPort unquoted": (
        "{redis: {redisPort: 6379}}",
        "AirflowCluster c: spec.redis.redisPort: expected a string (Go string), got an integer; quote it",
    ),
    "bool as a string": (
        "{dags: {git: {repo: r, once: 'yes'}}}",
        "AirflowCluster c: spec.dags.git.once: expected true or false (Go bool), got a string",
    ),
    "list for a map": (
        "{nodeSelector: [pool, airflow]}",
        "AirflowCluster c: spec.nodeSelector: expected a map of strings (Go map[string]string), got a list",
    ),
    "number in a map of strings": (
        "{labels: {tier: 3}}",
        "AirflowCluster c: spec.labels.tier: expected a string (Go string), got an integer; quote it",
    ),
    "object for a list": (
        "{config: {airflowsecret: {Env: A}}}",
        "AirflowCluster c: spec.config.airflowsecret: expected a list ([]SecretEnv), got an object",
    ),
    "unknown field in the spec": (
        "{exector: Celery}",
        "AirflowCluster c: spec.exector is not a field of AirflowClusterSpec",
    ),
    "unknown field in a component": (
        "{worker: {replicaz: 2}}",
        "AirflowCluster c: spec.worker.replicaz is not a field of WorkerSpec",
    ),
    "unknown field in git": (
        "{dags: {git: {repo: r, brnch: main}}}",
        "AirflowCluster c: spec.dags.git.brnch is not a field of GitSpec",
    ),
    "unknown field in a list item": (
        "{config: {airflowsecret: [{Env: A, Secret: s, Field: f, Key: k}]}}",
        "AirflowCluster c: spec.config.airflowsecret[0].Key is not a field of SecretEnv",
    ),
    "unknown field in the memoryStore status": (
        "{memoryStore: {status: {hostname: x}}}",
        "AirflowCluster c: spec.memoryStore.status.hostname is not a field of MemoryStoreStatus",
    ),
    "unknown field in a claim": (
        "{dags: {nfspv: {spec: {storageClass: nfs}}}}",
        "AirflowCluster c: spec.dags.nfspv.spec.storageClass is not a field of "
        "corev1.PersistentVolumeClaimSpec",
    ),
    "unknown field in an affinity": (
        "{affinity: {nodeAffinty: {}}}",
        "AirflowCluster c: spec.affinity.nodeAffinty is not a field of corev1.Affinity",
    ),
    "wrong case of a tagged field": (
        "{nodeselector: {a: b}}",
        "AirflowCluster c: spec.nodeselector is not a field of AirflowClusterSpec (the field is spelled "
        "nodeSelector)",
    ),
    "list in resources": (
        "{worker: {resources: {limits: [1]}}}",
        "AirflowCluster c: spec.worker.resources.limits: expected an object",
    ),
    "not a quantity": (
        "{worker: {resources: {limits: {memory: lots}}}}",
        "AirflowCluster c: spec.worker.resources.limits.memory: 'lots' is not a Kubernetes quantity",
    ),
    "request above the given limit": (
        "{executor: Celery, worker: {resources: {requests: {memory: 4Gi}, limits: {memory: 2Gi}}}}",
        "AirflowCluster c: spec.worker.resources: requests.memory 4Gi exceeds limits.memory 2Gi",
    ),
    "unknown executor": (
        "{executor: Foo}",
        "AirflowCluster c: spec.executor 'Foo' is not one of Local, Sequential, Celery, Kubernetes",
    ),
    "git without repo": ("{dags: {git: {branch: main}}}", "AirflowCluster c: spec.dags.git.repo is required"),
    "cred without name": (
        "{dags: {git: {repo: r, cred: {}}}}",
        "AirflowCluster c: spec.dags.git.cred.name is required",
    ),
    "secret env without field": (
        "{config: {airflowsecret: [{Env: A, Secret: s}]}}",
        "AirflowCluster c: spec.config.airflowsecret[0] needs Env, Secret and Field",
    ),
    "same field twice": (
        "{config: {airflowsecret: [{Env: A, env: B, Secret: s, Field: f}]}}",
        "AirflowCluster c: spec.config.airflowsecret[0].env: SecretEnv.Env is given twice",
    ),
    "access mode the chart lacks": (
        "{dags: {nfspv: {spec: {accessModes: [ReadWriteFew]}}}}",
        "the converted values do not pass the chart's schema: cluster.dags.persistentVolume.accessModes[0]",
    ),
}


@pytest.mark.parametrize("case", CLUSTER_ERRORS)
def test_a_wrong_cluster_is_a_one_line_error(case, tmp_path):
    spec, message = CLUSTER_ERRORS[case]
    with pytest.raises(ValuesError) as err:
        convert_cluster(tmp_path, spec)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


# (whole AirflowBase document, start of the one-line error); cluster: cluster-celery
BASE_ERRORS = {
    "wrong kind": (
        HEAD.format(kind="AirflowCluster", name="b"),
        "AirflowBase b: expected apiVersion airflow.k8s.io/v1alpha1, kind AirflowBase",
    ),
    "no name": (
        "apiVersion: airflow.k8s.io/v1alpha1\nkind: AirflowBase\nspec: {postgres: {}}\n",
        "AirflowBase (unnamed): metadata.name is required",
    ),
    "unknown top-level field": (
        BASE_HEAD + "specs: {}\n",
        "AirflowBase b: specs is not a field of AirflowBase",
    ),
    "unknown field": (
        BASE_HEAD + "spec: {postgres: {}, mysqll: {}}\n",
        "AirflowBase b: spec.mysqll is not a field of AirflowBaseSpec",
    ),
    "two engines": (
        BASE_HEAD + "spec: {postgres: {}, mysql: {}}\n",
        "AirflowBase b: spec needs exactly one of mysql, postgres, sqlproxy (found mysql, postgres)",
    ),
    "proxy without project": (
        BASE_HEAD + "spec: {sqlproxy: {region: r, instance: i}}\n",
        "AirflowBase b: spec.sqlproxy.project is required",
    ),
    "proxy type": (
        HEAD.format(kind="AirflowBase", name="b")
        + "spec: {sqlproxy: {project: p, region: r, instance: i, type: oracle}}\n",
        "AirflowBase b: spec.sqlproxy.type 'oracle' is not one of mysql, postgres",
    ),
    "unquoted version": (
        BASE_HEAD + "spec: {postgres: {version: 9.6}}\n",
        "AirflowBase b: spec.postgres.version: expected a string (Go string), got a number; quote it",
    ),
    "string for the backup secret": (
        HEAD.format(kind="AirflowBase", name="b")
        + "spec: {mysql: {backup: {storage: {secretRef: s3-creds}}}}\n",
        "AirflowBase b: spec.mysql.backup.storage.secretRef: expected an object reference",
    ),
    "claim of the wrong shape": (
        HEAD.format(kind="AirflowBase", name="b")
        + "spec: {postgres: {volumeClaimTemplate: {spec: {accessModes: ReadWriteOnce}}}}\n",
        "AirflowBase b: spec.postgres.volumeClaimTemplate.spec.accessModes: expected a list",
    ),
    "metadata labels": (
        "apiVersion: airflow.k8s.io/v1alpha1\nkind: AirflowBase\nmetadata: {name: b, labels: [a]}\n",
        "AirflowBase b: metadata.labels: expected an object",
    ),
    "not a mapping": ("- a\n", "AirflowBase: not a YAML mapping"),
}


@pytest.mark.parametrize("case", BASE_ERRORS)
def test_a_wrong_base_is_a_one_line_error(case, tmp_path):
    text, message = BASE_ERRORS[case]
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(ValuesError) as err:
        convert_files(tmp_path / "b.yaml", DATA / "cluster-celery.yaml")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_status_is_ignored_in_any_shape_and_timestamps_stay_strings(tmp_path):
    (tmp_path / "b.yaml").write_text(
        "apiVersion: airflow.k8s.io/v1alpha1\nkind: AirflowBase\n"
        "metadata: {name: b, creationTimestamp: 2019-03-05T18:45:55Z}\n"
        "spec: {postgres: {}}\nstatus: {anything: [1, {x: y}]}\n"
    )
    conv = convert_files(tmp_path / "b.yaml", DATA / "cluster-celery.yaml")
    assert combined(conv)["base"]["database"]["type"] == "postgres"


MUTATIONS = [None, "x", 7, -1, 2**40, 1.5, True, [], ["x"], {}, {"name": "x"}, "<deleted>"]


def field_paths(value: Any, go_type: str, path: tuple = ()) -> list[tuple]:
    """Paths of every value inside the operator's own structs (not inside Kubernetes types)."""
    base = go_type.removeprefix("*")
    if value is None or base in K8S_TYPES or (base in SCALAR_WORDS and base != "map[string]string"):
        return []
    if base.removeprefix("[]") in OUTPUT_ONLY:
        return []
    if base.startswith("[]"):
        return [
            p for i, item in enumerate(value) for p in [(*path, i), *field_paths(item, base[2:], (*path, i))]
        ]
    if base == "map[string]string":
        return [(*path, key) for key in value]
    found = []
    for key, item in value.items():
        name = next(n for n in GO_TYPES[base] if n.lower() == key.lower())
        found += [(*path, key), *field_paths(item, GO_TYPES[base][name][1], (*path, key))]
    return found


def mutated(doc: Any, path: tuple, replacement: Any) -> Any:
    doc = copy.deepcopy(doc)
    *parents, last = path
    target = doc
    for key in parents:
        target = target[key]
    if replacement == "<deleted>":
        del target[last]
    else:
        target[last] = replacement
    return doc


@pytest.mark.parametrize("fixture", [p.stem for p in FIXTURES])
def test_no_input_shape_escapes_as_a_traceback(fixture):
    """Every field of every fixture replaced by values of every shape: the converter either
    converts or raises a ValuesError, never a TypeError, KeyError or AttributeError."""
    kind = "AirflowBase" if fixture.startswith("base-") else "AirflowCluster"
    doc = load_resource(DATA / f"{fixture}.yaml", kind)
    other = load_resource(DATA / ("cluster-celery.yaml" if kind == "AirflowBase" else "base-postgres.yaml"),
                          "AirflowCluster" if kind == "AirflowBase" else "AirflowBase")  # fmt: skip
    for path in field_paths(doc, kind):
        for replacement in MUTATIONS:
            changed = mutated(doc, path, replacement)
            pair = (changed, other) if kind == "AirflowBase" else (other, changed)
            try:
                schema_errors(combined(Converter(*pair).convert()))
            except ValuesError as err:
                assert "\n" not in str(err)


# ---------------------------------------------------------------- fixtures and docs follow the types


def test_the_fixtures_set_every_field_of_the_operators_types():
    used: set[tuple[str, str]] = set()
    for path in FIXTURES:
        kind = "AirflowBase" if path.name.startswith("base-") else "AirflowCluster"
        used |= used_fields(load_resource(path, kind), kind)
    declared = {(struct, key) for struct, fields in GO_TYPES.items() for key in fields}
    assert sorted(declared - used) == []


COMMENT = re.compile(r"#\s+(?P<name>[\w.]+)\s+\((?P<type>[^)]*)\)")


def test_every_fixture_line_names_the_go_field_it_sets():
    """Each line carries a comment; one naming an operator struct's field names it correctly."""
    go_fields = {(s, go): t for s, fields in GO_TYPES.items() for go, t in fields.values()}
    for path in FIXTURES:
        block = None  # indentation of a literal block scalar's key: its lines are text, not YAML
        for number, line in enumerate(path.read_text().splitlines(), 1):
            indent = len(line) - len(line.lstrip())
            if block is not None and indent > block:
                continue
            block = indent if re.search(r":\s*\|\S*\s*(#.*)?$", line) else None
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = f"{path.name}:{number}"
            assert " # " in line, f"{where}: no comment naming the Go field"
            for match in COMMENT.finditer(line):
                struct, _, go_field = match["name"].partition(".")
                if struct in GO_TYPES:
                    assert go_fields.get((struct, go_field)) == match["type"], f"{where}: {match[0]}"


ROW = re.compile(r"^\| `(?P<struct>\w+)` \| `(?P<key>\w+)` \| `(?P<go>\w+)` \(`(?P<type>[^`]+)`\) \|")


def test_the_docs_have_one_row_per_field():
    rows = [
        m.groups()
        for line in (ROOT / "docs" / "operator.md").read_text().splitlines()
        if (m := ROW.match(line))
    ]
    declared = [(s, key, go, t) for s, fields in GO_TYPES.items() for key, (go, t) in fields.items()]
    assert sorted(rows) == sorted(declared)


# ---------------------------------------------------------------- command line


def cli(*args):
    return subprocess.run([sys.executable, "-m", "chart_tools.cli", *args], capture_output=True, text=True)


def test_cli_prints_one_file_and_warnings_apart(tmp_path):
    args = ["values", "from-operator", str(DATA / "base-postgres.yaml"), str(DATA / "cluster-celery.yaml")]
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["cluster"]["executor"] == "CeleryExecutor"
    assert all(line.startswith("warning: ") for line in done.stderr.splitlines())
    out = tmp_path / "split"
    assert cli(*args, "--split", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["base-values.yaml", "cluster-values.yaml"]
    again = cli(*args, "--split", str(out))  # nothing lost: existing files are kept
    assert again.returncode == 2 and "exists; pass --force" in again.stderr


@pytest.mark.parametrize(
    "case", ["string for an object reference", "int32 overflow", "unknown field in a claim"]
)
def test_cli_reports_a_wrong_field_on_one_line(case, tmp_path):
    spec, message = CLUSTER_ERRORS[case]
    done = cli("values", "from-operator", str(DATA / "base-postgres.yaml"), str(cluster_file(tmp_path, spec)))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_cli_reports_a_file_that_is_not_yaml(tmp_path):
    (tmp_path / "b.yaml").write_text("spec: [unclosed\n")
    done = cli("values", "from-operator", str(tmp_path / "b.yaml"), str(DATA / "cluster-celery.yaml"))
    assert done.returncode == 2 and "not YAML" in done.stderr and len(done.stderr.splitlines()) == 1
