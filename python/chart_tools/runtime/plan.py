"""Turn rendered objects into local processes: the runtime tier's emulation of a kubelet.

For each pod (the migration Job, every Deployment/StatefulSet) and each of its containers we
resolve what Kubernetes would resolve: env values, `secretKeyRef`/`configMapKeyRef`, `$(VAR)`
expansion, ConfigMap/Secret/emptyDir/claim mounts (materialised under the pod's own root), the
container ports and the Services in front of them. Anything that cannot be resolved is an error
naming the object and field: a chart bug must fail here rather than be papered over.

Three things cannot be identical on one host, so they are mapped, and every mapping is derived
from the rendered objects (never from hard-coded chart knowledge):
- paths: a container path P becomes <pod root>/P; Airflow options holding such paths (and
  AIRFLOW_HOME, the image's) are overridden with the mapped path through AIRFLOW__ env vars,
  and container arguments naming such paths are rewritten;
- listening ports: each Airflow server option gets a free local port, and every declared
  containerPort must be one Airflow really listens on;
- Service names: URLs in Airflow options and container args that name a Service are rewritten
  to 127.0.0.1 and the local port behind Service port -> targetPort -> containerPort (or, for
  another release's Service, the local port the caller names).
The git-sync image runs as its stand-in (chart_tools.runtime.gitsync) with the same arguments;
PgBouncer's container runs Debian's pgbouncer on the rendered configuration, its exporter a
stand-in (chart_tools.runtime.pgbouncer).
"""

from __future__ import annotations

import base64
import configparser
import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chart_tools.chart.formats import quantity
from chart_tools.chart.render import NAMESPACE, Manifest
from chart_tools.runtime import gitsync, pgbouncer
from chart_tools.runtime.services import free_port

IMAGE_AIRFLOW_HOME = "/opt/airflow"  # AIRFLOW_HOME of the official apache/airflow image
# Airflow options that make a process listen, with Airflow's defaults when unset.
LISTEN_OPTIONS: dict[tuple[str, str], str] = {
    ("api", "port"): "8080",
    ("scheduler", "scheduler_health_check_server_port"): "8974",
    ("logging", "worker_log_server_port"): "8793",
    ("logging", "trigger_log_server_port"): "8794",
    ("celery", "flower_port"): "5555",
}
# Log servers: the api-server fetches a task's log from <task's hostname>:<its own value of the
# option>. In a cluster every pod has its own address and the same port; here every process shares
# one host, so each of these options gets one local port for the whole run, the same in every process.
LOG_SERVER_OPTIONS = (("logging", "worker_log_server_port"), ("logging", "trigger_log_server_port"))
# Airflow options naming a server as host and port options (not a URL).
HOST_PORT_OPTIONS = [(("metrics", "statsd_host"), ("metrics", "statsd_port"))]
POD_KINDS = ("Job", "Deployment", "StatefulSet")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_LOOPBACK = re.compile(r"((?:@|//)(?:127\.0\.0\.1|localhost):)(\d+)\b")  # a URL's host:port
_URL = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?:(?P<auth>[^@/\s]*)@)?(?P<host>[A-Za-z0-9.-]+):(?P<port>\d+)"
)


class RunPlanError(ValueError):
    """The rendered objects cannot run as they are: names the object and the field."""


@dataclass
class Process:
    """One container, ready to start as a local process."""

    pod: str
    container: str
    argv: list[str]
    env: dict[str, str]
    root: Path
    options: dict[tuple[str, str], str]  # Airflow options as rendered (airflow.cfg + env), unmapped
    mounts: dict[str, Path]  # container mount path -> local folder or file holding its content
    ports: dict[str, int] = field(default_factory=dict)  # container port name or number -> local port
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    grace: int = 30  # the pod's terminationGracePeriodSeconds (Kubernetes' default: 30)
    nice: int = 0  # CPU priority: the runtime lets the first DAG run's path go first on few cores

    @property
    def name(self) -> str:
        return f"{self.pod}/{self.container}"


@dataclass
class PodPlan:
    """A pod: init containers run to completion in order, then the main containers start."""

    name: str
    kind: str
    labels: dict[str, str]
    root: Path
    init: list[Process]
    main: list[Process]
    token: bool  # the pod mounts a service-account token (may call the Kubernetes API)
    restart_policy: str = "Always"
    backoff_limit: int = 6  # a Job's failures allowed before it fails (Kubernetes' default: 6)
    service_account: str = "default"


