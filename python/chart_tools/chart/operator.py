"""`chart-tools values from-operator`: the old Airflow operator's custom resources as chart values.

Input: an `AirflowBase` and an `AirflowCluster` (`apiVersion: airflow.k8s.io/v1alpha1`), as
written by hand or as `kubectl get -o yaml` returns them. Each is first checked against the
operator's Go API types (operator_types.py), so the converter only ever sees the shapes it
expects. Every field then either maps to a value or produces a warning saying why it has none
and what to do (docs/operator.md has the table); nothing is dropped silently.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chart_tools.chart import values
from chart_tools.chart.formats import matches, quantity
from chart_tools.chart.operator_types import check_resource
from chart_tools.chart.values import ValuesError, defaults, schema_errors

# The operator's executors and the chart's (values.EXECUTORS, read from the schema) they become.
_OPERATOR_EXECUTORS = {
    "Local": "local",
    "Sequential": "local",
    "Celery": "celery",
    "Kubernetes": "kubernetes",
}
EXECUTORS = {name: values.EXECUTORS[choice] for name, choice in _OPERATOR_EXECUTORS.items()}
CELERY = EXECUTORS["Celery"]
# airflow.cfg options the chart derives from other values; an operator config entry for one is dropped.
CHART_DERIVED = {
    *(("core", k) for k in ("executor", "dags_folder", "execution_api_server_url", "auth_manager")),
    ("api", "port"),
    ("scheduler", "enable_health_check"),
    ("scheduler", "scheduler_health_check_server_port"),
    ("dag_processor", "dag_bundle_config_list"),
    *(
        ("kubernetes_executor", k)
        for k in ("pod_template_file", "namespace", "worker_pods_creation_batch_size", "delete_worker_pods",
                  "delete_worker_pods_on_failure", "task_publish_max_retries")
    ),
}  # fmt: skip
# Secrets the chart generates (or reads from cluster.secrets.existingSecret and the database Secrets).
CHART_SECRETS = {
    ("core", "fernet_key"), ("core", "sql_alchemy_conn"), ("database", "sql_alchemy_conn"),
    ("database", "sql_alchemy_conn_async"),
    ("api", "secret_key"), ("webserver", "secret_key"), ("api_auth", "jwt_secret"),
    *(("celery", k) for k in ("broker_url", "result_backend", "flower_basic_auth")),
}  # fmt: skip
MEMORYSTORE_HOST = "REPLACE-WITH-MEMORYSTORE-HOST"
MEMORYSTORE_SETTINGS = (
    "locationId",
    "alternativeLocationId",
    "authorizedNetwork",
    "memorySizeGb",
    "tier",
    "redisVersion",
    "maxMemoryPolicy",
    "notifyKeyspaceEvents",
    "redisConfigs",
)
# Server options of the embedded databases: how to set them once the chart's server runs.
OPTIONS_HINT = {"postgres": "ALTER SYSTEM SET name = value", "mysql": "SET PERSIST name = value"}


@dataclass
class Conversion:
    """The values of one release (or of a base and a cluster release) and what could not map."""

    base: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    common: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _default(dotted: str) -> Any:
    """A copy of the chart's default at `dotted` (e.g. `cluster.workers.resources`)."""
    value: Any = defaults()
    for key in dotted.split("."):
        value = value[key]
    return copy.deepcopy(value)


