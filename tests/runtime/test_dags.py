"""The example DAGs import with zero errors in a real DagBag, under every executor."""

import json
import subprocess

import pytest

from chart_tools import ROOT
from chart_tools.runtime.processes import AIRFLOW_VENV

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]
SCRIPT = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag("{dags}")
print(json.dumps({{"dags": sorted(bag.dag_ids), "errors": bag.import_errors}}))
"""


@pytest.mark.parametrize(
    "executor", ["CeleryExecutor", "KubernetesExecutor", "CeleryExecutor,KubernetesExecutor", "LocalExecutor"]
)
def test_example_dags_import(executor, tmp_path):
    env = {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__EXECUTOR": executor, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(AIRFLOW_VENV / "bin" / "python"), "-c", SCRIPT.format(dags=ROOT / "dags")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert result["dags"] == ["deferrable_sensor", "executor_config_example", "kubernetes_sample", "tutorial"]