@dataclass
class RunPlan:
    migration: PodPlan
    workloads: list[PodPlan]
    endpoints: dict[tuple[str, str], int]  # (Service name, Service port) -> local port
    services: set[str] = field(default_factory=set)  # Service names that URLs may name
    log_ports: dict[tuple[str, str], int] = field(default_factory=dict)  # see LOG_SERVER_OPTIONS

    def pod(self, component: str) -> PodPlan:
        for pod in [self.migration, *self.workloads]:
            if pod.labels.get("app.kubernetes.io/component") == component:
                return pod
        raise RunPlanError(f"no pod with component {component}")


# ---------------------------------------------------------------- object look-ups


class Cluster:
    """The objects a pod may refer to: the render plus objects the user created beforehand, in
    the release's namespace."""

    def __init__(
        self,
        objects: list[Manifest],
        namespace: str = NAMESPACE,
        log_ports: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.objects = objects
        self.namespace = namespace
        self._by_key = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        # One port per log server for the whole run (see LOG_SERVER_OPTIONS).
        self.log_ports = log_ports or {option: free_port() for option in LOG_SERVER_OPTIONS}

    def has(self, kind: str, name: str) -> bool:
        return (kind, name) in self._by_key

    def get(self, kind: str, name: str, where: str) -> Manifest:
        try:
            return self._by_key[(kind, name)]
        except KeyError:
            raise RunPlanError(f"{where}: {kind} {name!r} does not exist") from None

    def data(self, kind: str, name: str, where: str) -> dict[str, str]:
        """String data of a ConfigMap or Secret (Secrets decoded)."""
        obj = self.get(kind, name, where)
        if kind == "Secret":
            decoded = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
            return {**decoded, **(obj.get("stringData") or {})}
        return dict(obj.get("data") or {})

    def of_kind(self, *kinds: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] in kinds]


def job_spec(obj: Manifest) -> dict[str, Any]:
    """The spec that holds an object's pod template: a CronJob's job template, or its own."""
    return obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]


def pod_template(obj: Manifest) -> dict[str, Any]:
    """The pod an object runs: a workload's template, or a Pod itself (metadata and spec)."""
    return (
        {"metadata": obj["metadata"], "spec": obj["spec"]}
        if obj["kind"] == "Pod"
        else job_spec(obj)["template"]
    )


# ---------------------------------------------------------------- env


def expand(value: str, env: dict[str, str], where: str) -> str:
    """Kubernetes `$(VAR)` expansion against variables defined earlier; `$$` escapes."""

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        if match[1] not in env:
            raise RunPlanError(f"{where}: $({match[1]}) refers to no variable defined before it")
        return env[match[1]]

    return _VAR_REF.sub(replace, value)


def _key_ref(cluster: Cluster, kind: str, ref: dict[str, Any], where: str) -> str | None:
    if ref.get("optional") and not cluster.has(kind, ref["name"]):
        return None
    data = cluster.data(kind, ref["name"], where)
    if ref["key"] not in data:
        if ref.get("optional"):
            return None
        raise RunPlanError(f"{where}: {kind} {ref['name']!r} has no key {ref['key']!r}")
    return data[ref["key"]]


def _field_ref(pod: dict[str, Any], path: str, where: str) -> str:
    """The downward API's `fieldRef`: the pod's name, namespace, labels, annotations and addresses."""
    meta, spec = pod["metadata"], pod["spec"]
    fields = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "spec.nodeName": "localhost",
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if m := re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path):
        return (meta.get(m[1]) or {}).get(m[2], "")
    if path not in fields:
        raise RunPlanError(f"{where}: fieldRef {path} is not emulated")
    return fields[path]


def _resource_ref(pod: dict[str, Any], ref: dict[str, Any], container: str, where: str) -> str:
    """The downward API's `resourceFieldRef`: a request or limit of a container, in `divisor` units
    rounded up, as the kubelet writes it. An unset limit would be the node's capacity: not emulated."""
    name = ref.get("containerName") or container
    spec = next((c for c in pod["spec"]["containers"] if c["name"] == name), None)
    kind, _, resource = ref["resource"].partition(".")
    amount = quantity(((spec or {}).get("resources", {}).get(kind) or {}).get(resource, ""))
    if spec is None or amount is None:
        raise RunPlanError(f"{where}: resourceFieldRef {ref['resource']} of {name} is not set")
    divisor = quantity(ref.get("divisor", "1")) or 1
    return str(math.ceil(amount / divisor))


