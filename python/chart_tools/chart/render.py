"""One render API for the CLI and the tests: `helm template` → list of Kubernetes objects.

We call the helm binary directly rather than through pyhelm3: pyhelm3 parses with PyYAML's
pure-Python loader (three times slower than helm itself) and is async. Results are cached per
inputs (values files are keyed by content), so a test session renders each scenario once.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chart_tools import CHART
from chart_tools.toolchain import helm_path

DEFAULT_KUBE_VERSION = "1.35.0"
RELEASE = "airflow"
NAMESPACE = "airflow"


def fullname(release: str) -> str:
    """Object-name prefix of a release's objects (the chart's airflow.fullname rule)."""
    return release if "airflow" in release else f"{release}-airflow"


Manifest = dict[str, Any]


class RenderError(RuntimeError):
    """helm refused the chart or the values; the message is helm's own, minus noise."""


@dataclass(frozen=True)
class RenderRequest:
    """Everything a render depends on (hashable, so it can key the cache)."""

    chart: Path | str = CHART  # a folder, a package, REPO/NAME or oci://...
    values_files: tuple[Path, ...] = ()
    set_values: tuple[str, ...] = ()
    helm_major: int = 3
    kube_version: str = DEFAULT_KUBE_VERSION
    release: str = RELEASE
    namespace: str = NAMESPACE
    extra_args: tuple[str, ...] = ()

    def command(self) -> list[str]:
        cmd = [str(helm_path(self.helm_major)), "template", self.release, str(self.chart)]
        cmd += ["--namespace", self.namespace, "--kube-version", self.kube_version]
        for path in self.values_files:
            cmd += ["--values", str(path)]
        for item in self.set_values:
            cmd += ["--set", item]
        return cmd + list(self.extra_args)


def _digest(paths: tuple[Path, ...]) -> str:
    """Content hash of the values files, so an edited file is never served from the cache."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def run_helm_template(request: RenderRequest) -> str:
    """The raw manifest stream; raises RenderError with helm's message on failure."""
    done = subprocess.run(request.command(), capture_output=True, text=True)
    if done.returncode != 0:
        message = done.stderr.strip().removeprefix("Error: ")
        raise RenderError(message.replace("Use --debug flag to render out invalid YAML", "").strip())
    return done.stdout


def parse(stream: str) -> list[Manifest]:
    """YAML documents of a manifest stream, empty ones dropped (the C loader: the pure-Python one is
    several times slower than helm itself on our renders)."""
    return [doc for doc in yaml.load_all(stream, Loader=yaml.CSafeLoader) if doc]


@functools.lru_cache(maxsize=256)
def _cached(request: RenderRequest, digest: str) -> tuple[Manifest, ...]:
    return tuple(parse(run_helm_template(request)))


def render(
    values_files: list[Path] | tuple[Path, ...] = (),
    set_values: list[str] | tuple[str, ...] = (),
    helm_major: int = 3,
    kube_version: str = DEFAULT_KUBE_VERSION,
    chart: Path = CHART,
    release: str = RELEASE,
) -> list[Manifest]:
    """Rendered objects for these inputs. Callers get a fresh list; objects are shared, do not mutate."""
    request = RenderRequest(
        chart=chart,
        release=release,
        values_files=tuple(Path(p).resolve() for p in values_files),
        set_values=tuple(set_values),
        helm_major=helm_major,
        kube_version=kube_version,
    )
    return list(_cached(request, _digest(request.values_files)))


def find(objects: list[Manifest], kind: str, name_suffix: str = "") -> Manifest:
    """The one object of `kind` whose name ends with `name_suffix`."""
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
    if len(matches) != 1:
        names = [o["metadata"]["name"] for o in objects if o["kind"] == kind]
        raise LookupError(f"expected one {kind} named *{name_suffix}, found {len(matches)} among {names}")
    return matches[0]
