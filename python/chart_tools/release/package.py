"""`chart-tools package`: the chart as `airflow-<version>.tgz`, optionally signed.

Signing writes helm's provenance file (`.prov`, an OpenPGP clear-signed statement of the chart's
metadata and the archive's SHA-256) with a key from a GnuPG keyring exported in the legacy
format helm reads (`gpg --export-secret-keys > secring.gpg`). Helm 3 reads RSA keys only (it
refuses ed25519 with "unsupported feature: public key type: 22"). Every signed package is checked
with `helm verify` before it is reported, so a package that would not verify is never published.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from chart_tools import CHART
from chart_tools.release.helm import ReleaseError, run


@dataclass(frozen=True)
class Signing:
    """The key helm signs with: its name (user id or part of it) and the secret keyring holding it."""

    key: str
    keyring: Path
    passphrase_file: Path | None = None


def chart_metadata(chart: Path = CHART) -> dict[str, str]:
    return yaml.safe_load((chart / "Chart.yaml").read_text())


def archive_name(chart: Path = CHART) -> str:
    meta = chart_metadata(chart)
    return f"{meta['name']}-{meta['version']}.tgz"


def package(dest: Path, signing: Signing | None = None, helm_major: int = 3, chart: Path = CHART) -> Path:
    """Write the package (and its .prov when signing) to `dest`; return the package's path."""
    if signing is not None and not signing.keyring.is_file():
        raise ReleaseError(f"keyring {signing.keyring} not found")
    dest.mkdir(parents=True, exist_ok=True)
    args = ["package", str(chart), "--destination", str(dest)]
    if signing is not None:
        args += ["--sign", "--key", signing.key, "--keyring", str(signing.keyring)]
        if signing.passphrase_file is not None:
            args += ["--passphrase-file", str(signing.passphrase_file)]
    run(helm_major, args, "helm package")
    path = dest / archive_name(chart)
    if signing is not None:
        verify(path, signing.keyring, helm_major)
    return path


def verify(path: Path, keyring: Path, helm_major: int = 3) -> str:
    """helm's verdict on a package's provenance (ReleaseError when it does not verify)."""
    return run(helm_major, ["verify", str(path), "--keyring", str(keyring)], f"helm verify {path.name}")