def resolve_env(
    container: dict[str, Any], cluster: Cluster, pod: dict[str, Any], where: str
) -> dict[str, str]:
    """The container's environment as Kubernetes would set it (envFrom first, then env). `pod`
    (metadata and spec) answers the downward API."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in source:
                prefix = source.get("prefix", "")
                data = cluster.data(kind, source[key]["name"], f"{where}.envFrom")
                env.update({prefix + k: v for k, v in data.items()})
    for item in container.get("env") or []:
        name, here = item["name"], f"{where}.env[{item['name']}]"
        if "value" in item:
            env[name] = expand(str(item["value"]), env, here)
            continue
        source = item.get("valueFrom") or {}
        value: str | None
        if "secretKeyRef" in source:
            value = _key_ref(cluster, "Secret", source["secretKeyRef"], here)
        elif "configMapKeyRef" in source:
            value = _key_ref(cluster, "ConfigMap", source["configMapKeyRef"], here)
        elif "fieldRef" in source:
            value = _field_ref(pod, source["fieldRef"]["fieldPath"], here)
        elif "resourceFieldRef" in source:
            value = _resource_ref(pod, source["resourceFieldRef"], container["name"], here)
        else:
            raise RunPlanError(f"{here}: unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[name] = value
    return env


# ---------------------------------------------------------------- volumes


def local_path(root: Path, container_path: str) -> Path:
    return root / container_path.lstrip("/")


def _write_keys(target: Path, data: dict[str, str], items: list[dict[str, str]] | None) -> None:
    target.mkdir(parents=True, exist_ok=True)
    chosen = {i["key"]: i["path"] for i in items} if items else {k: k for k in data}
    for key, path in chosen.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(data[key])


def materialise_mounts(
    spec: dict[str, Any], container: dict[str, Any], cluster: Cluster, root: Path, shared: Path, where: str
) -> dict[str, Path]:
    """Create every mount of the container under `root`; map each mount path to where its content
    lives (a claim is one folder under `shared`, seen by every pod that mounts it)."""
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    paths: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        here = f"{where}.volumeMounts[{mount['mountPath']}]"
        volume = volumes.get(mount["name"])
        if volume is None:
            raise RunPlanError(f"{here}: volume {mount['name']!r} is not declared in the pod")
        target = paths[mount["mountPath"]] = local_path(root, mount["mountPath"])
        if "configMap" in volume or "secret" in volume:
            kind, source = (
                ("ConfigMap", volume["configMap"]) if "configMap" in volume else ("Secret", volume["secret"])
            )
            name = source.get("name") or source.get("secretName")
            data = cluster.data(kind, name, here)
            if "subPath" in mount:
                if mount["subPath"] not in data:
                    raise RunPlanError(f"{here}: {kind} {name!r} has no key {mount['subPath']!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data[mount["subPath"]])
            else:
                _write_keys(target, data, source.get("items"))
        elif "emptyDir" in volume:
            target.mkdir(parents=True, exist_ok=True)
        elif "persistentVolumeClaim" in volume:
            claim_name = volume["persistentVolumeClaim"]["claimName"]
            claim = shared / "claims" / claim_name / mount.get("subPath", "")
            claim.mkdir(parents=True, exist_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.symlink_to(claim)
            paths[mount["mountPath"]] = claim
        else:
            raise RunPlanError(f"{here}: volume type {sorted(set(volume) - {'name'})} is not emulated")
    return paths


# ---------------------------------------------------------------- Airflow options


def env_name(section: str, key: str) -> str:
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def effective_options(root: Path, env: dict[str, str]) -> dict[tuple[str, str], str]:
    """airflow.cfg at the image's AIRFLOW_HOME (as mounted), overlaid with AIRFLOW__ env vars."""
    options: dict[tuple[str, str], str] = {}
    cfg_file = local_path(
        root, env.get("AIRFLOW_CONFIG", f"{env.get('AIRFLOW_HOME', IMAGE_AIRFLOW_HOME)}/airflow.cfg")
    )
    if cfg_file.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(cfg_file.read_text())
        options = {(s, k): v for s in parser.sections() for k, v in parser.items(s)}
    for name, value in env.items():
        parts = name.split("__")
        if len(parts) == 3 and parts[0] == "AIRFLOW" and parts[1] and parts[2]:
            options[(parts[1].lower(), parts[2].lower())] = value
    return options


