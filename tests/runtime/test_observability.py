"""Observability from the chart's real Airflow, in one Celery smoke run with metrics and
Elasticsearch logging on.

StatsD: datagrams reach the host:port the chart configured and every name received is covered by
the chart's exporter mapping. The test's UDP socket stands in for the statsd-exporter (its image
cannot run here): the exporter's Deployment is left out of the run and its Service points at the
socket.

Task logs: the Celery worker prints each task's log as JSON lines whose log_id is the chart's
log_id template filled with that task's dag_id, task_id, run_id, map_index and try_number (what
the UI searches by), with the offset field it sorts by. No Elasticsearch runs: with the chart's
default the cluster's log shipper indexes these lines, so the stdout format is the contract.
"""

import json
import re
import socket
import threading

import pytest
import yaml

from chart_tools import ROOT
from chart_tools.chart.render import find
from chart_tools.runtime.smoke import DEFAULT_PROFILE, Smoke
from tests.helpers import airflow_cfg, statsd_map

pytestmark = [
    pytest.mark.runtime,
    pytest.mark.usefixtures("runtime_ready"),
    pytest.mark.xdist_group("observability"),  # one worker, so the smoke runs once
]
PROM_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class Listener:
    """Collects StatsD datagrams (`name:value|type`, one or more lines each)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.names: set[str] = set()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                continue
            for line in data.splitlines():
                self.names.add(line.split(":", 1)[0])

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The smoke run; yields (result, StatsD names received, rendered mappings, airflow.cfg)."""
    values = tmp_path_factory.mktemp("observability") / "values.yaml"
    es = {"enabled": True, "host": "http://127.0.0.1:9"}  # never contacted while writing to stdout
    values.write_text(
        yaml.safe_dump({"cluster": {"metrics": {"enabled": True}, "logging": {"elasticsearch": es}}})
    )
    listener = Listener()
    rendered = {}

    def without_exporter(objects):
        rendered["mappings"] = yaml.safe_load(find(objects, "ConfigMap", "-statsd")["data"]["mappings.yml"])
        rendered["cfg"] = airflow_cfg(objects)
        objects.remove(find(objects, "Deployment", "-statsd"))

    port = {("airflow-statsd", "9125"): listener.port}
    smoke = Smoke([DEFAULT_PROFILE, values], mutate=without_exporter, external=port)
    try:
        result = smoke.run()
    finally:
        listener.close()
    assert result.ok, result.failure
    yield result, listener.names, rendered["mappings"]["mappings"], rendered["cfg"]
    smoke.cleanup(keep=False)


def test_airflow_metrics_reach_the_configured_exporter_and_are_all_mapped(run):
    _, names, mappings, _ = run
    assert {
        "airflow.scheduler_heartbeat",
        "airflow.ti_successes",
        "airflow.dagrun.duration.success.tutorial",
    } <= names
    assert "airflow.ti.finish.tutorial.print_date.success" in names
    unmapped = sorted(n for n in names if statsd_map(n, mappings) is None)
    assert not unmapped, unmapped
    labels_of: dict[str, set[str]] = {}
    for name in names:
        metric, labels = statsd_map(name, mappings)
        if not metric:  # dropped on purpose (the unlabelled twin of a labelled metric)
            continue
        assert PROM_NAME.match(metric), (name, metric)
        # statsd-exporter refuses one metric name with two label sets
        assert labels_of.setdefault(metric, set(labels)) == set(labels), (name, metric, labels)


def test_task_logs_come_out_as_json_lines_with_the_log_id_the_ui_reads(run):
    result, _, _, cfg = run
    es_cfg = cfg["elasticsearch"]
    lines = []
    for line in (result.run_dir / "logs" / "worker.worker.log").read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "log_id" in record:
            lines.append(record)
    template = es_cfg["log_id_template"]
    expected = {
        template.format(dag_id="tutorial", task_id=task, run_id=result.run_id, map_index=-1, try_number=1)
        for task in result.tasks
    }
    assert {r["log_id"] for r in lines} == expected
    for record in lines:
        assert isinstance(record[es_cfg["offset_field"]], int)
    for log_id in expected:
        offsets = [r[es_cfg["offset_field"]] for r in lines if r["log_id"] == log_id]
        assert offsets and offsets == sorted(offsets)


def test_every_metric_airflow_documents_maps_with_one_label_set():
    """Airflow's own metric catalogue (metrics_template.yaml in the installed Airflow): each name
    and legacy name, its placeholders filled, is mapped (or dropped) consistently. Metrics of
    executors and workers the chart does not deploy (Edge, ECS, Batch, Lambda) and OpenLineage
    are left to users' extraMappings."""
    from chart_tools.runtime.processes import AIRFLOW_VENV

    template = next(
        AIRFLOW_VENV.glob("lib/python*/site-packages/airflow/_*/observability/metrics/metrics_template.yaml")
    )
    entries = yaml.safe_load(template.read_text())["metrics"]
    mappings = yaml.safe_load((ROOT / "charts" / "airflow" / "files" / "statsd-mappings.yaml").read_text())[
        "mappings"
    ]
    foreign = ("edge_worker", "edge_executor", "ol.", "ecs_executor", "batch_executor", "lambda_executor")
    names = set()
    for entry in entries:
        for key in ("name", "legacy_name"):
            raw = str(entry.get(key) or "-")
            if raw != "-" and not raw.startswith(foreign):
                names.add("airflow." + re.sub(r"\{(\w+)\}", r"v_\1", raw))
    labels_of: dict[str, set[str]] = {}
    unmapped = []
    for name in sorted(names):
        mapped = statsd_map(name, mappings)
        if mapped is None:
            unmapped.append(name)
        elif mapped[0]:
            assert PROM_NAME.match(mapped[0]), (name, mapped)
            assert labels_of.setdefault(mapped[0], set(mapped[1])) == set(mapped[1]), (name, mapped)
    assert not unmapped, unmapped
    assert len(names) > 100
