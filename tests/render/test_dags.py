"""DAG sources: every DAG-reading container sees the same files at the same path, in every mode.

git-sync cannot run here (no container registry, no cluster), so its containers are checked
against git-sync v4's documented flags (tests/data/git-sync-v4-flags.yaml, transcribed from its
manual) and the layout it publishes (--root/--link) against the folders Airflow reads.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from chart_tools import CHART, ROOT
from chart_tools.chart import values
from chart_tools.chart.render import RenderError, find, render
from chart_tools.chart.validate import validate
from tests.helpers import airflow_cfg, deployment, of_kind, pod_of
from tests.render.test_executors import EXECUTORS, executor_set

PROFILES = {mode: ROOT / "values" / f"dags-{choice}.yaml" for choice, mode in values.DAG_MODES.items()}
FLAGS = yaml.safe_load((Path(__file__).parents[1] / "data" / "git-sync-v4-flags.yaml").read_text())
GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
GIT_SYNC_IMAGE = "registry.k8s.io/git-sync/git-sync:"
KNOWN_HOSTS = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
TWO_REPOS = [
    "cluster.dags.mode=gitSync",
    "cluster.dags.git.repos[0].name=main",
    "cluster.dags.git.repos[0].url=https://git.example.com/data/dags.git",
    "cluster.dags.git.repos[0].credentialsSecret=git-token",
    "cluster.dags.git.repos[0].subPath=airflow/dags",
    "cluster.dags.git.repos[1].name=team-b",
    "cluster.dags.git.repos[1].url=git@github.com:example/team-b.git",
    "cluster.dags.git.repos[1].credentialsSecret=team-b-key",
    f"cluster.dags.git.knownHosts={KNOWN_HOSTS}",
]


def task_pod(objects):
    """The KubernetesExecutor's worker pod template, as the scheduler reads it."""
    configmap = find(objects, "ConfigMap", "-pod-template")
    return yaml.safe_load(configmap["data"]["pod_template_file.yaml"])["spec"]


