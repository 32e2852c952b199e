"""`make bench`: everything we measure, side by side in one run.

- render cost against helm's own floor: each helm major renders our chart and a trivial
  one-ConfigMap chart alternately (the machine is shared and noisy: ratios, not absolute times),
  for the default values (split into output, templates and schema), the production profile and
  every profile (worst and median ratio);
- the render tier's and the fuzzer's wall time;
- the smoke's time to its first successful DAG run, with the median of each phase;
- the default install's footprint (sum of requests) and the measurements behind it;
- a small scale point.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chart_tools import CHART, ROOT, scenarios
from chart_tools.chart.render import RenderRequest, run_helm_template
from chart_tools.toolchain import helm_path, helm_version

RUNS = 15
PROFILE_RUNS = 5  # per profile and helm major: twenty profiles make it a few minutes
TEST_RUNS = 3
FUZZ_RUNS = 1  # a few minutes per run: one run shows whether it stays bounded
SMOKE_RUNS = 3
PRODUCTION = ROOT / "values" / "production.yaml"


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trivial\ndata:\n  key: value\n"


def trivial_chart(parent: Path, name: str = "trivial", text: str = CONFIGMAP) -> Path:
    """A chart with one template serving `text` verbatim; by default one ConfigMap, the cost of
    starting helm and rendering anything at all."""
    chart = parent / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    # Braces are the only template syntax: each "{{" becomes an action printing it.
    (chart / "templates" / "objects.yaml").write_text(text.replace("{{", "{{`{{`}}"))
    return chart


def decomposed_charts(parent: Path, major: int) -> dict[str, Path]:
    """Two charts that bound where the default render's time goes: our default output served as
    a static template (the cost of helm reading, sorting and printing that many objects), and our
    chart without its values schema (the cost of everything but helm checking the values)."""
    output = run_helm_template(RenderRequest(helm_major=major))
    unchecked = parent / f"unchecked-helm{major}"
    shutil.copytree(CHART, unchecked)
    (unchecked / "values.schema.json").unlink()
    return {
        "its output as a static template": trivial_chart(parent, f"static-helm{major}", output),
        "without the values schema": unchecked,
    }


def template_command(major: int, chart: Path, files: list[Path] | None = None) -> list[str]:
    return RenderRequest(chart=chart, values_files=tuple(files or ()), helm_major=major).command()


def wall_time(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    if done.returncode != 0:
        command = " ".join(cmd)
        raise SystemExit(f"bench: `{command}` failed (exit {done.returncode}): run `make test` first")
    return time.perf_counter() - start


def alternated(commands: list[list[str]], runs: int) -> list[float]:
    """Median wall time of each command over `runs` rounds that run every command once, so that
    drift in machine load hits every series alike."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for series, cmd in zip(times, commands, strict=True):
            series.append(wall_time(cmd))
    return [statistics.median(series) for series in times]


def render_ratio(major: int, trivial: Path, values: list[Path], runs: int) -> float:
    """Our render's median over the trivial chart's, alternated."""
    ours, floor = alternated([template_command(major, CHART, values), template_command(major, trivial)], runs)
    return ours / floor


def bench_helm(major: int, parent: Path, trivial: Path) -> None:
    version = helm_version(str(helm_path(major))).split("+")[0]
    parts = decomposed_charts(parent, major)
    charts = [CHART, trivial, *parts.values()]
    ours, floor, *bounds = alternated([template_command(major, chart) for chart in charts], RUNS)
    print(f"helm {version}: default values render, median of {RUNS}: {ours:.3f} s")
    print(f"helm {version}: trivial chart render, median of {RUNS}: {floor:.3f} s")
    print(f"helm {version}: default / trivial ratio: {ours / floor:.2f}x")
    shares = ", ".join(f"{what} {bound / floor:.2f}x" for what, bound in zip(parts, bounds, strict=True))
    print(f"helm {version}: the default render against the same floor: {shares}")
    production = render_ratio(major, trivial, [PRODUCTION], RUNS)
    print(f"helm {version}: values/production.yaml / trivial ratio, median of {RUNS}: {production:.2f}x")
    ratios = {p: render_ratio(major, trivial, [p], PROFILE_RUNS) for p in scenarios()}
    worst = max(ratios, key=ratios.__getitem__)
    median = statistics.median(ratios.values())
    print(
        f"helm {version}: every profile ({len(ratios)}, median of {PROFILE_RUNS} each) / trivial: "
        f"median {median:.2f}x, worst {ratios[worst]:.2f}x ({worst.relative_to(ROOT)})"
    )


def bench_tests(folder: str, what: str, runs: int) -> None:
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", folder]
    median = statistics.median(wall_time(cmd, cwd=ROOT) for _ in range(runs))
    print(f"{what} ({folder}, 2 workers), median of {runs}: {median:.1f} s")


def bench_smoke() -> None:
    """Time from nothing (fresh services) to the first successful DAG run, and where it goes."""
    from chart_tools.runtime.smoke import DEFAULT_PROFILE, FIRST_SUCCESS_PHASES, Smoke

    results = []
    for _ in range(SMOKE_RUNS):
        smoke = Smoke([DEFAULT_PROFILE])
        result = smoke.run()
        smoke.cleanup(keep=False)
        if not result.ok:
            raise SystemExit(f"bench: smoke failed: {result.failure}")
        results.append(result)
    median = statistics.median(r.time_to_success() for r in results)
    print(f"smoke, time to first successful DAG run, median of {SMOKE_RUNS}: {median:.1f} s")
    phases = [f"{p} {statistics.median(r.phases[p] for r in results):.1f} s" for p in FIRST_SUCCESS_PHASES]
    migration = statistics.median(r.migration for r in results)
    print(f"smoke phases (medians): {', '.join(phases)}; the migration Job took {migration:.1f} s of start")
    cpu = statistics.median(sum(u.cpu_seconds for u in r.usage.values()) for r in results)
    print(f"smoke, CPU seconds of every container together (median): {cpu:.0f} s on {os.cpu_count()} cores")


def bench_footprint() -> None:
    from chart_tools.chart.footprint import footprint
    from chart_tools.chart.render import render

    print(f"default install footprint (sum of requests, CeleryExecutor): {footprint(render([]))}")


def bench_scale() -> None:
    from chart_tools.scale.point import Size, measure

    size = Size(dags=20, tasks=10, giant=200, runs=2)
    start = time.perf_counter()
    point = measure(size, [])
    if point.failure:
        raise SystemExit(f"bench: scale point failed: {point.failure}")
    row = point.row()
    print(
        f"scale point {size.dags} DAGs x {size.tasks} tasks + giant {size.giant}, {size.runs} runs: "
        f"{time.perf_counter() - start:.0f} s in all; propagation max {row['propagation_max_s']} s, "
        f"parse cycle {row['parse_cycle_s']} s, {row['tasks_per_minute']} tasks/min, "
        f"DB peak {row['db_peak_connections']} connections"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        trivial = trivial_chart(Path(tmp))
        for major in (3, 4):
            bench_helm(major, Path(tmp), trivial)
    bench_tests("tests/render", "render-tier tests", TEST_RUNS)
    bench_tests("tests/fuzz", "values fuzzing", FUZZ_RUNS)
    bench_footprint()
    bench_smoke()
    bench_scale()
    return 0


if __name__ == "__main__":
    sys.exit(main())
