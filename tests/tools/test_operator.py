"""The operator converter: every AirflowBase/AirflowCluster field maps to a value or says why not.

The fixtures under tests/data/operator use every field of the old operator's resources; the
expected values below are written from the operator's field meanings, not from the converter.
"""

import subprocess
import sys

import pytest
import yaml

from chart_tools import ROOT
from chart_tools.operator import combined, convert_files, split
from chart_tools.render import render
from chart_tools.validate import validate
from chart_tools.values import schema_errors

DATA = ROOT / "tests" / "data" / "operator"


def convert(base, cluster):
    return convert_files(DATA / f"{base}.yaml", DATA / f"{cluster}.yaml")


def renders_clean(values, tmp_path, helm_major=3, release="airflow"):
    path = tmp_path / f"{release}.yaml"
    path.write_text(yaml.safe_dump(values))
    assert not schema_errors(values)
    findings = validate(render([path], helm_major=helm_major, release=release))
    assert not findings, "\n".join(map(str, findings))


def warned(conv, *fragments):
    text = "\n".join(conv.warnings)
    return all(f in text for f in fragments)


def test_every_field_of_a_postgres_base_and_a_celery_cluster(tmp_path, helm_major):
    conv = convert("base-full", "cluster-full")
    values = combined(conv)
    base, cluster = values["base"], values["cluster"]
    assert base["database"]["type"] == "postgres"
    pg = base["database"]["postgres"]
    assert pg["persistence"] == {"size": "20Gi", "storageClass": "standard"}
    assert pg["resources"]["requests"] == {"cpu": "200m", "memory": "512Mi"}
    assert pg["resources"]["limits"]["memory"]  # the chart's default limit stays
    assert (pg["database"], pg["user"]) == ("af_db", "af_user")  # from spec.scheduler
    assert base["storage"] == {"enabled": True, "size": "50Gi", "storageClass": "nfs-client"}
    assert values["commonLabels"] == {"team": "data"}
    assert cluster["executor"] == "CeleryExecutor"
    assert cluster["placement"]["nodeSelector"] == {"pool": "airflow"}
    assert cluster["placement"]["affinity"]["podAntiAffinity"]
    assert cluster["podAnnotations"] == {"prometheus.io/scrape": "false"}
    assert cluster["podLabels"] == {"team": "data"}
    assert cluster["config"] == {"core": {"parallelism": "64"}, "scheduler": {"dag_dir_list_interval": "60"}}
    assert {"name": "MY_SETTING", "value": "on"} in cluster["extraEnv"]
    assert {
        "name": "SMTP_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "smtp", "key": "password"}},
    } in cluster["extraEnv"]
    assert cluster["redis"]["embedded"]["persistence"] == {"enabled": True, "size": "2Gi"}
    assert cluster["redis"]["embedded"]["resources"]["limits"]["memory"] == "512Mi"
    assert cluster["scheduler"]["resources"]["requests"]["cpu"] == "1"
    assert (
        cluster["workers"]["replicas"] == 3 and cluster["workers"]["resources"]["limits"]["memory"] == "4Gi"
    )
    assert cluster["apiServer"]["replicas"] == 2
    assert cluster["apiServer"]["resources"]["requests"]["memory"] == "1500Mi"
    assert cluster["flower"]["enabled"] is True
    assert cluster["dags"] == {
        "mode": "gitSync",
        "git": {"repos": [{"name": "dags", "url": "https://github.com/example/dags.git", "ref": "0a1b2c3",
                           "subPath": "dags", "credentialsSecret": "git-token"}]},
    }  # fmt: skip
    assert warned(conv, "postgres:9.6 is replaced by postgres:17.6", "NFS server", "spec.nodeSelector",
                  "spec.affinity", "spec.annotations", "AIRFLOW__CORE__EXECUTOR is set by the chart",
                  "Airflow 1.10", "redis:4.0", "additionalargs", "spec.flower: replicas", "spec.dags.gcs",
                  "branch main is not used", "spec.dags.git.user", "resources of the NFS server")  # fmt: skip
    renders_clean(values, tmp_path, helm_major)