def mapped_json(value: str, mapped: Callable[[str], bool], root: Path) -> str:
    """A JSON option with every mapped absolute path inside it moved into the pod root."""
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        return value

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str) and node.startswith("/") and mapped(node):
            return str(local_path(root, node))
        return node

    new = walk(data)
    return value if new == data else json.dumps(new)


def mapped_query(value: str, mapped: Callable[[str], bool], root: Path) -> str:
    """A URL with every mapped absolute path among its query values moved into the pod root."""
    base, _, query = value.partition("?")
    params = []
    for param in query.split("&"):
        name, eq, path = param.partition("=")
        params.append(
            f"{name}={local_path(root, path)}" if eq and path.startswith("/") and mapped(path) else param
        )
    return f"{base}?{'&'.join(params)}"


def local_arg(arg: str, mapped: Callable[[str], bool], root: Path) -> str:
    """A container argument with a mapped absolute path (`/p` or `--flag=/p`) moved into the pod root."""
    flag, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    if value.startswith("/") and mapped(value):
        local = local_path(root, value)
        # A claim's mount point is a symlink to the claim's folder: name the folder, which tools
        # that do not follow symlinks (find) see as the mount it is in the pod.
        return f"{flag}{eq}{local.resolve() if local.is_symlink() else local}"
    return arg


def under(roots: list[str]) -> Callable[[str], bool]:
    """Whether a container path lies under one of `roots` (mount paths, AIRFLOW_HOME)."""
    return lambda value: any(value == r or value.startswith(r.rstrip("/") + "/") for r in roots)


def path_overrides(
    options: dict[tuple[str, str], str], env: dict[str, str], roots: list[str], root: Path
) -> dict[str, str]:
    """Env overrides moving every Airflow path option under a mapped prefix into the pod root."""
    mapped = under(roots)
    home = env.get("AIRFLOW_HOME", IMAGE_AIRFLOW_HOME)
    overrides = {"AIRFLOW_HOME": str(local_path(root, home)), "HOME": str(local_path(root, "/home/airflow"))}
    if "/tmp" in roots:
        overrides["TMPDIR"] = str(local_path(root, "/tmp"))
    for (section, key), value in options.items():
        if value.startswith("/") and mapped(value):
            overrides[env_name(section, key)] = str(local_path(root, value))
        elif value.startswith("[") and (new := mapped_json(value, mapped, root)) != value:
            overrides[env_name(section, key)] = new  # e.g. DAG bundle paths
        elif "?" in value and (new := mapped_query(value, mapped, root)) != value:
            overrides[env_name(section, key)] = new  # e.g. sslrootcert= in the database URL
    for name, value in env.items():
        if not name.startswith("AIRFLOW__") and value.startswith("/") and mapped(value):
            overrides[name] = str(local_path(root, value))
    return overrides


def port_overrides(
    options: dict[tuple[str, str], str],
    container: dict[str, Any],
    where: str,
    log_ports: dict[tuple[str, str], int],
) -> tuple[dict[str, str], dict[str, int]]:
    """Local ports for Airflow's listening options (free ones, the run's own for log servers); map
    declared container ports onto them."""
    overrides: dict[str, str] = {}
    by_container_port: dict[str, int] = {}
    for (section, key), default in LISTEN_OPTIONS.items():
        local = log_ports.get((section, key)) or free_port()
        overrides[env_name(section, key)] = str(local)
        by_container_port[options.get((section, key), default)] = local
    ports: dict[str, int] = {}
    for port in container.get("ports") or []:
        number = str(port["containerPort"])
        if number not in by_container_port:
            listening = sorted(by_container_port)
            raise RunPlanError(
                f"{where}.ports: containerPort {number} is not a port Airflow listens on ({listening})"
            )
        ports[number] = by_container_port[number]
    return overrides, ports


