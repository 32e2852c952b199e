"""Release-tier fixtures: a throwaway GnuPG signing key, and a helm home of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chart_tools.release.package import Signing

KEY_NAME = "Chart Release Test <release-test@example.invalid>"


@dataclass(frozen=True)
class Keys:
    signing: Signing  # the secret keyring helm signs with
    public: Path  # the public keyring users verify with


def _gpg(home: Path, *args: str) -> bytes:
    done = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *args],
        capture_output=True,
        env={**os.environ, "GNUPGHOME": str(home)},
    )
    if done.returncode != 0:
        pytest.fail(f"gpg {args[0]} failed: {done.stderr.decode()[-1500:]}")
    return done.stdout


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    """An RSA key (helm 3 cannot sign with ed25519) exported as the legacy keyrings helm reads."""
    if shutil.which("gpg") is None:
        pytest.fail("gpg is not installed (Debian package gnupg; make setup-runtime)")
    root = tmp_path_factory.mktemp("gpg")
    home = root / "home"
    home.mkdir(mode=0o700)
    try:
        _gpg(home, "--passphrase", "", "--quick-gen-key", KEY_NAME, "rsa3072", "sign", "never")
        secret, public = root / "secring.gpg", root / "pubring.gpg"
        secret.write_bytes(_gpg(home, "--export-secret-keys"))
        public.write_bytes(_gpg(home, "--export"))
        yield Keys(Signing("Chart Release Test", secret), public)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)


@pytest.fixture
def helm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every helm the test starts reads and writes repositories and logins under tmp_path only."""
    home = tmp_path / "helm-home"
    for variable, folder in (("CONFIG", "config"), ("CACHE", "cache"), ("DATA", "data")):
        monkeypatch.setenv(f"HELM_{variable}_HOME", str(home / folder))
    monkeypatch.setenv("HELM_REGISTRY_CONFIG", str(home / "config" / "registry.json"))
    return home
