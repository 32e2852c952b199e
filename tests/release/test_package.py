"""`chart-tools package`: what goes into the archive, and signatures helm verifies."""

from __future__ import annotations

import tarfile

import pytest

from chart_tools import CHART
from chart_tools.cli import main
from chart_tools.release.helm import ReleaseError
from chart_tools.release.package import archive_name, chart_metadata, package, verify


def test_the_package_holds_the_chart_and_nothing_else(tmp_path, helm_major):
    path = package(tmp_path, helm_major=helm_major)
    assert path.name == f"airflow-{chart_metadata()['version']}.tgz"
    with tarfile.open(path) as archive:
        names = {name.removeprefix("airflow/") for name in archive.getnames()}
    expected = {"Chart.yaml", "values.yaml", "values.schema.json", "README.md", ".helmignore"}
    expected |= {str(p.relative_to(CHART)) for p in (CHART / "templates").rglob("*") if p.is_file()}
    expected |= {str(p.relative_to(CHART)) for p in (CHART / "files").rglob("*") if p.is_file()}
    assert names == expected  # no ci/ scenarios, caches or editor files


def test_a_signed_package_verifies_with_either_helm(tmp_path, keys, helm_major):
    path = package(tmp_path, keys.signing, helm_major)
    assert path.with_name(path.name + ".prov").is_file()
    for major in (3, 4):
        assert "Chart Hash Verified" in verify(path, keys.public, major)


def test_a_changed_package_fails_verification(tmp_path, keys):
    path = package(tmp_path, keys.signing)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ReleaseError, match="helm verify"):
        verify(path, keys.public)


def test_cli_signs_and_reports_a_missing_key_on_one_line(tmp_path, keys, capsys):
    assert main(["package", "-d", str(tmp_path), "--sign", "--key", "Chart Release Test",
                 "--keyring", str(keys.signing.keyring)]) == 0  # fmt: skip
    assert (tmp_path / (archive_name() + ".prov")).is_file()
    assert "helm verify passed" in capsys.readouterr().out
    assert main(["package", "-d", str(tmp_path), "--sign", "--key", "nobody",
                 "--keyring", str(keys.signing.keyring)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "private key not found" in err
    assert main(["package", "--sign"]) == 2
    assert "--sign needs --key NAME and --keyring FILE" in capsys.readouterr().err
