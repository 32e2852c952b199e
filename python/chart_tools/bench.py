"""`make bench`: render cost of the chart against helm's own floor, measured side by side.

The machine is shared and noisy, so absolute times mean little: each helm major renders our chart
and a trivial one-ConfigMap chart alternately, and we report both medians and their ratio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chart_tools import CHART, ROOT
from chart_tools.chart.render import DEFAULT_KUBE_VERSION
from chart_tools.toolchain import helm_path, helm_version

RUNS = 15
TEST_RUNS = 3
FUZZ_RUNS = 1  # a few minutes per run: one run shows whether it stays bounded
SMOKE_RUNS = 3


def trivial_chart(parent: Path) -> Path:
    """A chart with one ConfigMap: the cost of starting helm and rendering anything at all."""
    chart = parent / "trivial"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: trivial\nversion: 0.1.0\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trivial\ndata:\n  key: value\n"
    )
    return chart


def wall_time(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    if done.returncode != 0:
        command = " ".join(cmd[-3:])
        raise SystemExit(f"bench: `{command}` failed (exit {done.returncode}): run `make test` first")
    return time.perf_counter() - start


def bench_helm(major: int, trivial: Path) -> None:
    helm = str(helm_path(major))
    version = helm_version(helm).split("+")[0]

    def template(chart: Path) -> list[str]:
        return [helm, "template", "bench", str(chart), "--kube-version", DEFAULT_KUBE_VERSION]

    ours: list[float] = []
    floor: list[float] = []
    for _ in range(RUNS):  # alternate, so drift in machine load hits both series alike
        ours.append(wall_time(template(CHART)))
        floor.append(wall_time(template(trivial)))
    ours_median, floor_median = statistics.median(ours), statistics.median(floor)
    print(f"helm {version}: default values render, median of {RUNS}: {ours_median:.3f} s")
    print(f"helm {version}: trivial chart render, median of {RUNS}: {floor_median:.3f} s")
    print(f"helm {version}: default / trivial ratio: {ours_median / floor_median:.2f}x")


def bench_tests(folder: str, what: str, runs: int) -> None:
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", folder]
    median = statistics.median(wall_time(cmd, cwd=ROOT) for _ in range(runs))
    print(f"{what} ({folder}, 2 workers), median of {runs}: {median:.1f} s")


def bench_smoke() -> None:
    """Time from nothing (fresh services) to the first successful DAG run, probes excluded."""
    from chart_tools.runtime.smoke import DEFAULT_PROFILE, Smoke

    times = []
    for _ in range(SMOKE_RUNS):
        smoke = Smoke([DEFAULT_PROFILE])
        result = smoke.run()
        smoke.cleanup(keep=False)
        if not result.ok:
            raise SystemExit(f"bench: smoke failed: {result.failure}")
        times.append(sum(t for phase, t in result.phases.items() if phase != "probes"))
    print(
        f"smoke, time to first successful DAG run, median of {SMOKE_RUNS}: {statistics.median(times):.1f} s"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        trivial = trivial_chart(Path(tmp))
        for major in (3, 4):
            bench_helm(major, trivial)
    bench_tests("tests/render", "render-tier tests", TEST_RUNS)
    bench_tests("tests/fuzz", "values fuzzing", FUZZ_RUNS)
    bench_smoke()
    return 0


if __name__ == "__main__":
    sys.exit(main())
