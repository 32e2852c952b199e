"""`chart-tools publish`: a package into an HTTP chart repository folder, or pushed to an OCI registry.

HTTP: the package (and its .prov) is copied into the folder and merged into `index.yaml`: every
version already there is kept, and a version that is already published is refused rather than
replaced (users who pulled it must keep getting the same bytes). The index is written last and
atomically, so a failure never leaves an index pointing at a missing file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml

from chart_tools.chart.formats import matches
from chart_tools.release.helm import ReleaseError, run


def package_metadata(package: Path, helm_major: int = 3) -> dict[str, str]:
    """Chart.yaml as packaged (name and version come from the archive, not the file name)."""
    if not package.is_file():
        raise ReleaseError(f"package {package} not found")
    return yaml.safe_load(run(helm_major, ["show", "chart", str(package)], f"helm show chart {package.name}"))


def published_versions(index: Path, name: str) -> list[str]:
    if not index.is_file():
        return []
    entries = (yaml.safe_load(index.read_text()) or {}).get("entries") or {}
    return [str(entry.get("version")) for entry in entries.get(name) or []]


def publish_http(package: Path, repo_dir: Path, url: str, helm_major: int = 3) -> Path:
    """Add `package` to the repository folder served at `url`; return the index path."""
    if not matches("httpUrl", url):
        raise ReleaseError(f"--url {url!r} must be an http:// or https:// URL without credentials")
    meta = package_metadata(package, helm_major)
    index = repo_dir / "index.yaml"
    if meta["version"] in published_versions(index, meta["name"]):
        raise ReleaseError(
            f"publish: {meta['name']} {meta['version']} is already in {index}; "
            "a published version never changes: raise version in Chart.yaml"
        )
    repo_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=repo_dir, prefix=".publish-") as tmp:
        staging = Path(tmp)
        shutil.copy2(package, staging / package.name)
        args = ["repo", "index", str(staging), "--url", url.rstrip("/")]
        if index.is_file():
            args += ["--merge", str(index)]
        run(helm_major, args, "helm repo index")
        for path in (package, package.with_name(package.name + ".prov")):
            if path.is_file():
                shutil.copy2(path, repo_dir / path.name)
        os.replace(staging / "index.yaml", index)
    return index


def publish_oci(package: Path, reference: str, plain_http: bool = False, helm_major: int = 3) -> None:
    """Push `package` under `reference` (oci://HOST[:PORT]/PATH; the chart's name is appended).
    Credentials come from `helm registry login`, as for any helm push."""
    # A registry path has the grammar of an image repository (lower case, no tag).
    if not reference.startswith("oci://") or not matches("imageRepository", reference.removeprefix("oci://")):
        raise ReleaseError(f"--oci {reference!r} must look like oci://HOST[:PORT]/PATH")
    package_metadata(package, helm_major)
    args = ["push", str(package), reference] + (["--plain-http"] if plain_http else [])
    run(helm_major, args, f"helm push {package.name}")