def _set(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value


def _listed(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in mapping.items())


class Converter:
    """Chart values from a checked AirflowBase and AirflowCluster: one method per operator struct."""

    def __init__(self, base: Any, cluster: Any) -> None:
        self.base_name, self.base = check_resource(base, "AirflowBase")
        self.cluster_name, self.cluster = check_resource(cluster, "AirflowCluster")
        self.out = Conversion()
        self.executor = EXECUTORS["Local"]

    def at_base(self, path: str) -> str:
        return f"AirflowBase {self.base_name}: {path}"

    def at_cluster(self, path: str) -> str:
        return f"AirflowCluster {self.cluster_name}: {path}"

    def warn(self, where: str, message: str) -> None:
        self.out.warnings.append(f"{where}: {message}")

    # ------------------------------------------------------------ shared field kinds

    def image(self, spec: dict[str, Any], where: str, replacement: str) -> None:
        if spec.get("image") or spec.get("version"):
            given = f"{spec.get('image', '')}:{spec.get('version', '')}".strip(":")
            self.warn(where, f"image {given} is replaced by {replacement} (the chart pins tested images)")

    def replicas(self, spec: dict[str, Any], where: str) -> int:
        """The operator's replica count: 0 or unset meant its default, 1."""
        count = spec.get("replicas") or 1
        if count < 0:
            raise ValuesError(f"{where}.replicas: {count} is negative")
        return count

    def resources(self, dotted: str, given: dict[str, Any] | None, where: str) -> None:
        """The operator's requests and limits over the chart's defaults (every container needs a
        cpu and memory request and a memory limit). As in Kubernetes, a resource with a limit and
        no request requests its limit; a default limit below a request is raised to it."""
        if not given:
            return
        if given.get("claims"):
            self.warn(f"{where}.resources.claims", "dynamic resource claims have no equivalent; dropped")
        requests, limits = dict(given.get("requests") or {}), dict(given.get("limits") or {})
        for name, limit in limits.items():
            requests.setdefault(name, limit)
        merged = _default(dotted)
        merged.setdefault("requests", {}).update(requests)
        merged.setdefault("limits", {}).update(limits)
        for name, request in merged["requests"].items():
            limit = merged["limits"].get(name)
            if limit is None or quantity(request) <= quantity(limit):
                continue
            if name in limits:
                raise ValuesError(
                    f"{where}.resources: requests.{name} {request} exceeds limits.{name} {limit}"
                )
            merged["limits"][name] = request
            self.warn(
                f"{where}.resources",
                f"the chart's default limits.{name} {limit} is raised to the request {request}",
            )
        section, _, rest = dotted.partition(".")
        _set(getattr(self.out, section), rest, merged)

    def claim(
        self, template: dict[str, Any] | None, target: str, where: str, access_modes: bool = False
    ) -> None:
        """A PersistentVolumeClaim template: size, storage class (and access modes where the chart
        has a value for them) go to `target`; every other field is a warning."""
        if not template:
            return
        section, _, prefix = target.partition(".")
        out = getattr(self.out, section)
        if template.get("metadata"):
            self.warn(f"{where}.metadata", "has no equivalent: the chart names and labels its claims itself")
        spec = template.get("spec") or {}
        wanted = spec.get("resources") or {}
        size = (wanted.get("requests") or {}).get("storage")
        if size is not None:
            _set(out, f"{prefix}.size", str(size))
        extra = [f"requests.{k}" for k in wanted.get("requests") or {} if k != "storage"]
        extra += [f"limits.{k}" for k in wanted.get("limits") or {}]
        if extra:
            self.warn(
                f"{where}.spec.resources",
                f"{', '.join(extra)} have no equivalent; only requests.storage sets the claim's size",
            )
        if spec.get("storageClassName"):
            _set(out, f"{prefix}.storageClass", spec["storageClassName"])
        if spec.get("accessModes") and access_modes:
            _set(out, f"{prefix}.accessModes", list(spec["accessModes"]))
        elif spec.get("accessModes"):
            self.warn(f"{where}.spec.accessModes", "the chart chooses the access modes of this claim")
        for key in sorted(set(spec) - {"resources", "storageClassName", "accessModes"}):
            if spec[key] not in (None, "", [], {}):
                self.warn(f"{where}.spec.{key}", "has no equivalent in the chart's claim; dropped")

    # ------------------------------------------------------------ AirflowBase

    def convert_base(self, spec: dict[str, Any]) -> None:
        engines = [k for k in ("mysql", "postgres", "sqlproxy") if k in spec]
        if len(engines) != 1:
            raise ValuesError(
                self.at_base(
                    f"spec needs exactly one of mysql, postgres, sqlproxy (found "
                    f"{', '.join(engines) or 'none'})"
                )
            )
        kind = engines[0]
        _set(self.out.base, "database.type", kind)
        where = self.at_base(f"spec.{kind}")
        if kind == "sqlproxy":
            self.convert_sqlproxy(spec[kind], where)
        else:
            self.convert_database(kind, spec[kind], where)
        if "storage" in spec:
            self.convert_nfs(spec["storage"], self.at_base("spec.storage"))
        for key in ("nodeSelector", "affinity"):
            if spec.get(key):
                self.warn(self.at_base(f"spec.{key}"), "has no equivalent for the base's database pod yet")
        if spec.get("annotations"):
            self.warn(
                self.at_base("spec.annotations"), "pod annotations have no equivalent on the base's pods"
            )
        if spec.get("labels"):
            self.out.common["commonLabels"] = dict(spec["labels"])

    def convert_database(self, kind: str, db: dict[str, Any], where: str) -> None:
        """PostgresSpec and MySQLSpec: the embedded database server."""
        pinned = _default(f"base.database.{kind}.image")
        self.image(db, where, f"{pinned['repository']}:{pinned['tag']}")
        if (count := self.replicas(db, where)) > 1:
            self.warn(
                f"{where}.replicas",
                f"{count}: the embedded {kind} is a single instance (use an HA server "
                "and base.database.type external)",
            )
        self.claim(
            db.get("volumeClaimTemplate"), f"base.database.{kind}.persistence", f"{where}.volumeClaimTemplate"
        )
        self.resources(f"base.database.{kind}.resources", db.get("resources"), where)
        if db.get("operator"):
            self.warn(
                f"{where}.operator",
                "true (a database operator's resource) has no equivalent: the chart runs one StatefulSet",
            )
        if db.get("Options"):
            self.warn(
                f"{where}.Options",
                f"server options {_listed(db['Options'])} have no equivalent: set them "
                f"on the server after install ({OPTIONS_HINT[kind]})",
            )
        if db.get("backup"):
            self.convert_backup(db["backup"], f"{where}.backup")
        if db.get("backupVolumeClaimTemplate"):
            self.warn(
                f"{where}.backupVolumeClaimTemplate",
                "(the backup staging claim) has no equivalent: the chart runs no backups",
            )

    def convert_backup(self, backup: dict[str, Any], where: str) -> None:
        """MySQLBackup and its StorageSpec: scheduled backups to S3-compatible storage."""
        storage = backup.get("storage") or {}
        details = [f"schedule {backup['schedule']!r}"] if backup.get("schedule") else []
        details.append(f"to {storage.get('storageprovider') or 's3'} storage")
        if storage.get("secretRef"):
            details.append(f"with Secret {storage['secretRef'].get('name')}")
        if storage.get("config"):
            details.append(f"config {_listed(storage['config'])}")
        self.warn(
            where,
            f"({' '.join(details)}) has no equivalent: dump the database or snapshot its claim "
            "with your own tools",
        )

    def convert_sqlproxy(self, db: dict[str, Any], where: str) -> None:
        missing = [k for k in ("project", "region", "instance") if not db.get(k)]
        if missing:
            raise ValuesError(f"{where}.{missing[0]} is required")
        engine = db.get("type") or "mysql"  # the operator treated every type but postgres as MySQL
        if engine not in ("postgres", "mysql"):
            raise ValuesError(f"{where}.type {engine!r} is not one of mysql, postgres")
        secret = f"{self.cluster_name}-db-password"
        proxy = {
            "instance": f"{db['project']}:{db['region']}:{db['instance']}",
            "engine": engine,
            "passwordSecret": {"name": secret},
        }
        _set(self.out.base, "database.sqlproxy", proxy)
        self.warn(
            where,
            f"create Secret {secret} (key password) with the database user's password, and give "
            "the proxy credentials (base.database.sqlproxy.credentialsSecret or workload identity)",
        )
        self.image(db, where, "the Cloud SQL Auth Proxy v2 image")
        self.resources("base.database.sqlproxy.resources", db.get("resources"), where)

    def convert_nfs(self, storage: dict[str, Any], where: str) -> None:
        """NFSStoreSpec: the operator's in-cluster NFS server becomes a ReadWriteMany claim."""
        _set(self.out.base, "storage.enabled", True)
        self.claim(storage.get("volumeClaimTemplate"), "base.storage", f"{where}.volumeClaimTemplate")
        self.image(storage, where, "a ReadWriteMany storage class")
        if storage.get("resources"):
            self.warn(f"{where}.resources", "resources of the NFS server have no equivalent")
        self.warn(
            where,
            "the chart runs no NFS server (it needs privileged containers); set "
            "base.storage.storageClass to a ReadWriteMany class",
        )

    # ------------------------------------------------------------ AirflowCluster

    def convert_cluster(self, spec: dict[str, Any]) -> None:
        name = spec.get("executor") or "Local"
        if name not in EXECUTORS:
            raise ValuesError(self.at_cluster(f"spec.executor {name!r} is not one of {', '.join(EXECUTORS)}"))
        self.executor = self.out.cluster["executor"] = EXECUTORS[name]
        if name == "Sequential":
            self.warn(
                self.at_cluster("spec.executor"),
                "Sequential becomes LocalExecutor (Airflow 3 has no SequentialExecutor)",
            )
        for key, target in (
            ("nodeSelector", "placement.nodeSelector"),
            ("affinity", "placement.affinity"),
            ("annotations", "podAnnotations"),
            ("labels", "podLabels"),
        ):
            if spec.get(key):
                _set(self.out.cluster, target, spec[key])
        self.convert_config(spec.get("config") or {}, self.at_cluster("spec.config"))
        self.convert_broker(spec)
        self.convert_components(spec)
        self.convert_dags(spec.get("dags") or {}, self.at_cluster("spec.dags"))
        base_ref = (spec.get("airflowbase") or {}).get("name")
        if base_ref and base_ref != self.base_name:
            self.warn(
                self.at_cluster("spec.airflowbase.name"),
                f"{base_ref} differs from the AirflowBase given ({self.base_name})",
            )

    def convert_config(self, config: dict[str, Any], where: str) -> None:
        """ClusterConfig: environment variables; AIRFLOW__SECTION__KEY ones become airflow.cfg options."""
        env: list[dict[str, Any]] = []
        if config.get("airflow"):
            self.warn(
                f"{where}.airflow",
                "options were written for Airflow 1.10: check each against Airflow "
                "3's configuration reference (many moved section or were removed)",
            )
        for name, value in (config.get("airflow") or {}).items():
            parts = name.split("__")
            if len(parts) != 3 or parts[0] != "AIRFLOW":
                env.append({"name": name, "value": value})
                continue
            option = (parts[1].lower(), parts[2].lower())
            # airflow.cfg interpolates "%(name)s": a literal % is doubled there
            cfg_value = value.replace("%", "%%")
            if not all(matches("cfgName", o) for o in option) or not matches("cfgText", cfg_value):
                env.append(
                    {"name": name, "value": value}
                )  # not expressible in airflow.cfg: as the operator did
            elif option in CHART_DERIVED:
                self.warn(f"{where}.airflow.{name}", "is set by the chart from other values; dropped")
            elif option in CHART_SECRETS:
                self.warn(
                    f"{where}.airflow.{name}",
                    "is a secret the chart generates (or reads from the Secrets it is given); dropped",
                )
            else:
                _set(self.out.cluster, f"config.{option[0]}.{option[1]}", cfg_value)
        for i, item in enumerate(config.get("airflowsecret") or []):
            if not all(item.get(k) for k in ("Env", "Secret", "Field")):
                raise ValuesError(f"{where}.airflowsecret[{i}] needs Env, Secret and Field (in any case)")
            ref = {"secretKeyRef": {"name": item["Secret"], "key": item["Field"]}}
            env.append({"name": item["Env"], "valueFrom": ref})
        if env:
            self.out.cluster["extraEnv"] = env

    def convert_broker(self, spec: dict[str, Any]) -> None:
        """RedisSpec and MemoryStoreSpec: the Celery broker."""
        redis, store = spec.get("redis"), spec.get("memoryStore")
        if self.executor != CELERY:
            for key in ("memoryStore", "redis"):
                if key in spec:
                    self.warn(self.at_cluster(f"spec.{key}"), "only used with the Celery executor; dropped")
            return
        if redis is None and store is None:
            return
        if store is not None:
            self.convert_memorystore(store, self.at_cluster("spec.memoryStore"))
            if redis is not None:
                self.warn(
                    self.at_cluster("spec.redis"),
                    "not used when spec.memoryStore is set (the operator's "
                    "broker is the Memorystore instance); dropped",
                )
        elif redis.get("redisHost"):
            self.convert_external_redis(redis, self.at_cluster("spec.redis"))
        else:
            self.convert_embedded_redis(redis, self.at_cluster("spec.redis"))

    def convert_memorystore(self, store: dict[str, Any], where: str) -> None:
        """MemoryStoreSpec: the operator created (and, through its finalizer, deletes) a Memorystore
        instance named <cluster>-redis; the chart can only point at one. Status is not read."""
        _set(self.out.cluster, "redis.type", "external")
        _set(self.out.cluster, "redis.external.host", MEMORYSTORE_HOST)
        place = "/".join(store.get(k) or "?" for k in ("project", "region"))
        shown = {**store, "tier": (store.get("tier") or "").upper()}  # the operator upper-cased the tier
        settings = [
            f"{k} {_listed(v) if isinstance(v, dict) else v}"
            for k in MEMORYSTORE_SETTINGS
            if (v := shown.get(k))
        ]
        described = f" with {', '.join(settings)}" if settings else ""
        self.warn(
            where,
            f"becomes an external Redis: the operator's Memorystore instance {self.cluster_name}-redis "
            f"in {place} is deleted with the AirflowCluster, so create one{described} and set "
            "cluster.redis.external.host to its host",
        )

    def convert_external_redis(self, redis: dict[str, Any], where: str) -> None:
        _set(self.out.cluster, "redis.type", "external")
        _set(self.out.cluster, "redis.external.host", redis["redisHost"])
        if redis.get("redisPort"):
            port = redis["redisPort"]
            if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
                raise ValuesError(f"{where}.redisPort: {port!r} is not a port number (1-65535)")
            _set(self.out.cluster, "redis.external.port", int(port))
        if redis.get("redisPassword"):
            secret = f"{self.cluster_name}-redis-password"
            _set(self.out.cluster, "redis.external.passwordSecret.name", secret)
            self.warn(
                f"{where}.redisPassword", f"create Secret {secret} with key password for the external Redis"
            )
        unused = [
            k
            for k in ("image", "version", "operator", "resources", "volumeClaimTemplate", "additionalargs")
            if redis.get(k)
        ]
        if unused:
            self.warn(
                where,
                f"{', '.join(unused)} describe the embedded Redis, which the operator did not run "
                "with redisHost; dropped",
            )

    def convert_embedded_redis(self, redis: dict[str, Any], where: str) -> None:
        self.resources("cluster.redis.embedded.resources", redis.get("resources"), where)
        if redis.get("volumeClaimTemplate"):
            _set(self.out.cluster, "redis.embedded.persistence.enabled", True)
            self.claim(
                redis["volumeClaimTemplate"],
                "cluster.redis.embedded.persistence",
                f"{where}.volumeClaimTemplate",
            )
        self.image(redis, where, "the chart's redis image")
        if redis.get("operator"):
            self.warn(f"{where}.operator", "true (a Redis operator's resource) has no equivalent")
        if redis.get("additionalargs"):
            self.warn(
                f"{where}.additionalargs",
                f"redis-server arguments {redis['additionalargs']!r} have no "
                "equivalent: the chart's Redis runs with its own configuration",
            )
        for key in ("redisPort", "redisPassword"):
            if redis.get(key):
                self.warn(
                    f"{where}.{key}",
                    "only used with redisHost; the embedded Redis always has a generated "
                    "password and port 6379",
                )

    def convert_components(self, spec: dict[str, Any]) -> None:
        for key, method in (
            ("scheduler", self.convert_scheduler),
            ("ui", self.convert_ui),
            ("worker", self.convert_worker),
            ("flower", self.convert_flower),
        ):
            if key in spec:
                method(spec[key], self.at_cluster(f"spec.{key}"))

    def airflow_image(self, part: dict[str, Any], where: str) -> None:
        tag = _default("cluster.image.tag")
        self.image(part, where, f"apache/airflow:{tag}: Airflow 1.10 images cannot run the chart's Airflow 3")

    def convert_scheduler(self, part: dict[str, Any], where: str) -> None:
        self.airflow_image(part, where)
        self.resources("cluster.scheduler.resources", part.get("resources"), where)
        kind = self.out.base["database"]["type"]
        for field_name, value_key in (("database", "database"), ("dbuser", "user")):
            if part.get(field_name):
                _set(self.out.base, f"database.{kind}.{value_key}", part[field_name])

    def convert_ui(self, part: dict[str, Any], where: str) -> None:
        """AirflowUISpec: the webserver, which Airflow 3's api-server replaces."""
        self.airflow_image(part, where)
        _set(self.out.cluster, "apiServer.replicas", self.replicas(part, where))
        self.resources("cluster.apiServer.resources", part.get("resources"), where)

    def convert_worker(self, part: dict[str, Any], where: str) -> None:
        if self.executor == "LocalExecutor":
            self.warn(where, "no workers with the Local executor (tasks run in the scheduler); dropped")
            return
        self.airflow_image(part, where)
        if self.executor == CELERY:
            _set(self.out.cluster, "workers.replicas", self.replicas(part, where))
            self.resources("cluster.workers.resources", part.get("resources"), where)
            return
        if part.get("replicas"):
            self.warn(
                f"{where}.replicas",
                "the Kubernetes executor starts one pod per task (the operator ran no worker pods); dropped",
            )
        self.resources("cluster.kubernetes.resources", part.get("resources"), where)

    def convert_flower(self, part: dict[str, Any], where: str) -> None:
        if self.executor != CELERY:
            self.warn(where, "Flower needs the Celery executor; dropped")
            return
        _set(self.out.cluster, "flower.enabled", True)
        self.airflow_image(part, where)
        if (count := self.replicas(part, where)) > 1:
            self.warn(f"{where}.replicas", f"{count}: the chart runs one Flower")
        self.resources("cluster.flower.resources", part.get("resources"), where)

    def convert_dags(self, dags: dict[str, Any], where: str) -> None:
        """DagSpec: git wins (as in the operator), then the claim; GCS and S3 copies have no mode."""
        if dags.get("storage"):
            self.convert_dag_storage(dags["storage"], f"{where}.storage")
        if dags.get("gcs"):
            gcs = dags["gcs"]
            self.warn(
                f"{where}.gcs",
                f"DAGs from a GCS bucket ({gcs.get('bucket') or 'no bucket'}) have no "
                "equivalent mode: bake them into the image (images/airflow-dags) or sync the bucket into "
                "a persistentVolume claim",
            )
        if "git" in dags:
            self.convert_git(dags["git"], dags.get("subdir"), f"{where}.git")
            if dags.get("nfspv"):
                self.warn(
                    f"{where}.nfspv", "git wins (the operator read DAGs from git); the claim is not used"
                )
        elif dags.get("nfspv"):
            self.convert_nfspv(dags["nfspv"], dags.get("subdir"), f"{where}.nfspv")
        elif dags.get("subdir"):
            self.warn(f"{where}.subdir", "without git or nfspv has no equivalent")

    def convert_dag_storage(self, storage: dict[str, Any], where: str) -> None:
        provider = storage.get("storageprovider") or "s3"
        config = f" (config {_listed(storage['config'])})" if storage.get("config") else ""
        secret = f" with Secret {storage['secretRef'].get('name')}" if storage.get("secretRef") else ""
        self.warn(
            where,
            f"DAGs copied from {provider} storage{config}{secret} have no equivalent mode: bake "
            "them into the image (images/airflow-dags) or copy them into a persistentVolume claim",
        )

    def convert_git(self, git: dict[str, Any], subdir: str | None, where: str) -> None:
        if not git.get("repo"):
            raise ValuesError(f"{where}.repo is required")
        # git-sync checked out rev on branch; the operator's branch default was master.
        repo: dict[str, Any] = {
            "name": "dags",
            "url": git["repo"],
            "ref": git.get("rev") or git.get("branch") or "master",
        }
        if git.get("rev") and git.get("branch"):
            self.warn(where, f"rev {git['rev']} pins the commit; branch {git['branch']} is not used")
        if subdir and subdir.strip("/"):
            repo["subPath"] = subdir.strip("/")
        if "cred" in git:
            repo["credentialsSecret"] = self.convert_cred(git["cred"], git, f"{where}.cred")
        elif git.get("user"):
            self.warn(
                f"{where}.user", "only used with cred (the operator sent it with the password); dropped"
            )
        _set(
            self.out.cluster,
            "dags",
            {"mode": "gitInit" if git.get("once") else "gitSync", "git": {"repos": [repo]}},
        )

    def convert_cred(self, cred: dict[str, Any], git: dict[str, Any], where: str) -> str:
        """The git credentials Secret: the operator read its key password, the chart reads
        username and password (HTTPS) or ssh-privatekey (SSH)."""
        name = cred.get("name")
        if not name:
            raise ValuesError(f"{where}.name is required")
        if re.match(r"^(ssh://|[\w.-]+@[\w.-]+:)", git["repo"]):
            self.warn(
                where,
                f"Secret {name} must hold key ssh-privatekey (a kubernetes.io/ssh-auth Secret); then "
                "set cluster.dags.git.knownHosts",
            )
        else:
            user = f"username: {git['user']}" if git.get("user") else "username"
            self.warn(
                where,
                f"Secret {name} must hold keys {user} and password (token); the operator read only "
                "password and took the user name from spec.dags.git.user",
            )
        return name

    def convert_nfspv(self, claim: dict[str, Any], subdir: str | None, where: str) -> None:
        """A claim holding the DAGs: mode persistentVolume with a claim the chart creates."""
        name = (claim.get("metadata") or {}).get("name")
        _set(self.out.cluster, "dags.mode", "persistentVolume")
        self.claim(claim, "cluster.dags.persistentVolume", where, access_modes=True)
        if subdir and subdir.strip("/"):
            _set(self.out.cluster, "dags.persistentVolume.subPath", subdir.strip("/"))
        keep = (
            f"; to mount the existing claim {name} instead, set cluster.dags.persistentVolume.existingClaim"
            if name
            else ""
        )
        self.warn(
            where, f"the chart creates a claim with this size and class: copy your DAG files into it{keep}"
        )

    def convert(self) -> Conversion:
        self.convert_base(self.base.get("spec") or {})
        self.convert_cluster(self.cluster.get("spec") or {})
        return self.out


# ---------------------------------------------------------------- files and releases


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
    cluster_values = {
        **conv.common,
        "base": {"enabled": False, **mirrored},
        "cluster": {**conv.cluster, "airflowbase": {"name": base_release}},
    }
    return base, cluster_values


class _GoYamlLoader(yaml.SafeLoader):
    """YAML as the operator's tools read it: timestamps stay strings (metav1.Time is a string)."""


_GoYamlLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_resource(path: Path, kind: str) -> dict[str, Any]:
    if not path.is_file():
        raise ValuesError(f"{kind} file {path}: no such file")
    try:
        docs = [d for d in yaml.load_all(path.read_text(), Loader=_GoYamlLoader) if d]
    except yaml.YAMLError as err:
        raise ValuesError(f"{path}: not YAML: {' '.join(str(err).split())}") from None
    if len(docs) != 1:
        raise ValuesError(f"{path}: expected one {kind} resource, found {len(docs)} documents")
    return docs[0]


def convert_files(base: Path, cluster: Path) -> Conversion:
    converter = Converter(load_resource(base, "AirflowBase"), load_resource(cluster, "AirflowCluster"))
    try:
        conv = converter.convert()
    except (TypeError, ValueError, AttributeError, KeyError) as err:
        if isinstance(err, ValuesError):
            raise
        # The shape check admits only what the converter handles; reaching this is a bug here.
        raise ValuesError(
            f"{base.name} / {cluster.name}: cannot convert ({type(err).__name__}: {err}); "
            "this is a chart-tools bug, please report it"
        ) from None
    if errors := schema_errors(combined(conv)):  # e.g. access modes the chart does not offer
        raise ValuesError(f"the converted values do not pass the chart's schema: {errors[0]}")
    return conv