def pods(objects):
    """Every pod spec of the render by component, the task pod template included."""
    found = {
        o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]: pod_of(o)
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }
    if any(o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-pod-template") for o in objects):
        found["task"] = task_pod(objects)
    return found


def expected_readers(executor):
    readers = {"dag-processor", "triggerer"}
    readers |= {"worker"} if "Celery" in executor else set()
    readers |= {"task"} if "Kubernetes" in executor else set()
    readers |= {"scheduler"} if executor == "LocalExecutor" else set()
    return readers


def dag_view(pod, path):
    """(volume source, mount) through which a pod's main container sees `path`, or None."""
    main = pod["containers"][0]
    mount = next((m for m in main.get("volumeMounts", []) if m["mountPath"] == path), None)
    if mount is None:
        return None
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return {k: v for k, v in volume.items() if k != "name"}, mount


def git_sync_containers(pod):
    return [
        c for c in pod.get("initContainers", []) + pod["containers"] if c["image"].startswith(GIT_SYNC_IMAGE)
    ]


def flag_args(c):
    """--flag[=value] arguments as a dict (a bare flag maps to None)."""
    args = {}
    for arg in c["args"]:
        assert arg.startswith("--"), f"{c['name']}: positional argument {arg!r}"
        name, _, value = arg[2:].partition("=")
        args[name] = value if "=" in arg else None
    return args


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("mode", PROFILES)
def test_every_reader_sees_the_same_source_at_the_same_path(mode, executor, helm_major):
    # Zero findings for each mode x executor: the profiles are scenarios of
    # test_executors.test_every_executor_and_scenario_validates.
    objects = render([PROFILES[mode]], executor_set(executor), helm_major=helm_major)
    cfg = airflow_cfg(objects)
    path = cfg["core"]["dags_folder"]
    assert path == "/opt/airflow/dags"
    views = {component: dag_view(pod, path) for component, pod in pods(objects).items()}
    readers = expected_readers(executor)
    if mode == "image":
        assert not any(views.values())  # the image's own folder
        return
    assert {c for c, view in views.items() if view} == readers
    reader_views = [views[c] for c in readers]
    assert all(view == reader_views[0] for view in reader_views)
    source, mount = reader_views[0]
    assert mount["readOnly"] is True
    if mode == "persistentVolume":
        assert source == {"persistentVolumeClaim": {"claimName": "airflow-dags", "readOnly": True}}
        assert mount["subPath"] == "dags"
    else:
        assert source == {"emptyDir": {}}


@pytest.fixture
def two_repos(helm_major):
    return render(
        set_values=executor_set("CeleryExecutor,KubernetesExecutor") + TWO_REPOS, helm_major=helm_major
    )


def test_git_sync_arguments_are_documented_git_sync_v4_flags(two_repos):
    checked = 0
    for component, pod in pods(two_repos).items():
        for c in git_sync_containers(pod):
            args = flag_args(c)
            assert {"repo", "root", "link"} <= set(args), c["name"]
            for name, value in args.items():
                kind = FLAGS.get(name)
                assert kind is not None, f"{component}/{c['name']}: --{name} is no git-sync v4 flag"
                if kind == "bool":
                    assert value in (None, "true", "false"), f"--{name}={value}"
                elif kind == "int":
                    assert re.fullmatch(r"-?[0-9]+", value), f"--{name}={value}"
                elif kind == "duration":
                    assert GO_DURATION.match(value), f"--{name}={value}"
                elif isinstance(kind, list):
                    assert value in kind, f"--{name}={value}"
                else:
                    assert value, f"--{name} needs a value"
            documented_env = {"GITSYNC_" + f.upper().replace("-", "_") for f in FLAGS}
            for env in c.get("env", []):
                assert env["name"] in documented_env | {"HOME"}, env["name"]
            checked += 1
    assert checked == 2 * (1 + 1 + 1 + 1) + 2 * 3  # 2 repos: clone in 4 readers + sidecar in 3


def test_git_sync_publishes_exactly_the_folders_airflow_reads(two_repos):
    path = airflow_cfg(two_repos)["core"]["dags_folder"]
    bundles = json.loads(airflow_cfg(two_repos)["dag_processor"]["dag_bundle_config_list"])
    assert [(b["name"], b["classpath"]) for b in bundles] == [
        ("main", "airflow.dag_processing.bundles.local.LocalDagBundle"),
        ("team-b", "airflow.dag_processing.bundles.local.LocalDagBundle"),
    ]
    for component, pod in pods(two_repos).items():
        syncs = git_sync_containers(pod)
        if not syncs:
            continue
        airflow_mount = dag_view(pod, path)[1]
        published = set()
        for c in syncs:
            args = flag_args(c)
            root, link = args["root"], args["link"]
            link = link if link.startswith("/") else f"{root}/{link}"
            # git-sync writes through the same volume Airflow reads, mounted at the same path.
            (mount,) = [m for m in c["volumeMounts"] if m["name"] == airflow_mount["name"]]
            assert mount["mountPath"] == path and not mount.get("readOnly")
            assert root.startswith(path + "/") and link.startswith(path + "/")
            assert not root.startswith(link + "/")
            published.add(link)
        # Airflow reads each repository's sub-path inside the folder git-sync publishes for it.
        assert published == {f"{path}/main", f"{path}/team-b"}, component
    assert [b["kwargs"]["path"] for b in bundles] == [f"{path}/main/airflow/dags", f"{path}/team-b"]


def test_git_sync_containers_per_pod(two_repos):
    pod_by = pods(two_repos)
    for component in ("dag-processor", "triggerer", "worker"):
        pod = pod_by[component]
        assert [c["name"] for c in pod["initContainers"]][:2] == ["git-clone-main", "git-clone-team-b"]
        assert [c["name"] for c in pod["containers"]][1:] == ["git-sync-main", "git-sync-team-b"]
        ports = [c["livenessProbe"]["httpGet"]["port"] for c in pod["containers"][1:]]
        assert [flag_args(c)["http-bind"] for c in pod["containers"][1:]] == [f":{p}" for p in ports]
        assert len(set(ports)) == 2
        assert all("one-time" in flag_args(c) for c in pod["initContainers"][:2])
    task = pod_by["task"]  # a task pod only needs the files once: clone, no sidecar
    assert [c["name"] for c in task["initContainers"]] == ["git-clone-main", "git-clone-team-b"]
    assert [c["name"] for c in task["containers"]] == ["base"]
    for component in ("api-server", "scheduler", "migrate"):
        assert not git_sync_containers(pod_by.get(component) or pod_of(of_kind(two_repos, "Job")[0]))


def test_git_credentials(two_repos):
    worker = pod_of(deployment(two_repos, "worker"))
    https, ssh = worker["containers"][1:]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in https["env"] if "valueFrom" in e}
    assert env == {
        "GITSYNC_USERNAME": {"name": "git-token", "key": "username"},
        "GITSYNC_PASSWORD": {"name": "git-token", "key": "password"},
    }
    args = flag_args(ssh)
    assert args["ssh"] is None and args["ssh-known-hosts"] == "true"
    volumes = {v["name"]: v for v in worker["volumes"]}
    key_mount = next(m for m in ssh["volumeMounts"] if m["mountPath"] + "/ssh" == args["ssh-key-file"])
    assert volumes[key_mount["name"]]["secret"]["secretName"] == "team-b-key"
    assert volumes[key_mount["name"]]["secret"]["items"] == [{"key": "ssh-privatekey", "path": "ssh"}]
    hosts_mount = next(
        m for m in ssh["volumeMounts"] if args["ssh-known-hosts-file"].startswith(m["mountPath"])
    )
    configmap = find(two_repos, "ConfigMap", volumes[hosts_mount["name"]]["configMap"]["name"])
    assert configmap["data"]["known_hosts"].strip() == KNOWN_HOSTS
    assert ssh["securityContext"]["runAsUser"] == 65533 != worker["securityContext"]["runAsUser"]


