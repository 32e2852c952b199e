"""Task logs for Elasticsearch from the chart's real Airflow: with Elasticsearch logging on, the
Celery worker prints each task's log as JSON lines whose log_id is the chart's log_id template
filled with that task's dag_id, task_id, run_id, map_index and try_number (what the UI searches
by), with the offset field it sorts by. No Elasticsearch runs: with the chart's default the
cluster's log shipper indexes these lines, so the stdout format is the contract."""

import json

import pytest
import yaml

from chart_tools.smoke import DEFAULT_PROFILE, Smoke
from tests.helpers import airflow_cfg

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]


def test_task_logs_come_out_as_json_lines_with_the_log_id_the_ui_reads(tmp_path):
    values = tmp_path / "es.yaml"
    es = {"enabled": True, "host": "http://127.0.0.1:9"}  # never contacted while writing to stdout
    values.write_text(yaml.safe_dump({"cluster": {"logging": {"elasticsearch": es}}}))
    seen = {}
    smoke = Smoke([DEFAULT_PROFILE, values], mutate=lambda objects: seen.update(cfg=airflow_cfg(objects)))
    result = smoke.run()
    assert result.ok, result.failure
    es_cfg = seen["cfg"]["elasticsearch"]
    lines = []
    for line in (result.run_dir / "logs" / "worker.worker.log").read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "log_id" in record:
            lines.append(record)
    expected = {
        es_cfg["log_id_template"].format(
            dag_id="tutorial", task_id=task, run_id=result.run_id, map_index=-1, try_number=1
        )
        for task in result.tasks
    }
    assert {r["log_id"] for r in lines} == expected
    for record in lines:
        assert isinstance(record[es_cfg["offset_field"]], int)
        assert "message" in record or "event" in record
    by_task = {
        log_id: [r[es_cfg["offset_field"]] for r in lines if r["log_id"] == log_id] for log_id in expected
    }
    assert all(offsets == sorted(offsets) and offsets for offsets in by_task.values())
    smoke.cleanup(keep=False)