def test_mysql_base_and_kubernetes_cluster(tmp_path):
    conv = convert("base-mysql", "cluster-kubernetes")
    values = combined(conv)
    my = values["base"]["database"]["mysql"]
    assert values["base"]["database"]["type"] == "mysql"
    assert my["persistence"] == {"size": "30Gi"} and my["resources"]["limits"]["memory"] == "2Gi"
    cluster = values["cluster"]
    assert cluster["executor"] == "KubernetesExecutor"
    assert cluster["kubernetes"]["resources"]["requests"]["memory"] == "768Mi"
    assert "flower" not in cluster and "redis" not in cluster
    repo = cluster["dags"]["git"]["repos"][0]
    assert cluster["dags"]["mode"] == "gitInit"  # once: true
    assert repo == {"name": "dags", "url": "git@github.com:example/dags.git", "ref": "main",
                    "subPath": "airflow/dags", "credentialsSecret": "deploy-key"}  # fmt: skip
    assert warned(conv, "mysql:5.7 is replaced by mysql:8.4.8", "replicas 2", "operator has no equivalent",
                  "backup has no equivalent", "backupVolumeClaimTemplate", "Flower needs the Celery executor",
                  "only used with the Celery executor", "differs from the AirflowBase given")  # fmt: skip
    # SSH needs host keys: the converted file says so and the chart refuses to render without them
    assert warned(conv, "then set cluster.dags.git.knownHosts")
    values["cluster"]["dags"]["git"]["knownHosts"] = (
        "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    )
    renders_clean(values, tmp_path)


def test_sqlproxy_base_and_memorystore_cluster(tmp_path):
    conv = convert("base-sqlproxy", "cluster-memorystore")
    values = combined(conv)
    proxy = values["base"]["database"]["sqlproxy"]
    assert proxy["instance"] == "my-project:us-central1:airflow-db" and proxy["engine"] == "mysql"
    assert proxy["database"] == "airflow_ms"
    assert proxy["passwordSecret"] == {"name": "ms-cluster-db-password"}
    redis = values["cluster"]["redis"]
    assert redis["type"] == "external"
    assert redis["external"]["host"] == "10.0.0.3" and redis["external"]["port"] == 6378
    assert redis["external"]["passwordSecret"] == {"name": "ms-cluster-redis-password"}
    assert warned(conv, "cloud_sql_proxy:1.11 is replaced", "create Secret ms-cluster-db-password",
                  "becomes an external Redis", "create Secret ms-cluster-redis-password")  # fmt: skip
    renders_clean(values, tmp_path)


def test_sequential_becomes_local_and_gcs_has_no_mode(tmp_path):
    conv = convert("base-full", "cluster-sequential")
    values = combined(conv)
    assert values["cluster"]["executor"] == "LocalExecutor"
    assert "dags" not in values["cluster"] and "workers" not in values["cluster"]
    assert warned(conv, "Sequential becomes LocalExecutor", "GCS bucket have no equivalent", "no workers")
    renders_clean(values, tmp_path)


def test_split_gives_a_base_release_and_a_cluster_on_it(tmp_path, helm_major):
    base, cluster = split(convert("base-full", "cluster-full"), "pg-base")
    assert base["cluster"] == {"enabled": False}
    assert cluster["base"] == {
        "enabled": False,
        "database": {"type": "postgres"},
        "storage": {"enabled": True},
    }
    assert cluster["cluster"]["airflowbase"] == {"name": "pg-base"}
    renders_clean(base, tmp_path, helm_major, release="pg-base")
    renders_clean(cluster, tmp_path, helm_major, release="pc-cluster")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "chart_tools.cli", *args], capture_output=True, text=True)


def test_cli_prints_one_file_and_warnings_apart(tmp_path):
    done = cli("values", "from-operator", str(DATA / "base-full.yaml"), str(DATA / "cluster-full.yaml"))
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["cluster"]["executor"] == "CeleryExecutor"
    assert all(line.startswith("warning: ") for line in done.stderr.splitlines())
    out = tmp_path / "split"
    args = [
        "values",
        "from-operator",
        str(DATA / "base-full.yaml"),
        str(DATA / "cluster-full.yaml"),
        "--split",
    ]
    assert cli(*args, str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["base-values.yaml", "cluster-values.yaml"]
    again = cli(*args, str(out))  # nothing lost: existing files are kept
    assert again.returncode == 2 and "exists; pass --force" in again.stderr


HEAD = "apiVersion: airflow.k8s.io/v1alpha1\nkind: AirflowBase\nmetadata: {name: b}\n"
INVALID = {
    "wrong kind": ("apiVersion: airflow.k8s.io/v1alpha1\nkind: AirflowCluster\nmetadata: {name: b}\n",
                   "AirflowBase b: expected apiVersion airflow.k8s.io/v1alpha1, kind AirflowBase"),
    "unknown field": (HEAD + "spec: {postgres: {}, mysqll: {}}\n", "AirflowBase b: spec.mysqll is not a"),
    "two engines": (HEAD + "spec: {postgres: {}, mysql: {}}\n", "exactly one of mysql, postgres, sqlproxy"),
    "proxy without project": (HEAD + "spec: {sqlproxy: {region: r, instance: i}}\n", "project is required"),
    "not yaml": ("spec: [unclosed\n", "not YAML"),
}  # fmt: skip


@pytest.mark.parametrize("case", INVALID)
def test_invalid_base_is_a_one_line_error(case, tmp_path):
    text, message = INVALID[case]
    (tmp_path / "base.yaml").write_text(text)
    done = cli("values", "from-operator", str(tmp_path / "base.yaml"), str(DATA / "cluster-full.yaml"))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "{executor: Foo}",
            "AirflowCluster c: spec.executor 'Foo' is not one of Local, Sequential, Celery, Kubernetes",
        ),
        ("{exector: Celery}", "AirflowCluster c: spec.exector is not a field"),
        ("{dags: {git: {branch: main}}}", "AirflowCluster c: spec.dags.git.repo is required"),
        (
            "{config: {airflowsecret: [{env: A, secret: s}]}}",
            "spec.config.airflowsecret[0] needs env, secret and field",
        ),
        ("{worker: {replicaz: 2}}", "AirflowCluster c: spec.worker.replicaz is not a field"),
        ("{dags: {git: {repo: r, brnch: main}}}", "AirflowCluster c: spec.dags.git.brnch is not a field"),
        ("{executor: Celery, worker: {replicas: two}}", "a field has the wrong type"),
    ],
)
def test_invalid_cluster_is_a_one_line_error(spec, message, tmp_path):
    (tmp_path / "c.yaml").write_text(
        f"apiVersion: airflow.k8s.io/v1alpha1\nkind: AirflowCluster\nmetadata: {{name: c}}\nspec: {spec}\n"
    )
    done = cli("values", "from-operator", str(DATA / "base-full.yaml"), str(tmp_path / "c.yaml"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert message in done.stderr


def test_a_cluster_without_executor_is_local(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "apiVersion: airflow.k8s.io/v1alpha1\nkind: AirflowCluster\nmetadata: {name: c}\n"
    )
    conv = convert_files(DATA / "base-full.yaml", tmp_path / "c.yaml")
    assert combined(conv)["cluster"] == {"executor": "LocalExecutor"}