def named_ports(container: dict[str, Any], ports: dict[str, int], where: str) -> dict[str, int]:
    """Container port names -> the local ports behind their numbers (probes and Services name them)."""
    named = {}
    for port in container.get("ports") or []:
        number = str(port["containerPort"])
        if number not in ports:
            raise RunPlanError(f"{where}.ports: containerPort {number} is not one the container listens on")
        if "name" in port:
            named[port["name"]] = ports[number]
    return named


# ---------------------------------------------------------------- Services


def _selects(service: Manifest, labels: dict[str, str]) -> bool:
    selector = service["spec"].get("selector") or {}
    return bool(selector) and selector.items() <= labels.items()


def service_endpoints(cluster: Cluster, pods: list[PodPlan]) -> dict[tuple[str, str], int]:
    """(service name, service port) -> local port of the container behind it."""
    endpoints: dict[tuple[str, str], int] = {}
    for service in cluster.of_kind("Service"):
        name = service["metadata"]["name"]
        backing = [p for p in pods if _selects(service, p.labels)]
        for port in service["spec"]["ports"]:
            target = str(port.get("targetPort", port["port"]))
            for pod in backing:
                for process in pod.main:
                    if target in process.ports:
                        endpoints[(name, str(port["port"]))] = process.ports[target]
    return endpoints


def _local_url(
    match: re.Match[str], services: set[str], endpoints: dict[tuple[str, str], int], where: str
) -> str:
    """One URL: unchanged unless its host is a Service name, then 127.0.0.1 and the local port."""
    host = match["host"].split(".")[0] if ".svc" in match["host"] else match["host"]
    if "." in host or host in ("localhost", "127.0.0.1"):
        return match[0]
    if host not in services:
        raise RunPlanError(f"{where} names host {host!r}, which is no Service of this release")
    if (host, match["port"]) not in endpoints:
        raise RunPlanError(f"{where} names {host}:{match['port']}, but no running container serves that port")
    auth = f"{match['auth']}@" if match["auth"] is not None else ""
    return f"{match['scheme']}{auth}127.0.0.1:{endpoints[(host, match['port'])]}"


def local_urls(value: str, services: set[str], endpoints: dict[tuple[str, str], int], where: str) -> str:
    """`value` with every in-cluster URL in it pointed at the local port behind the named Service."""
    return _URL.sub(lambda m: _local_url(m, services, endpoints, where), value)


def rewrite_urls(
    options: dict[tuple[str, str], str], services: set[str], endpoints: dict[tuple[str, str], int], where: str
) -> dict[str, str]:
    """Env overrides pointing the in-cluster URLs (and host/port pairs) of Airflow options at local ports."""
    overrides = {}
    for (section, key), value in options.items():
        new = local_urls(value, services, endpoints, f"{where}: [{section}] {key}")
        if new != value:
            overrides[env_name(section, key)] = new
    for host_option, port_option in HOST_PORT_OPTIONS:
        service, port = options.get(host_option, "").split(".")[0], options.get(port_option, "")
        if service in services:
            if (service, port) not in endpoints:
                raise RunPlanError(f"{where}: {host_option} names {service}:{port}, which nothing serves")
            overrides[env_name(*host_option)] = "127.0.0.1"
            overrides[env_name(*port_option)] = str(endpoints[(service, port)])
    return overrides


# ---------------------------------------------------------------- planning


def image_repository(image: str) -> str:
    """The repository part of an image reference (no tag, no digest)."""
    name = image.split("@")[0]
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


