"""The checkov gate: every profile's render has no failed check beyond the listed skips, each
listed skip is still needed, and the gate catches a misconfiguration."""

import re

import pytest

from chart_tools import ROOT, scenarios
from chart_tools import cli as chart_cli
from chart_tools.chart import checkov
from chart_tools.chart.render import render
from tests.helpers import deployment

pytestmark = pytest.mark.xdist_group("checkov")


@pytest.fixture(scope="module")
def failures():
    """One checkov run over every ci/ and values/ profile."""
    return checkov.scan({path.stem: render([path]) for path in scenarios()})


def test_every_profile_has_no_unlisted_failure(failures):
    unlisted = checkov.unlisted(failures, checkov.skips())
    assert not unlisted, "\n".join(map(str, unlisted))


def test_every_listed_skip_still_fails_somewhere(failures):
    assert set(checkov.skips()) == {f.check for f in failures}


def test_skip_file_keeps_to_six_checks_with_reasons():
    listed = checkov.skips()
    assert 0 < len(listed) <= checkov.SKIP_LIMIT
    assert all(re.fullmatch(r"CKV_K8S_\d+", check) and len(reason) > 40 for check, reason in listed.items())


def test_security_docs_list_exactly_the_skipped_checks():
    section = (ROOT / "docs" / "security.md").read_text().split("## checkov")[1].split("\n## ")[0]
    assert set(re.findall(r"^\| (CKV_K8S_\d+)", section, re.M)) == set(checkov.skips())


def test_a_privileged_pod_is_an_unlisted_failure():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "airflow"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    found = checkov.unlisted(checkov.scan({"bad": [pod]}), checkov.skips())
    assert "CKV_K8S_16" in {f.check for f in found}  # "Container should not be privileged"


def test_an_image_digest_passes_the_digest_check():
    digest = "sha256:" + "a" * 64
    objects = render(set_values=[f"cluster.image.digest={digest}"])
    api_server = deployment(objects, "api-server")
    found = checkov.scan({"digest": [api_server], "tag": [deployment(render(), "api-server")]})
    assert {f.profile for f in found if f.check == "CKV_K8S_43"} == {"tag"}


def test_cli_gate_passes_on_the_defaults_and_fails_on_a_bad_manifest(tmp_path, capsys):
    assert chart_cli.main(["validate", "--checkov", "--versions", "1.35"]) == 0
    assert "checkov: 0 unlisted failed checks" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: a}\n"
        "spec: {hostNetwork: true, containers: [{name: c, image: busybox}]}\n"
    )
    assert chart_cli.main(["validate", "--manifest", str(bad), "--checkov", "--versions", "1.35"]) == 1
    assert "manifests: Pod.a.bad: [CKV_K8S_19]" in capsys.readouterr().out


def test_cli_without_checkov_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(checkov, "CHECKOV", tmp_path / "checkov")
    assert chart_cli.main(["validate", "--checkov", "--versions", "1.35"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `make setup`" in err
