"""Two cluster releases on one base: each gets its own database and role on the base's server.

The local PostgreSQL plays the base release's embedded server (`base-airflow-postgres`, its
admin Secret holding the superuser password). Each cluster's migration Job first runs the
chart's create-database SQL with real `psql`, then migrates, and the cluster runs the tutorial.
"""

import subprocess

import pytest

from chart_tools import ROOT
from chart_tools.runtime.processes import process_env
from chart_tools.runtime.services import POSTGRES_ADMIN_PASSWORD, services
from chart_tools.runtime.smoke import Smoke

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]
PROFILE = ROOT / "values" / "local-executor.yaml"


def psql(pg, user, password, database, sql):
    cmd = ["psql", "--no-psqlrc", "-h", pg.host, "-p", str(pg.port), "-U", user, "-d", database, "-tAc", sql]
    env = {"PGPASSWORD": password, "PATH": "/usr/bin"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def catalog(pg):
    """What the creation SQL may change: roles (password hashes included), databases, their ACLs."""
    sql = (
        "SELECT rolname, rolpassword, rolcanlogin, rolsuper FROM pg_authid ORDER BY 1; "
        "SELECT datname, datdba::regrole, datacl FROM pg_database ORDER BY 1"
    )
    done = psql(pg, "postgres", POSTGRES_ADMIN_PASSWORD, "postgres", sql)
    assert done.returncode == 0, done.stderr
    return done.stdout


def db_password(smoke):
    create = next(p for p in smoke.plan.migration.init if p.container == "create-database")
    return create.env["AIRFLOW_DB_PASSWORD"], create


def test_two_clusters_on_one_base(tmp_path):
    with services(tmp_path / "services") as (pg, redis):
        clusters = {}
        for release in ("team-a", "team-b"):
            smoke = Smoke([PROFILE], base="base", shared=(pg, redis), release=release)
            result = smoke.run()
            assert result.ok, f"{release}: {result.failure}"
            assert set(result.tasks.values()) == {"success"}
            clusters[release] = smoke

        a_password, a_create = db_password(clusters["team-a"])
        b_password, _ = db_password(clusters["team-b"])
        assert a_password != b_password
        # Each cluster reaches its own database with its own credentials ...
        for name, password in (("team_a_airflow", a_password), ("team_b_airflow", b_password)):
            done = psql(pg, name, password, name, "SELECT count(*) FROM dag_run")
            assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr
        # ... and cluster A's credentials cannot open cluster B's database.
        done = psql(pg, "team_a_airflow", a_password, "team_b_airflow", "SELECT 1")
        assert done.returncode != 0 and "permission denied for database" in done.stderr

        before = catalog(pg)
        env = process_env(a_create)
        rerun = subprocess.run(a_create.argv, env=env, cwd=a_create.root, capture_output=True)
        assert rerun.returncode == 0, rerun.stderr
        assert catalog(pg) == before  # re-running the creation step changes nothing
        for smoke in clusters.values():
            smoke.cleanup(keep=False)
