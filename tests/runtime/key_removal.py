"""Which component needs which secret, shown on the local runtime: each case takes one secret out
of one component's main container, runs a DAG, and records how the run breaks.

`python -m tests.runtime.key_removal [COMPONENT/SECRET ...]` prints a Markdown table
(docs/security.md shows it). It runs a control and one smoke per case, about 25 minutes in all,
so `make test` does not run it: there the smokes of every executor prove the reduced sets work,
and test_smoke.py keeps one removal (the scheduler's JWT secret).
"""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import urllib3
from airflow_client import client

from chart_tools import ROOT
from chart_tools.airflow_api import Airflow, AirflowCheckError, token
from chart_tools.chart.render import Manifest
from chart_tools.runtime.plan import RunPlan
from chart_tools.runtime.smoke import DAGS, DEFAULT_PROFILE, Smoke, service_url

# Secret -> the variable that carries it into a container.
VARIABLES = {
    "fernet-key": "AIRFLOW__CORE__FERNET_KEY",
    "jwt-secret": "AIRFLOW__API_AUTH__JWT_SECRET",
    "api-secret-key": "AIRFLOW__API__SECRET_KEY",
    "database": "AIRFLOW_DB_PASSWORD",
    "redis": "AIRFLOW_REDIS_PASSWORD",
    "admin-password": "AIRFLOW_ADMIN_PASSWORD",
}
# (component, secret, DAG whose run needs it): every key each component keeps.
CASES = [
    ("api-server", "fernet-key", "tutorial"),
    ("api-server", "jwt-secret", "tutorial"),
    ("api-server", "api-secret-key", "tutorial"),
    ("api-server", "database", "tutorial"),
    ("scheduler", "fernet-key", "start_from_trigger"),
    ("scheduler", "jwt-secret", "tutorial"),
    ("scheduler", "database", "tutorial"),
    ("scheduler", "redis", "tutorial"),
    ("dag-processor", "fernet-key", "parse_time_variable"),
    ("dag-processor", "database", "tutorial"),
    ("triggerer", "fernet-key", "start_from_trigger"),
    ("triggerer", "api-secret-key", "deferrable_sensor"),
    ("triggerer", "database", "deferrable_sensor"),
    ("worker", "api-secret-key", "tutorial"),
    ("worker", "database", "tutorial"),
    ("worker", "redis", "tutorial"),
    ("flower", "database", "tutorial"),
    ("flower", "redis", "tutorial"),
    ("migrations", "database", "tutorial"),
    ("migrations", "admin-password", "tutorial"),
]
UNENCRYPTED = "empty cryptography key - values will not be stored encrypted"
PROBE_VALUE = "not for everyone's eyes"
DAG_FILES = [
    *sorted(DAGS.glob("*.py")),
    *(
        ROOT / "tests" / "data" / "dags" / f"{name}.py"
        for name in ("start_from_trigger", "parse_time_variable")
    ),
]


def without(component: str, secret: str) -> Callable[[list[Manifest]], None]:
    """A mutation taking `secret` out of the main containers of `component`'s pods. A value that
    referred to it keeps `$(VARIABLE)` as literal text, as Kubernetes leaves a reference to a
    variable that does not exist."""
    variable = VARIABLES[secret]
    reference = f"$({variable})"

    def mutate(objects: list[Manifest]) -> None:
        removed = 0
        for obj in objects:
            if obj["kind"] not in ("Deployment", "Job"):
                continue
            if obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] != component:
                continue
            pod = obj["spec"]["template"]["spec"]
            main = pod["containers"] + [c for c in pod.get("initContainers", []) if c["name"] == "migrate"]
            for c in main:
                before = len(c.get("env", []))
                c["env"] = [e for e in c.get("env", []) if e["name"] != variable]
                removed += before - len(c["env"])
                for e in c["env"]:
                    if "value" in e:
                        e["value"] = e["value"].replace(reference, "$" + reference)
                c["args"] = [a.replace(reference, "$" + reference) for a in c.get("args", [])]
        if not removed:
            raise LookupError(f"{component} has no {variable} to remove")

    return mutate


