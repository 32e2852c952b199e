"""The scale run's outputs: scale.csv (one row per point), PNG plots and scale.md."""

from __future__ import annotations

import csv
from pathlib import Path

from chart_tools.scale.point import Measured

Row = dict[str, float | int | str]


def write_csv(path: Path, rows: list[Row]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))  # every point's keys, in order
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _components(rows: list[Row], suffix: str) -> list[str]:
    names = {k.removesuffix(suffix) for row in rows for k in row if k.endswith(suffix)}
    return sorted(names)


def plot(folder: Path, rows: list[Row]) -> list[Path]:
    """scale-curve.png (time, throughput and database against the number of DAGs) and
    scale-usage.png (each container's peak memory and CPU seconds per point)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    dags = [int(r["dags"]) for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [
        (axes[0][0], "seconds", ["parse_cycle_s", "propagation_max_s", "propagation_median_s"]),
        (axes[0][1], "task instances per minute", ["tasks_per_minute"]),
        (axes[1][0], "connections", ["db_peak_connections"]),
        (axes[1][1], "per second", ["db_transactions_per_s", "db_rows_written_per_s"]),
    ]
    for ax, unit, keys in panels:
        for key in keys:
            ax.plot(dags, [float(r.get(key) or 0) for r in rows], marker="o", label=key)
        ax.set_xlabel("DAG files")
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("chart-tools scale: parsing, propagation, throughput and database")
    fig.tight_layout()
    curve = folder / "scale-curve.png"
    fig.savefig(curve, dpi=90)
    plt.close(fig)

    containers = _components(rows, "_peak_mib")
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        xs = [x + i * width for x in range(len(containers))]
        axes[0].bar(
            xs, [float(row.get(f"{c}_peak_mib") or 0) for c in containers], width, label=f"{row['dags']} DAGs"
        )
        axes[1].bar(
            xs, [float(row.get(f"{c}_cpu_s") or 0) for c in containers], width, label=f"{row['dags']} DAGs"
        )
    for ax, unit in zip(axes, ("peak memory (MiB, PSS)", "CPU seconds"), strict=True):
        ax.set_xticks(
            [x + 0.4 - width / 2 for x in range(len(containers))], containers, rotation=30, ha="right"
        )
        ax.set_ylabel(unit)
        ax.legend(fontsize="small")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("chart-tools scale: what each container used")
    fig.tight_layout()
    usage = folder / "scale-usage.png"
    fig.savefig(usage, dpi=90)
    plt.close(fig)
    return [curve, usage]


# The summary table's columns: heading and how a CSV row fills it.
SUMMARY = {
    "DAGs x tasks": "{dags} x {tasks_per_dag}",
    "giant DAG tasks (parse s)": "{giant_tasks} ({parse_giant_s})",
    "runs": "{runs}",
    "parse per file, median / max (s)": "{parse_median_s} / {parse_max_s}",
    "parse cycle (s)": "{parse_cycle_s}",
    "propagation median / max (s)": "{propagation_median_s} / {propagation_max_s}",
    "runs end to end (s)": "{runs_end_to_end_s}",
    "tasks/min": "{tasks_per_minute}",
    "DB peak connections": "{db_peak_connections}",
    "DB transactions/s": "{db_transactions_per_s}",
}


def _table(headings: list[str], cells: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    return lines + ["| " + " | ".join(row) + " |" for row in cells]


def markdown(points: list[Measured], rows: list[Row], images: list[Path]) -> str:
    lines = ["# chart-tools scale", ""]
    lines += _table(list(SUMMARY), [[cell.format_map(row) for cell in SUMMARY.values()] for row in rows])
    containers = _components(rows, "_peak_mib")
    lines += ["", "Peak memory (MiB, PSS) and CPU seconds per container:", ""]
    lines += _table(
        ["container", *(f"{r['dags']} DAGs" for r in rows)],
        [
            [c, *(f"{r.get(f'{c}_peak_mib', '')} MiB, {r.get(f'{c}_cpu_s', '')} s" for r in rows)]
            for c in containers
        ],
    )
    for p in points:
        if p.failure:
            lines += ["", f"Point {p.size.dags} x {p.size.tasks} FAILED: {p.failure}"]
    lines += ["", *[f"![{image.stem}]({image.name})" for image in images], ""]
    return "\n".join(lines)


def write_all(folder: Path, points: list[Measured]) -> list[Path]:
    """Every output for the points that succeeded; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [p.row() for p in points if not p.failure]
    files = []
    if rows:
        write_csv(folder / "scale.csv", rows)
        files = [folder / "scale.csv", *plot(folder, rows)]
    summary = folder / "scale.md"
    summary.write_text(markdown(points, rows, [f for f in files if f.suffix == ".png"]))
    return [*files, summary]