def test_ssh_without_known_hosts_fails_and_says_how_to_get_them(helm_major):
    no_hosts = [s for s in TWO_REPOS if not s.startswith("cluster.dags.git.knownHosts")]
    with pytest.raises(RenderError) as err:
        render(set_values=no_hosts, helm_major=helm_major)
    message = str(err.value)
    assert "cluster.dags.git.repos[1] (team-b) uses SSH" in message
    assert "cluster.dags.git.knownHosts" in message and "ssh-keyscan" in message
    assert "cluster.dags.git.sshInsecureSkipHostKeyCheck" in message
    objects = render(
        set_values=[*no_hosts, "cluster.dags.git.sshInsecureSkipHostKeyCheck=true"], helm_major=helm_major
    )
    ssh = pod_of(deployment(objects, "dag-processor"))["containers"][2]
    assert flag_args(ssh)["ssh-known-hosts"] == "false" and "ssh-known-hosts-file" not in flag_args(ssh)
    assert not validate(objects)


def repo(**fields):
    """--set values for a git mode with one repository."""
    return ["cluster.dags.mode=gitSync", *(f"cluster.dags.git.repos[0].{k}={v}" for k, v in fields.items())]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["cluster.dags.mode=gitInit"], "cluster.dags.mode is gitInit but cluster.dags.git.repos is empty"),
        (TWO_REPOS[1:3], "cluster.dags.git.repos is set but cluster.dags.mode is image"),
        ([*TWO_REPOS, "cluster.dags.git.repos[1].name=main"], "repos[1] (main): the name is used twice"),
        (
            [*repo(name="a", url="ssh://git@x.org/d.git"), f"cluster.dags.git.knownHosts={KNOWN_HOSTS}"],
            "cluster.dags.git.repos[0] (a): SSH URL ssh://git@x.org/d.git needs credentialsSecret",
        ),
        (
            repo(name="a", url="http://example.com/d.git", credentialsSecret="s"),
            "cluster.dags.git.repos[0] (a): credentialsSecret is set but http://example.com/d.git",
        ),
        (["cluster.dags.persistentVolume.existingClaim=x"], "dags.persistentVolume.existingClaim is set"),
        (repo(name="Main", url="u"), "cluster.dags.git.repos.0.name"),
        (repo(name="a", url="u", subPath="../etc"), "cluster.dags.git.repos.0.subPath"),
        (["cluster.dags.mode=git"], "cluster.dags.mode"),
        (["cluster.config.core.dags_folder=/dags"], "cluster.config.core.dags_folder is set by the chart"),
    ],
)
def test_bad_dag_settings_fail_naming_the_key(helm_major, overrides, message):
    with pytest.raises(RenderError) as err:
        render(set_values=overrides, helm_major=helm_major)
    # Helm 3 names schema paths a.b.0.c, Helm 4 /a/b/0/c.
    assert message.replace("/", ".") in str(err.value).replace("/", ".")