class VariableProbe(Smoke):
    """The smoke, plus a Variable written through the REST API before the run, then the checks
    the run itself does not make; `problems` lists what they found broken."""

    problems: list[str]
    deferred_log: str | None = None  # the deferred task's log, read while its trigger ran

    def _trigger_and_wait(self, api: Airflow) -> None:
        if self.dag_id == "deferrable_sensor":
            threading.Thread(target=self._read_while_deferred, args=(api,), daemon=True).start()
        super()._trigger_and_wait(api)

    def _read_while_deferred(self, api: Airflow) -> None:
        """The `wait` task's log while it is deferred: the api-server reads it from the
        triggerer's log server, with a request signed by the API secret key."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.deferred_log is None:
            time.sleep(1)
            if not self.result.run_id:
                continue
            tasks = {t.task_id: t for t in api.task_instances(self.dag_id, self.result.run_id)}
            wait = tasks.get("wait")
            if wait and wait.state and wait.state.value == "deferred":
                self.deferred_log = "\n".join(
                    api.log_lines(self.dag_id, self.result.run_id, "wait", wait.try_number)
                )

    def use(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> None:
        self.problems = []
        body = client.VariableBody(key="key_removal_probe", value=PROBE_VALUE)
        api._call("variable", client.VariableApi(api._client).post_variable, body, retry=False)
        super().use(api, plan, objects)
        if self._sql("select is_encrypted from variable where key = 'key_removal_probe'") != "t":
            self.problems.append("a Variable set through the REST API was stored unencrypted")
        if self._sql("select count(*) from log where event like 'cli_%' and extra like '%flower%'") == "0":
            self.problems.append("Flower's start is missing from the audit log (`log` table)")
        self.problems += filter(
            None, (self._flower_workers(plan, objects), self._secret_login(plan, objects))
        )
        if self.dag_id == "parse_time_variable":
            self.problems += filter(None, [self._parsed_variable(api)])
        if self.dag_id == "deferrable_sensor" and self._unread(self.deferred_log):
            tail = (self.deferred_log or "")[-200:]
            self.problems.append(f"the deferred task's log could not be read from the triggerer: {tail!r}")

    @staticmethod
    def _unread(log: str | None) -> bool:
        """Whether the api-server failed to fetch a served log: Airflow then puts a note among the
        log's sources ("Could not read served logs", or its advice on a 403 to share `secret_key`)."""
        return not log or "Could not read" in log or "the same 'secret_key'" in log

    def _sql(self, query: str) -> str:
        pg = self.endpoints[0]
        url = f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.database}"
        out = subprocess.run(["psql", url, "-Atc", query], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    @staticmethod
    def _secret(objects: list[Manifest], key: str) -> str:
        secret = next(o for o in objects if o["kind"] == "Secret" and key in o.get("data", {}))
        return base64.b64decode(secret["data"][key]).decode()

    def _flower_workers(self, plan: RunPlan, objects: list[Manifest]) -> str:
        """Flower's API lists the Celery worker (it asks the workers through the broker)."""
        url = f"{service_url(plan, objects, 'flower')}/api/workers?refresh=true"
        auth = urllib3.make_headers(basic_auth=f"admin:{self._secret(objects, 'flower-password')}")
        try:
            response = urllib3.request("GET", url, headers=auth, timeout=30, retries=False)
        except urllib3.exceptions.HTTPError as err:
            return f"Flower's API did not answer: {err}"
        if response.status != 200 or not any(name.startswith("celery@") for name in response.json() or {}):
            return f"Flower's API listed no worker ({response.status}: {response.data[:120]!r})"
        return ""

    def _secret_login(self, plan: RunPlan, objects: list[Manifest]) -> str:
        """The admin logs in with the password from the Secret, as NOTES.txt tells users to."""
        try:
            token(service_url(plan, objects, "api-server"), "admin", self._secret(objects, "admin-password"))
        except AirflowCheckError as err:
            return f"the admin could not log in with the Secret's admin-password ({err})"
        return ""

    def _parsed_variable(self, api: Airflow) -> str:
        """The dag-processor read the encrypted Variable while parsing (the DAG's description)."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if api.dags.get_dag("parse_time_variable").description == PROBE_VALUE:
                return ""
            time.sleep(5)
        return "the dag-processor never read the Variable while parsing (the DAG kept its default)"


def run_case(component: str, secret: str, dag_id: str) -> str:
    """How the run ends without the secret: its failure; or, when it passed, whether a Variable
    or the component's own writes were left unencrypted (Airflow's warning when it encrypts
    without a fernet key); else "passed"."""
    mutate = without(component, secret) if component else None
    smoke = VariableProbe([DEFAULT_PROFILE], dag_id=dag_id, mutate=mutate, dag_files=DAG_FILES)
    result = smoke.run()
    logs = "".join(p.read_text(errors="replace") for p in (smoke.run_dir / "logs").glob(f"{component}.*.log"))
    smoke.cleanup(keep=False)
    if not result.ok:
        return " ".join(result.failure.split())[:300]
    problems = smoke.problems + ([f"{component} logged: {UNENCRYPTED}"] if UNENCRYPTED in logs else [])
    return f"the run passed, but {'; '.join(problems)}" if problems else "passed"


def main(names: list[str]) -> None:
    cases = [c for c in CASES if not names or f"{c[0]}/{c[1]}" in names]
    # Controls: with every secret in place, every check of each DAG passes (else they prove nothing).
    cases = [*(("", "", dag) for dag in sorted({dag for *_, dag in cases})), *cases]
    print("| component | secret taken out | DAG | what broke |\n|---|---|---|---|")
    for component, secret, dag_id in cases:
        print(f"| {component} | {secret} | {dag_id} | {run_case(component, secret, dag_id)} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
