"""`chart-tools values from-operator`: the old Airflow operator's custom resources as chart values.

Input: an `AirflowBase` and an `AirflowCluster` (`apiVersion: airflow.k8s.io/v1alpha1`). Every
field either maps to a value or produces a warning saying why it has none (docs/operator.md has
the table). Unknown fields and invalid values are errors naming the resource and the field, so
nothing is dropped silently. Resource requirements are merged over the chart's defaults, so the
output keeps the requests and limits every container must have.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chart_tools import CHART
from chart_tools.values import ValuesError, schema_errors

API_VERSION = "airflow.k8s.io/v1alpha1"
EXECUTORS = {"Local": "LocalExecutor", "Sequential": "LocalExecutor", "Celery": "CeleryExecutor",
             "Kubernetes": "KubernetesExecutor"}  # fmt: skip
# Options the chart sets itself (or takes from Secrets); an operator config entry for them is dropped.
CHART_OWNED = {
    *(("core", k) for k in ("executor", "dags_folder", "fernet_key", "load_examples", "sql_alchemy_conn")),
    *(("celery", k) for k in ("broker_url", "result_backend")),
    ("database", "sql_alchemy_conn"), ("api", "secret_key"), ("webserver", "secret_key"),
}  # fmt: skip
MEMORYSTORE_NOTE = (
    "becomes an external Redis: create the Memorystore instance and set cluster.redis.external.host "
    "(and passwordSecret if AUTH is on); sizing fields (memorySizeGb, tier, ...) belong to the instance"
)
BASE_FIELDS = {
    "nodeSelector",
    "affinity",
    "annotations",
    "labels",
    "mysql",
    "postgres",
    "sqlproxy",
    "storage",
}
CLUSTER_FIELDS = {"nodeSelector", "affinity", "annotations", "labels", "executor", "config", "redis",
                  "memoryStore", "scheduler", "worker", "ui", "flower", "dags", "airflowbase"}  # fmt: skip
SUB_FIELDS = {
    "mysql": {"image", "version", "replicas", "volumeClaimTemplate", "backupVolumeClaimTemplate", "operator",
              "backup", "resources"},
    "postgres": {"image", "version", "replicas", "volumeClaimTemplate", "operator", "resources"},
    "sqlproxy": {"image", "version", "project", "region", "instance", "type", "resources"},
    "storage": {"image", "version", "resources", "volumeClaimTemplate"},
    "config": {"airflow", "airflowsecret"},
    "redis": {"image", "version", "operator", "redisHost", "redisPort", "redisPassword", "resources",
              "volumeClaimTemplate", "additionalargs"},
    "memoryStore": {"project", "region", "memorySizeGb", "tier", "redisVersion", "maxMemoryPolicy",
                    "redisConfigs", "alternativeLocationId", "authorizedNetwork", "locationId"},
    "scheduler": {"image", "version", "database", "dbuser", "resources"},
    "worker": {"image", "version", "replicas", "resources"},
    "ui": {"image", "version", "replicas", "resources"},
    "flower": {"image", "version", "replicas", "resources"},
    "dags": {"subdir", "git", "gcs"},
    "git": {"repo", "branch", "rev", "user", "once", "cred"},
    "gcs": {"bucket", "once"},
    "airflowbase": {"name"},
}  # fmt: skip


@dataclass
class Conversion:
    """The values of one release (or of a base and a cluster release) and what could not map."""

    base: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    common: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _defaults() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def _set(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value


def _get(source: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        source = source[key]
    return source


class Converter:
    def __init__(self, base: dict[str, Any], cluster: dict[str, Any]) -> None:
        self.defaults = _defaults()
        self.out = Conversion()
        self.base_name = self._check(base, "AirflowBase", BASE_FIELDS)
        self.cluster_name = self._check(cluster, "AirflowCluster", CLUSTER_FIELDS)
        self.base_spec = base.get("spec") or {}
        self.cluster_spec = cluster.get("spec") or {}

    # ------------------------------------------------------------ helpers

    def _check(self, resource: Any, kind: str, fields: set[str]) -> str:
        if not isinstance(resource, dict):
            raise ValuesError(f"{kind}: not a YAML mapping")
        name = (resource.get("metadata") or {}).get("name") or "(unnamed)"
        if resource.get("apiVersion") != API_VERSION or resource.get("kind") != kind:
            found = f"{resource.get('apiVersion')}/{resource.get('kind')}"
            raise ValuesError(
                f"{kind} {name}: expected apiVersion {API_VERSION}, kind {kind} (found {found})"
            )
        spec = resource.get("spec") or {}
        if not isinstance(spec, dict):
            raise ValuesError(f"{kind} {name}: spec is not a mapping")
        self._known(spec, fields, f"{kind} {name}: spec")
        dags = spec.get("dags") if isinstance(spec.get("dags"), dict) else {}
        for key, allowed in SUB_FIELDS.items():
            parent, prefix = (dags, "spec.dags") if key in ("git", "gcs") else (spec, "spec")
            if isinstance(parent.get(key), dict):
                self._known(parent[key], allowed, f"{kind} {name}: {prefix}.{key}")
        return name

    @staticmethod
    def _known(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
        if unknown := sorted(set(mapping) - allowed):
            raise ValuesError(f"{where}.{unknown[0]} is not a field of the operator's resource")

    def warn(self, where: str, message: str) -> None:
        self.out.warnings.append(f"{where}: {message}")

    def resources(self, section: str, dotted: str, given: Any, where: str) -> None:
        """The operator's requests/limits over the chart's defaults (which every container needs);
        `section` is base or cluster, `dotted` the key below it."""
        if not given:
            return
        if not isinstance(given, dict) or set(given) - {"requests", "limits"}:
            raise ValuesError(f"{where}.resources must be a mapping of requests and limits")
        merged = copy.deepcopy(_get(self.defaults[section], dotted))
        for kind in ("requests", "limits"):
            merged.setdefault(kind, {}).update(given.get(kind) or {})
        _set(getattr(self.out, section), dotted, merged)

    def image(self, spec: dict[str, Any], where: str, replacement: str) -> None:
        if spec.get("image") or spec.get("version"):
            given = f"{spec.get('image', '')}:{spec.get('version', '')}".strip(":")
            self.warn(where, f"image {given} is replaced by {replacement} (the chart pins tested images)")

    def claim(self, target: dict[str, Any], prefix: str, template: Any, where: str) -> None:
        """size and storage class of a volumeClaimTemplate."""
        spec = (template or {}).get("spec") or {}
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if size:
            _set(target, f"{prefix}.size", str(size))
        if spec.get("storageClassName"):
            _set(target, f"{prefix}.storageClass", spec["storageClassName"])
        if spec.get("accessModes"):
            self.warn(where, "accessModes are chosen by the chart")

    # ------------------------------------------------------------ AirflowBase

    def convert_base(self) -> None:
        spec, where = self.base_spec, f"AirflowBase {self.base_name}"
        engines = [k for k in ("mysql", "postgres", "sqlproxy") if k in spec]
        if len(engines) != 1:
            raise ValuesError(
                f"{where}: spec needs exactly one of mysql, postgres, sqlproxy (found {engines or 'none'})"
            )
        kind = engines[0]
        db = spec[kind] or {}
        here = f"{where}: spec.{kind}"
        _set(self.out.base, "database.type", kind)
        if kind == "sqlproxy":
            self.convert_sqlproxy(db, here)
        else:
            pinned = self.defaults["base"]["database"][kind]["image"]
            self.image(db, here, f"{pinned['repository']}:{pinned['tag']}")
            self.claim(self.out.base, f"database.{kind}.persistence", db.get("volumeClaimTemplate"), here)
            self.resources("base", f"database.{kind}.resources", db.get("resources"), here)
            if int(db.get("replicas") or 1) > 1:
                self.warn(
                    here,
                    f"replicas {db['replicas']}: the embedded {kind} is a single instance (use an HA server)",
                )
            for key in ("operator", "backup", "backupVolumeClaimTemplate"):
                if db.get(key):
                    self.warn(
                        here, f"{key} has no equivalent: back up the data claim with your storage's tools"
                    )
        if "storage" in spec:
            storage = spec["storage"] or {}
            _set(self.out.base, "storage.enabled", True)
            self.claim(self.out.base, "storage", storage.get("volumeClaimTemplate"), f"{where}: spec.storage")
            if storage.get("resources"):
                self.warn(f"{where}: spec.storage", "resources of the NFS server have no equivalent")
            self.warn(
                f"{where}: spec.storage",
                "the chart runs no NFS server (it needs privileged containers); "
                "set base.storage.storageClass to a ReadWriteMany class",
            )
        for key in ("nodeSelector", "affinity"):
            if spec.get(key):
                self.warn(where, f"spec.{key} has no equivalent for the base's database pod yet")
        if spec.get("labels"):
            self.out.common["commonLabels"] = {str(k): str(v) for k, v in spec["labels"].items()}
        if spec.get("annotations"):
            self.warn(where, "spec.annotations have no equivalent on base objects")

    def convert_sqlproxy(self, db: dict[str, Any], where: str) -> None:
        missing = [k for k in ("project", "region", "instance") if not db.get(k)]
        if missing:
            raise ValuesError(f"{where}.{missing[0]} is required")
        engine = db.get("type") or "postgres"
        if engine not in ("postgres", "mysql"):
            raise ValuesError(f"{where}.type {engine!r} is not one of mysql, postgres")
        proxy = {"instance": f"{db['project']}:{db['region']}:{db['instance']}", "engine": engine}
        secret = f"{self.cluster_name}-db-password"
        proxy["passwordSecret"] = {"name": secret}
        _set(self.out.base, "database.sqlproxy", proxy)
        self.warn(
            where,
            f"create Secret {secret} (key password) with the database user's password, and give "
            "the proxy credentials (base.database.sqlproxy.credentialsSecret or workload identity)",
        )
        self.image(db, where, "the Cloud SQL Auth Proxy v2 image")
        self.resources("base", "database.sqlproxy.resources", db.get("resources"), where)

    # ------------------------------------------------------------ AirflowCluster

    def convert_cluster(self) -> None:
        spec, where = self.cluster_spec, f"AirflowCluster {self.cluster_name}"
        out = self.out.cluster
        executor = spec.get("executor") or "Local"
        if executor not in EXECUTORS:
            raise ValuesError(f"{where}: spec.executor {executor!r} is not one of {', '.join(EXECUTORS)}")
        out["executor"] = EXECUTORS[executor]
        if executor == "Sequential":
            self.warn(
                where, "spec.executor Sequential becomes LocalExecutor (Airflow 3 has no SequentialExecutor)"
            )
        for key, target in (("nodeSelector", "placement.nodeSelector"), ("affinity", "placement.affinity"),
                            ("annotations", "podAnnotations"), ("labels", "podLabels")):  # fmt: skip
            if spec.get(key):
                _set(out, target, spec[key])
        self.convert_config(spec.get("config") or {}, f"{where}: spec.config")
        self.convert_redis(spec, where)
        self.convert_components(spec, where)
        self.convert_dags(spec.get("dags") or {}, f"{where}: spec.dags")
        base_ref = (spec.get("airflowbase") or {}).get("name")
        if base_ref and base_ref != self.base_name:
            self.warn(
                where,
                f"spec.airflowbase.name {base_ref} differs from the AirflowBase given ({self.base_name})",
            )

    def convert_config(self, config: dict[str, Any], where: str) -> None:
        env: list[dict[str, Any]] = []
        if config.get("airflow"):
            self.warn(where, "airflow options were written for Airflow 1.10: check each against Airflow 3's "
                      "configuration reference (many moved section or were removed)")  # fmt: skip
        for name, value in (config.get("airflow") or {}).items():
            parts = str(name).split("__")
            if len(parts) == 3 and parts[0] == "AIRFLOW":
                section, key = parts[1].lower(), parts[2].lower()
                if (section, key) in CHART_OWNED:
                    self.warn(where, f"airflow.{name} is set by the chart from other values; dropped")
                    continue
                _set(self.out.cluster, f"config.{section}.{key}", str(value))
            else:
                env.append({"name": str(name), "value": str(value)})
        for i, item in enumerate(config.get("airflowsecret") or []):
            if not isinstance(item, dict) or not all(item.get(k) for k in ("env", "secret", "field")):
                raise ValuesError(f"{where}.airflowsecret[{i}] needs env, secret and field")
            ref = {"secretKeyRef": {"name": item["secret"], "key": item["field"]}}
            env.append({"name": item["env"], "valueFrom": ref})
        if env:
            self.out.cluster["extraEnv"] = env

    def convert_redis(self, spec: dict[str, Any], where: str) -> None:
        redis, store = spec.get("redis") or {}, spec.get("memoryStore") or {}
        celery = self.out.cluster["executor"] == "CeleryExecutor"
        if (redis or store) and not celery:
            self.warn(where, "spec.redis/memoryStore are only used with the Celery executor; dropped")
            return
        here = f"{where}: spec.redis"
        if store:
            _set(self.out.cluster, "redis.type", "external")
            _set(self.out.cluster, "redis.external.host", "REPLACE-WITH-MEMORYSTORE-HOST")
            self.warn(f"{where}: spec.memoryStore", MEMORYSTORE_NOTE)
        if redis.get("redisHost"):
            _set(self.out.cluster, "redis.type", "external")
            _set(self.out.cluster, "redis.external.host", redis["redisHost"])
            if redis.get("redisPort"):
                _set(self.out.cluster, "redis.external.port", int(redis["redisPort"]))
            if redis.get("redisPassword"):
                secret = f"{self.cluster_name}-redis-password"
                _set(self.out.cluster, "redis.external.passwordSecret.name", secret)
                self.warn(here, f"create Secret {secret} with key password for the external Redis")
        elif redis:
            self.resources("cluster", "redis.embedded.resources", redis.get("resources"), here)
            if redis.get("volumeClaimTemplate"):
                _set(self.out.cluster, "redis.embedded.persistence.enabled", True)
                self.claim(self.out.cluster, "redis.embedded.persistence", redis["volumeClaimTemplate"], here)
        self.image(redis, here, "the chart's redis image")
        for key in ("operator", "additionalargs"):
            if redis.get(key):
                self.warn(here, f"{key} has no equivalent")

    def convert_components(self, spec: dict[str, Any], where: str) -> None:
        airflow = f"apache/airflow:{self.defaults['cluster']['image']['tag']}"
        for key, target in (
            ("scheduler", "scheduler"),
            ("ui", "apiServer"),
            ("worker", None),
            ("flower", "flower"),
        ):
            part = spec.get(key)
            if part is None:
                continue
            part, here = part or {}, f"{where}: spec.{key}"
            self.image(part, here, f"{airflow}: Airflow 1.10 images cannot run the chart's Airflow 3")
            if key == "worker":
                target = "workers" if self.out.cluster["executor"] == "CeleryExecutor" else "kubernetes"
                if target == "kubernetes" and self.out.cluster["executor"] != "KubernetesExecutor":
                    self.warn(here, "no workers with the Local executor; dropped")
                    continue
            if key == "flower":
                if self.out.cluster["executor"] != "CeleryExecutor":
                    self.warn(here, "Flower needs the Celery executor; dropped")
                    continue
                _set(self.out.cluster, "flower.enabled", True)
            replicas = part.get("replicas")
            if replicas is not None:
                if target in ("workers", "apiServer"):
                    _set(self.out.cluster, f"{target}.replicas", int(replicas))
                else:
                    self.warn(here, f"replicas has no equivalent for {key}")
            self.resources("cluster", f"{target}.resources", part.get("resources"), here)
            if key == "scheduler":
                self.convert_scheduler_db(part, here)

    def convert_scheduler_db(self, part: dict[str, Any], where: str) -> None:
        kind = self.out.base.get("database", {}).get("type")
        for field_name, value_key in (("database", "database"), ("dbuser", "user")):
            if not part.get(field_name):
                continue
            if kind in ("postgres", "mysql", "sqlproxy"):
                _set(self.out.base, f"database.{kind}.{value_key}", str(part[field_name]))
            else:
                self.warn(where, f"{field_name} has no equivalent without a database type")

    def convert_dags(self, dags: dict[str, Any], where: str) -> None:
        git, gcs = dags.get("git") or {}, dags.get("gcs") or {}
        if gcs:
            self.warn(
                f"{where}.gcs",
                "DAGs from a GCS bucket have no equivalent mode: bake them into the image "
                "(images/airflow-dags) or sync the bucket into a persistentVolume claim",
            )
        if not git:
            if dags.get("subdir"):
                self.warn(where, "subdir without git has no equivalent")
            return
        if not git.get("repo"):
            raise ValuesError(f"{where}.git.repo is required")
        repo: dict[str, Any] = {"name": "dags", "url": git["repo"]}
        ref = git.get("rev") or git.get("branch")
        if git.get("rev") and git.get("branch"):
            self.warn(f"{where}.git", f"rev {git['rev']} pins the commit; branch {git['branch']} is not used")
        if ref:
            repo["ref"] = str(ref)
        if dags.get("subdir"):
            repo["subPath"] = str(dags["subdir"]).strip("/")
        if git.get("cred"):
            repo["credentialsSecret"] = git["cred"]
            self.warn(
                f"{where}.git",
                f"Secret {git['cred']} must hold keys username and password (token), or "
                "ssh-privatekey for SSH (then set cluster.dags.git.knownHosts)",
            )
        if git.get("user"):
            self.warn(f"{where}.git.user", "the user name comes from the credentials Secret's username key")
        mode = "gitInit" if git.get("once") else "gitSync"
        _set(self.out.cluster, "dags", {"mode": mode, "git": {"repos": [repo]}})

    # ------------------------------------------------------------ output

    def convert(self) -> Conversion:
        self.convert_base()
        self.convert_cluster()
        return self.out


def combined(conv: Conversion) -> dict[str, Any]:
    """One release holding the base and the cluster."""
    return {**conv.common, "base": conv.base, "cluster": conv.cluster}


def split(conv: Conversion, base_release: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A base-only release and a cluster release on it."""
    base = {**conv.common, "base": conv.base, "cluster": {"enabled": False}}
    mirrored = {"database": {"type": conv.base["database"]["type"]}}
    if "storage" in conv.base:
        mirrored["storage"] = {"enabled": True}
    if conv.base["database"]["type"] == "sqlproxy":
        mirrored["database"]["sqlproxy"] = conv.base["database"]["sqlproxy"]
    cluster_values = {**conv.common, "base": {"enabled": False, **mirrored},
                      "cluster": {**conv.cluster, "airflowbase": {"name": base_release}}}  # fmt: skip
    return base, cluster_values


def load_resource(path: Path, kind: str) -> dict[str, Any]:
    if not path.is_file():
        raise ValuesError(f"{kind} file {path}: no such file")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except yaml.YAMLError as err:
        raise ValuesError(f"{path}: not YAML: {' '.join(str(err).split())}") from None
    if len(docs) != 1:
        raise ValuesError(f"{path}: expected one {kind} resource, found {len(docs)} documents")
    return docs[0]


def convert_files(base: Path, cluster: Path) -> Conversion:
    converter = Converter(load_resource(base, "AirflowBase"), load_resource(cluster, "AirflowCluster"))
    try:
        conv = converter.convert()
    except ValuesError:
        raise
    except (TypeError, ValueError, AttributeError) as err:  # a field of the wrong type, e.g. replicas: two
        raise ValuesError(f"{base.name} / {cluster.name}: a field has the wrong type ({err})") from None
    if errors := schema_errors(combined(conv)):  # e.g. an affinity Kubernetes would reject
        raise ValuesError(f"the converted values do not pass the chart's schema: {errors[0]}")
    return conv
