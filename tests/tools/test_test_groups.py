"""`make test` runs `pytest -n 2 --dist loadgroup`: a runtime module that starts one expensive
stack marks its tests `xdist_group` so that one worker runs them all and the stack starts once.
pytest-xdist groups by suffixing node ids, which pytest 9.2 ignores (every group then splits
silently, and the stacks start twice); this proves the pinned pair still groups."""

import subprocess
import sys
from pathlib import Path

MODULE = """
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("stack")


@pytest.mark.parametrize("n", range(4))
def test_worker(n):
    (Path(__file__).parent / f"ran-{n}").write_text(os.environ["PYTEST_XDIST_WORKER"])
"""


def test_loadgroup_keeps_a_group_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(MODULE)
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider"]
    command += ["-p", "no:cloudcoil", "-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    workers = [path.read_text() for path in tmp_path.glob("ran-*")]
    assert len(workers) == 4, result.stdout
    assert len(set(workers)) == 1, f"one group ran on {sorted(set(workers))}"
