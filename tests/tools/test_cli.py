"""chart-tools as a user runs it: exit codes and one-line errors, never a traceback."""

import subprocess
import sys

import yaml


def run(*args):
    return subprocess.run([sys.executable, "-m", "chart_tools.cli", *args], capture_output=True, text=True)


def test_validate_defaults_with_both_helms():
    for major in ("3", "4"):
        done = run("validate", "--helm", major)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 findings" in done.stdout


def test_render_prints_objects():
    done = run("render", "--set", "cluster.scheduler.replicas=2")
    objects = list(yaml.safe_load_all(done.stdout))
    scheduler = next(
        o for o in objects if o["metadata"]["name"].endswith("-scheduler") and o["kind"] == "Deployment"
    )
    assert scheduler["spec"]["replicas"] == 2


def test_missing_values_file_is_a_one_line_error(tmp_path):
    done = run("validate", "-f", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "nope.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_values_are_a_one_line_error_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster:\n  executer: LocalExecutor\n")
    done = run("validate", "-f", str(bad), "--helm", "4")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "executer" in done.stderr


def test_findings_make_validate_fail():
    # Values cannot produce findings any more (the schema and the chart refuse them first), so a
    # Kubernetes version without schemas stands in: every object "does not exist" there.
    done = run("validate", "--versions", "1.30", "1.24")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "does not exist in 1.24" in done.stdout and "findings" in done.stdout.splitlines()[-1]
