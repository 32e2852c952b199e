"""`chart-tools scale`: a small point end to end, and the report from known numbers."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from chart_tools import ROOT
from chart_tools.scale.dags import write_dags
from chart_tools.scale.point import Measured, Size
from chart_tools.scale.report import write_all

SIZE = Size(dags=20, tasks=10, giant=200, runs=2)


@pytest.mark.runtime
@pytest.mark.usefixtures("runtime_ready")
def test_a_small_point_writes_csv_plots_and_a_summary(tmp_path):
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "chart_tools.cli",
        "scale",
        "--dags",
        "20",
        "--tasks",
        "10",
        "--giant",
        "200",
    ]
    done = subprocess.run([*cmd, "--runs", "2", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DAGs visible after" in done.stderr  # progress while it waits
    (row,) = list(csv.DictReader((out / "scale.csv").open()))
    assert row["dags"] == "20" and row["tasks_per_dag"] == "10" and row["giant_tasks"] == "200"
    assert row["tasks_run"] == str(SIZE.runs * SIZE.tasks)  # every task of both runs finished
    for key in (
        "parse_median_s",
        "parse_giant_s",
        "propagation_max_s",
        "runs_end_to_end_s",
        "tasks_per_minute",
    ):
        assert float(row[key]) > 0, key
    assert float(row["propagation_max_s"]) >= float(row["propagation_median_s"])
    assert int(row["db_peak_connections"]) > 0 and float(row["db_transactions_per_s"]) > 0
    for component in ("scheduler/scheduler", "worker/worker", "dag-processor/dag-processor"):
        assert float(row[f"{component}_peak_mib"]) > 50, component  # a Python process with Airflow loaded
        assert float(row[f"{component}_cpu_s"]) > 0.5, component
    for png in ("scale-curve.png", "scale-usage.png"):
        data = (out / png).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, png
    summary = (out / "scale.md").read_text()
    assert "| 20 x 10 |" in summary and "![scale-curve](scale-curve.png)" in summary


def test_generated_dags_are_valid_python_with_the_asked_sizes(tmp_path):
    ids = write_dags(tmp_path, dags=3, tasks=4, giant=7)
    assert ids == ["scale_0000", "scale_0001", "scale_0002", "scale_giant"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i}.py" for i in ids]  # no partial files left
    for path in tmp_path.iterdir():
        compile(path.read_text(), str(path), "exec")
    assert "range(4)" in (tmp_path / "scale_0001.py").read_text()
    assert "range(7)" in (tmp_path / "scale_giant.py").read_text()


def test_the_report_from_known_numbers(tmp_path):
    point = Measured(Size(dags=2, tasks=3, giant=5, runs=1))
    point.parse = {"scale_0000": 0.1, "scale_0001": 0.3, "scale_giant": 0.6}
    point.propagation = {"scale_0000": 4.0, "scale_0001": 6.0, "scale_giant": 8.0}
    point.run_seconds, point.tasks_run = 30.0, 3
    point.db_peak_connections = 12
    point.db = {"transactions": 50.0, "rows_read": 1000.0, "rows_written": 20.0}
    point.usage = {"worker/worker": (700.4, 12.0)}
    failed = Measured(Size(dags=9, tasks=3, giant=0, runs=1), failure="runs: scale_0000 run x ended failed")
    files = write_all(tmp_path, [point, failed])
    assert [f.name for f in files] == ["scale.csv", "scale-curve.png", "scale-usage.png", "scale.md"]
    (row,) = list(csv.DictReader((tmp_path / "scale.csv").open()))
    assert row["parse_median_s"] == "0.2" and row["parse_max_s"] == "0.3"  # the giant DAG apart
    assert row["parse_cycle_s"] == "1.0" and row["propagation_median_s"] == "6.0"
    assert row["tasks_per_minute"] == "6.0"  # 3 tasks in 30 s
    assert row["worker/worker_peak_mib"] == "700"
    summary = (tmp_path / "scale.md").read_text()
    assert "| 2 x 3 | 5 (0.6) | 1 | 0.2 / 0.3 | 1.0 | 6.0 / 8.0 | 30.0 | 6.0 | 12 | 50.0 |" in summary
    assert "Point 9 x 3 FAILED: runs: scale_0000 run x ended failed" in summary
