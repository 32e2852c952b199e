"""Consumption from real chart repositories on loopback, with both helm majors: what users do
(`helm repo add`, `search`, `pull --verify`, `template REPO/airflow`, `oci://`) must give the
same objects as rendering the source folder."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart_tools import CHART
from chart_tools.chart.render import Manifest, RenderRequest, parse, render, run_helm_template
from chart_tools.release.helm import ReleaseError, run
from chart_tools.release.package import chart_metadata, package
from chart_tools.release.publish import publish_http, publish_oci
from tests.release.servers import http_repository, oci_registry

VERSION = chart_metadata()["version"]
USER, PASSWORD = "reader", "s3cret-for-tests"


def comparable(objects: list[Manifest]) -> list[dict[str, Any]]:
    """Objects in a stable order, with generated Secret values reduced to their keys."""
    out = []
    for obj in copy.deepcopy(objects):
        if obj["kind"] == "Secret":
            for field in ("data", "stringData"):
                if field in obj:
                    obj[field] = sorted(obj[field])
        out.append(obj)
    return sorted(out, key=lambda o: (o["kind"], o["metadata"]["name"]))


def same_as_source(chart: str, helm_major: int, *extra: str) -> None:
    pulled = parse(run_helm_template(RenderRequest(chart=chart, helm_major=helm_major, extra_args=extra)))
    assert comparable(pulled) == comparable(render(helm_major=helm_major))


@pytest.mark.parametrize("auth", ["open", "basic-auth"])
def test_an_http_repository_serves_the_chart_users_render(tmp_path, keys, helm_home, helm_major, auth):
    repo = tmp_path / "repo"
    login = (USER, PASSWORD) if auth == "basic-auth" else ("", "")
    with http_repository(repo, *login) as url:
        publish_http(package(tmp_path / "dist", keys.signing, helm_major), repo, url, helm_major)
        credentials = ["--username", USER, "--password", PASSWORD] if login[0] else []
        if login[0]:  # the server really asks: a wrong password is refused
            with pytest.raises(ReleaseError, match="401"):
                run(
                    helm_major,
                    ["repo", "add", "ours", url, "--username", USER, "--password", "wrong"],
                    "repo add",
                )
        run(helm_major, ["repo", "add", "ours", url, *credentials], "helm repo add")
        run(helm_major, ["repo", "update"], "helm repo update")
        found = yaml.safe_load(
            run(helm_major, ["search", "repo", "ours/airflow", "--versions", "-o", "yaml"], "search")
        )
        assert [(f["name"], f["version"]) for f in found] == [("ours/airflow", VERSION)]
        pulled = tmp_path / "pulled"
        pulled.mkdir()
        pull = ["pull", "ours/airflow", "--version", VERSION, "--verify", "-d", str(pulled)]
        stranger = tmp_path / "no-keys.gpg"  # a keyring without our key: the signer is unknown
        stranger.write_bytes(b"")
        with pytest.raises(ReleaseError, match="unknown entity"):
            run(helm_major, [*pull, "--keyring", str(stranger)], "helm pull --verify")
        run(helm_major, [*pull, "--keyring", str(keys.public)], "helm pull --verify")
        assert (pulled / f"airflow-{VERSION}.tgz").is_file() and (
            pulled / f"airflow-{VERSION}.tgz.prov"
        ).is_file()
        same_as_source("ours/airflow", helm_major, "--version", VERSION)


def test_publishing_keeps_older_versions_and_never_replaces_one(tmp_path):
    older = tmp_path / "older" / "airflow"
    shutil.copytree(CHART, older)
    meta = chart_metadata(older)
    meta["version"] = "0.0.1"
    (older / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    repo, url = tmp_path / "repo", "https://charts.example.com/airflow"
    publish_http(package(tmp_path / "dist-old", chart=older), repo, url)
    index = publish_http(package(tmp_path / "dist"), repo, url)
    before = index.read_text()
    entries = yaml.safe_load(before)["entries"]["airflow"]
    assert sorted(e["version"] for e in entries) == sorted(["0.0.1", VERSION])
    assert all(e["urls"] == [f"{url}/airflow-{e['version']}.tgz"] for e in entries)
    with pytest.raises(ReleaseError, match=f"airflow {VERSION} is already in"):
        publish_http(package(tmp_path / "dist-again"), repo, url)
    assert index.read_text() == before
    assert not list(repo.glob(".publish-*"))  # no staging folder left behind


def test_an_oci_registry_serves_the_chart_users_render(tmp_path, helm_home, helm_major):
    with oci_registry(tmp_path) as address:
        reference = f"oci://{address}/charts"
        publish_oci(package(tmp_path / "dist", helm_major=helm_major), reference, True, helm_major)
        chart = f"{reference}/airflow"
        shown = yaml.safe_load(
            run(helm_major, ["show", "chart", chart, "--version", VERSION, "--plain-http"], "show")
        )
        assert (shown["name"], shown["version"]) == ("airflow", VERSION)
        pulled = tmp_path / "pulled"
        pulled.mkdir()
        run(helm_major, ["pull", chart, "--version", VERSION, "--plain-http", "-d", str(pulled)], "helm pull")
        assert (pulled / f"airflow-{VERSION}.tgz").is_file()
        same_as_source(chart, helm_major, "--version", VERSION, "--plain-http")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://charts.example.com"}, "must be an http:// or https:// URL"),
        ({"url": "https://user:pw@charts.example.com"}, "without credentials"),
    ],
)
def test_bad_publish_targets_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ReleaseError, match=message):
        publish_http(package(tmp_path / "dist"), tmp_path / "repo", **kwargs)
    with pytest.raises(ReleaseError, match="must look like oci://"):
        publish_oci(Path(tmp_path / "dist" / f"airflow-{VERSION}.tgz"), "https://registry.example.com/x")
