"""Which component needs which secret, shown on the local runtime: each case takes one secret out
of one component's main container, runs a DAG, and records how the run breaks.

`python -m tests.runtime.key_removal [COMPONENT/SECRET ...]` prints a Markdown table
(docs/security.md shows it). It runs one smoke per case, about 20 minutes in all, so `make test`
does not run it: there the smokes of every executor prove the reduced sets work, and
test_smoke.py keeps one removal (the scheduler's JWT secret).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from airflow_client import client

from chart_tools import ROOT
from chart_tools.airflow_api import Airflow
from chart_tools.chart.render import Manifest
from chart_tools.runtime.plan import RunPlan
from chart_tools.runtime.smoke import DAGS, DEFAULT_PROFILE, Smoke

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
    ("dag-processor", "fernet-key", "tutorial"),
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
DAG_FILES = [*sorted(DAGS.glob("*.py")), ROOT / "tests" / "data" / "dags" / "start_from_trigger.py"]


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
    """The smoke, plus a Variable written through the REST API before the run; `encrypted` says
    whether it reached the database encrypted."""

    encrypted: bool | None = None

    def use(self, api: Airflow, plan: RunPlan, objects: list[Manifest]) -> None:
        body = client.VariableBody(key="key_removal_probe", value="not for everyone's eyes")
        api._call("variable", client.VariableApi(api._client).post_variable, body, retry=False)
        super().use(api, plan, objects)
        pg = self.endpoints[0]
        url = f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.database}"
        query = "select is_encrypted from variable where key = 'key_removal_probe'"
        out = subprocess.run(["psql", url, "-Atc", query], capture_output=True, text=True, check=True)
        self.encrypted = out.stdout.strip() == "t"


def run_case(component: str, secret: str, dag_id: str) -> str:
    """How the run ends without the secret: its failure; or, when it passed, whether a Variable
    or the component's own writes were left unencrypted (Airflow's warning when it encrypts
    without a fernet key); else "passed"."""
    smoke = VariableProbe(
        [DEFAULT_PROFILE], dag_id=dag_id, mutate=without(component, secret), dag_files=DAG_FILES
    )
    result = smoke.run()
    logs = "".join(p.read_text(errors="replace") for p in (smoke.run_dir / "logs").glob(f"{component}.*.log"))
    smoke.cleanup(keep=False)
    if not result.ok:
        return " ".join(result.failure.split())[:300]
    if smoke.encrypted is False:
        return "the run passed, but a Variable set through the REST API was stored unencrypted"
    if UNENCRYPTED in logs:
        return f"the run passed, but {component} logged: {UNENCRYPTED}"
    return "passed"


def main(names: list[str]) -> None:
    cases = [c for c in CASES if not names or f"{c[0]}/{c[1]}" in names]
    print("| component | secret taken out | DAG | what broke |\n|---|---|---|---|")
    for component, secret, dag_id in cases:
        print(f"| {component} | {secret} | {dag_id} | {run_case(component, secret, dag_id)} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