def _container_where(obj: Manifest, container: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']} container {container['name']}"


def plan_pod(obj: Manifest, cluster: Cluster, run_root: Path) -> PodPlan:
    """A workload's pod (named after its component) or a Pod created through the API (named
    after itself), with its folders under `run_root/pods/<name>`."""
    template = pod_template(obj)
    spec = template["spec"]
    labels = template["metadata"].get("labels") or {}
    if obj["kind"] == "Pod":
        name = obj["metadata"]["name"]
    else:
        name = labels.get("app.kubernetes.io/component", obj["metadata"]["name"])
    pod = {"metadata": {**template["metadata"], "name": obj["metadata"]["name"]}, "spec": spec}
    pod["metadata"].setdefault("namespace", cluster.namespace)
    root = run_root / "pods" / name
    if root.exists():
        shutil.rmtree(root)

    def process(container: dict[str, Any]) -> Process:
        where = _container_where(obj, container)
        env = resolve_env(container, cluster, pod, where)
        mounts = materialise_mounts(spec, container, cluster, root, run_root, where)
        options = effective_options(root, env)
        overrides = path_overrides(options, env, [IMAGE_AIRFLOW_HOME, *mounts], root)
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        mapped = under([IMAGE_AIRFLOW_HOME, *mounts])
        argv = [local_arg(expand(str(a), env, f"{where}.args"), mapped, root) for a in argv]
        port_env: dict[str, str] = {}
        if image_repository(container["image"]) == gitsync.IMAGE:
            argv, ports = gitsync.plan(argv)
        elif argv[:1] == [pgbouncer.COMMAND]:
            argv, ports = pgbouncer.plan(argv, lambda path: local_path(root, path))
        elif container["image"].startswith(pgbouncer.EXPORTER_IMAGE):
            argv, ports = pgbouncer.plan_exporter(container)
        else:
            port_env, ports = port_overrides(options, container, where, cluster.log_ports)
        ports |= named_ports(container, ports, where)
        if not argv:
            raise RunPlanError(f"{where}: no command or args: the image's default command is not emulated")
        probes = {
            k: container[k] for k in ("startupProbe", "livenessProbe", "readinessProbe") if k in container
        }
        local_path(root, "/home/airflow").mkdir(parents=True, exist_ok=True)
        env = {**env, **overrides, **port_env}
        grace = spec.get("terminationGracePeriodSeconds", 30)
        return Process(name, container["name"], argv, env, root, options, mounts, ports, probes, grace)

    init = [process(c) for c in spec.get("initContainers") or []]
    main = [process(c) for c in spec["containers"]]
    share_loopback(init + main)
    return PodPlan(
        name=name,
        kind=obj["kind"],
        labels=labels,
        root=root,
        init=init,
        main=main,
        token=spec.get("automountServiceAccountToken", True),
        service_account=spec.get("serviceAccountName", "default"),
        restart_policy=spec.get("restartPolicy", "Always"),
        backoff_limit=job_spec(obj).get("backoffLimit", 6),
    )


def share_loopback(processes: list[Process]) -> None:
    """Containers of a pod share its network: in their env, 127.0.0.1:<containerPort> of a
    container of the pod is that container's local port (e.g. an exporter beside its server)."""
    ports = {number: local for p in processes for number, local in p.ports.items() if number.isdigit()}

    def local(match: re.Match[str]) -> str:
        return f"{match[1]}{ports.get(match[2], match[2])}"

    for process in processes:
        process.env = {k: _LOOPBACK.sub(local, v) for k, v in process.env.items()}


def wire(pod: PodPlan, services: set[str], endpoints: dict[tuple[str, str], int]) -> None:
    """Point the URLs (and host/port pairs) a pod's containers use at the local ports behind the
    Services they name."""
    for process in pod.init + pod.main:
        process.env.update(rewrite_urls(process.options, services, endpoints, process.name))
        process.argv = [local_urls(a, services, endpoints, f"{process.name} args") for a in process.argv]


def build_plan(
    objects: list[Manifest], run_root: Path, external: dict[tuple[str, str], int] | None = None
) -> RunPlan:
    """Plan every pod of the render; Services are wired once every port is known. `external` maps
    (Service name, port) of Services outside this render (another release's) to local ports."""
    cluster = Cluster(objects)
    jobs = cluster.of_kind("Job")
    if len(jobs) != 1:
        raise RunPlanError(f"expected one migration Job in the render, found {len(jobs)}")
    workloads = [
        plan_pod(o, cluster, run_root)
        for o in cluster.of_kind("Deployment", "StatefulSet")
        if o["spec"].get("replicas", 1) != 0
    ]
    migration = plan_pod(jobs[0], cluster, run_root)
    endpoints = {**(external or {}), **service_endpoints(cluster, workloads)}
    services = {s["metadata"]["name"] for s in cluster.of_kind("Service")} | {s for s, _ in external or {}}
    for pod in [migration, *workloads]:
        wire(pod, services, endpoints)
    return RunPlan(migration, workloads, endpoints, services, cluster.log_ports)