def test_persistent_volume_claim_created_by_the_chart(helm_major):
    objects = render(
        set_values=["cluster.dags.mode=persistentVolume", "cluster.dags.persistentVolume.storageClass=nfs"],
        helm_major=helm_major,
    )
    claim = find(objects, "PersistentVolumeClaim", "-dags")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"] and claim["spec"]["storageClassName"] == "nfs"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    source, mount = dag_view(pod_of(deployment(objects, "dag-processor")), "/opt/airflow/dags")
    assert source["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "subPath" not in mount
    assert not validate(objects)


def test_dags_path_is_one_value(helm_major):
    objects = render(
        set_values=["cluster.dags.mode=persistentVolume", "cluster.dags.path=/dags"], helm_major=helm_major
    )
    assert airflow_cfg(objects)["core"]["dags_folder"] == "/dags"
    assert dag_view(pod_of(deployment(objects, "triggerer")), "/dags") is not None


def test_the_image_example_bakes_the_dags_where_the_chart_looks():
    dockerfile = (ROOT / "images" / "airflow-dags" / "Dockerfile").read_text()
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert (
        re.search(r"^ARG AIRFLOW_IMAGE=(\S+)$", dockerfile, re.M)[1]
        == f"apache/airflow:{chart['appVersion']}"
    )
    target = re.search(r"^COPY (?:--\S+ )*dags/ (\S+)$", dockerfile, re.M)[1]
    assert target.rstrip("/") == values["cluster"]["dags"]["path"] == "/opt/airflow/dags"
    ignore = (ROOT / "images" / "airflow-dags" / "Dockerfile.dockerignore").read_text().split()
    assert "!dags/" in ignore and "!images/airflow-dags/requirements.txt" in ignore


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        (
            None,
            "(image mode) are read from DIR inside apache/airflow:3.3.2.\n  The stock image holds no DAGs",
        ),
        (
            "image",
            "(image mode) are read from DIR inside registry.example.com/data/airflow-dags:3.3.2-dags-1.",
        ),
        ("gitSync", "(gitSync mode) are read from DIR, one sub-folder per repository: examples."),
        ("persistentVolume", "(persistentVolume mode) are read from DIR on claim airflow-dags."),
    ],
)
def test_install_notes_say_where_the_dags_come_from(profile, says, helm_major, install_notes):
    stdout = install_notes(helm_major, *(["-f", str(PROFILES[profile])] if profile else []))
    assert "DAGs " + says.replace("DIR", "/opt/airflow/dags") in stdout
    assert ("stock image" in stdout) == (profile is None)
