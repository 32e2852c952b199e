"""Airflow as its users reach it, through the official client.

`apache-airflow-client` is pinned to the Airflow version the chart runs, so a field the chart's
Airflow drops or renames breaks here as it would break a user's script. The smoke, `up`'s
readiness check and later the cluster tier share these checks: log in, health, DAG parsed,
trigger, run state, task states and task logs. The one plain HTTP call is the token request:
the client has no call for the auth manager's POST /auth/token (its LoginApi is the browser's
redirect flow).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from airflow_client import client
from airflow_client.client.exceptions import ApiException
from pydantic import ValidationError

REQUEST_TIMEOUT = 30.0  # seconds per attempt
# Seconds a read keeps being retried while the api-server does not answer in time, refuses
# connections or answers 502-504: a loaded two-core machine or a restarting api-server.
PATIENCE = 240.0
RETRY_PAUSE = 2.0
TRANSIENT_STATUS = (502, 503, 504)
FINISHED = ("success", "failed")
# What the example DAG's tasks print (dags/tutorial.py), {ds} being the run's date: a task's log
# read through the API must show it. Any other task's log must at least be readable.
DATE_OUTPUT = r"\b[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \S+ \d{4}\b"  # Tue Nov 24 20:05:05 UTC 2026
TASK_OUTPUT = {
    "print_date": [DATE_OUTPUT, "Command exited with return code 0"],
    "sleep": ["Command exited with return code 0"],
    "templated": [r"run date: {ds}\b", r"a week later: \d{4}-\d\d-\d\d", "Command exited with return code 0"],
}
T = TypeVar("T")


def all_healthy(health: dict[str, str]) -> bool:
    """A health report (Airflow.health) in which every component, the scheduler among them, is
    healthy."""
    return "scheduler" in health and set(health.values()) == {"healthy"}


class AirflowCheckError(RuntimeError):
    """A check against Airflow failed; `step` says which (login, trigger, run, logs, ...)."""

    def __init__(self, step: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{step}: {message}")
        self.step, self.status = step, status  # status: the HTTP status, when Airflow answered


def token(base_url: str, username: str, password: str) -> str:
    """A bearer token from the auth manager, as `airflowctl` and scripts get one."""
    try:
        response = urllib3.request(
            "POST",
            f"{base_url}/auth/token",
            json={"username": username, "password": password},
            timeout=REQUEST_TIMEOUT,
            retries=False,
        )
    except urllib3.exceptions.HTTPError as err:
        raise AirflowCheckError("login", f"POST {base_url}/auth/token: {err}") from None
    if response.status not in (200, 201):
        raise AirflowCheckError(
            "login", f"POST /auth/token as {username}: {response.status} {response.data[:200]!r}"
        )
    return response.json()["access_token"]


def log_problem(task: str, lines: list[str], ds: str) -> str:
    """Why a task's log lines do not show the task's work; "" when they do. A log the api-server
    could not fetch holds an error event instead of the output."""
    text = "\n".join(lines)
    if not text.strip():
        return "the log is empty"
    if "Could not read" in text:
        return f"the api-server could not read it: {text[-400:]!r}"
    missing = [p for p in TASK_OUTPUT.get(task, []) if not re.search(p.replace("{ds}", ds), text)]
    return f"no line matches {missing}: {text[-400:]!r}" if missing else ""


def _log_line(event: str | dict[str, Any]) -> str:
    """One log event as the UI shows it: its message, then each exception it carries (type: value).
    Read from the answer's JSON: the client's model of an event keeps its message only."""
    if isinstance(event, str):
        return event
    errors = event.get("error_detail") or []
    return "\n".join(
        [str(event.get("event", "")), *(f"{e.get('exc_type')}: {e.get('exc_value')}" for e in errors)]
    )


class RunWatch:
    """A wait predicate for one DAG run: true once it finished (success or failed). It says each
    state change, and the state every 15 s while it stays; `state` is the last one read."""

    def __init__(
        self, api: Airflow, dag_id: str, run_id: str, state: str, say: Callable[[str], None]
    ) -> None:
        self.api, self.dag_id, self.run_id, self.say = api, dag_id, run_id, say
        self.state, self.since = state, time.monotonic()

    def __call__(self) -> bool:
        current = self.api.run_state(self.dag_id, self.run_id)
        if current != self.state or time.monotonic() - self.since > 15:
            self.say(f"DAG run state {current}")
            self.state, self.since = current, time.monotonic()
        return current in FINISHED


class Airflow:
    """One logged-in user of the api-server at `base_url` (scheme, host and port)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        config = client.Configuration(host=base_url, access_token=token(base_url, username, password))
        self._client = client.ApiClient(config)
        self.dags = client.DAGApi(self._client)
        self.runs = client.DagRunApi(self._client)
        self.tasks = client.TaskInstanceApi(self._client)
        self.monitor = client.MonitorApi(self._client)
        self.xcoms = client.XComApi(self._client)
        self.pools = client.PoolApi(self._client)

    def _call(self, step: str, call: Callable[..., T], *args: Any, retry: bool = True, **kwargs: Any) -> T:
        """One client call, retried for PATIENCE seconds on timeouts, refused connections and
        502-504 when `retry` (calls that change nothing twice); a final HTTP error or an answer
        the client cannot read becomes one line."""
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                return call(*args, **kwargs, _request_timeout=REQUEST_TIMEOUT)
            except ApiException as err:
                if retry and err.status in TRANSIENT_STATUS and time.monotonic() < deadline:
                    time.sleep(RETRY_PAUSE)
                    continue
                message = f"{err.status} {err.reason}: {(err.body or '')[:300]}"
                raise AirflowCheckError(step, message, err.status) from None
            except urllib3.exceptions.HTTPError as err:
                if retry and time.monotonic() < deadline:
                    time.sleep(RETRY_PAUSE)
                    continue
                raise AirflowCheckError(step, " ".join(str(err).split())[:300]) from None
            except ValidationError as err:
                raise AirflowCheckError(step, " ".join(str(err).split())[:300]) from None

    def health(self) -> dict[str, str]:
        """Each component's status as /api/v2/monitor/health reports it ("healthy" or not)."""
        info = self._call("health", self.monitor.get_health).to_dict()
        return {name: part.get("status") or "unknown" for name, part in info.items() if part}

    def dag_parsed(self, dag_id: str) -> bool:
        try:
            self._call("parse", self.dags.get_dag, dag_id)
        except AirflowCheckError as err:
            if err.status == 404:  # not parsed yet
                return False
            raise
        return True

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> client.DAGRunResponse:
        """Unpause the DAG and start a run dated now (the tutorial's templates need a date)."""
        self._call("unpause", self.dags.patch_dag, dag_id, client.DAGPatchBody(is_paused=False))
        body = client.TriggerDAGRunPostBody(logical_date=dt.datetime.now(dt.UTC), conf=conf or {})
        return self._call("trigger", self.runs.trigger_dag_run, dag_id, body, retry=False)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._call("run", self.runs.get_dag_run, dag_id, run_id).state.value

    def dag_ids(self, pattern: str) -> set[str]:
        """Ids of the parsed DAGs whose id contains `pattern` (case-insensitive)."""
        ids: set[str] = set()
        offset = 0
        while True:
            page = self._call(
                "dags",
                self.dags.get_dags,
                limit=100,
                offset=offset,
                dag_id_pattern=pattern,
                order_by=["dag_id"],
            )
            ids |= {d.dag_id for d in page.dags}
            offset += len(page.dags)
            if not page.dags or offset >= page.total_entries:
                return ids

    def task_instances(self, dag_id: str, run_id: str) -> list[client.TaskInstanceResponse]:
        return self._call("tasks", self.tasks.get_task_instances, dag_id, run_id).task_instances

    def pool(self, name: str) -> client.PoolResponse:
        return self._call("pool", self.pools.get_pool, name)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value (its return value by default), as Airflow stored it."""
        entry = self._call("xcom", self.xcoms.get_xcom_entry, dag_id, task_id, run_id, key, deserialize=True)
        return entry.actual_instance.value

    def log_lines(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
        """A task try's log as the UI shows it: one line per structured event (with its exception)."""
        response = self._call("logs", self.tasks.get_log_with_http_info, dag_id, run_id, task_id, try_number)
        return [_log_line(e) for e in json.loads(response.raw_data).get("content") or []]
