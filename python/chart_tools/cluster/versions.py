"""What the cluster tier runs on, pinned here and nowhere else: per supported Kubernetes version,
the kind node image (with its digest, as kind's release notes publish it), the kind release that
image was built for, and a kubectl of the same version.

No kind release ships images for both ends of our range: 1.30's newest image came with kind
v0.29.0, 1.35's newest with v0.33.0. kind supports an image with the release it came with (and
others best effort), so each Kubernetes version is pinned with its own kind.

Standard library only: the e2e workflow reads the pins before anything is installed
(`python3 python/chart_tools/cluster/versions.py 1.35` prints GitHub step outputs).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    kind: str
    node_image: str
    kubectl: str


PINS = {
    "1.30": Pin(
        kind="v0.29.0",
        node_image="kindest/node:v1.30.13@sha256:397209b3d947d154f6641f2d0ce8d473732bd91c87d9575ade99049aa33cd648",
        kubectl="v1.30.13",
    ),
    "1.35": Pin(
        kind="v0.33.0",
        node_image="kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
        kubectl="v1.35.8",
    ),
}
DEFAULT_KUBE = "1.35"


def version_tuple(version: str) -> tuple[int, ...]:
    """(0, 31, 0) for "v0.31.0" (a pre-release or build suffix is ignored)."""
    digits = version.strip().lstrip("v").split("-")[0].split("+")[0]
    return tuple(int(part) for part in digits.split(".") if part.isdigit())


def outputs(kube: str) -> str:
    """The pins for one Kubernetes version as `key=value` lines (GitHub's $GITHUB_OUTPUT format)."""
    if kube not in PINS:
        raise SystemExit(f"versions: Kubernetes {kube!r} is not pinned; choose one of {', '.join(PINS)}")
    pin = PINS[kube]
    return f"kind={pin.kind}\nkubectl={pin.kubectl}\nnode_image={pin.node_image}\n"


if __name__ == "__main__":
    sys.stdout.write(outputs(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_KUBE))
