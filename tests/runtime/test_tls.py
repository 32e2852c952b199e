"""TLS to the metadata database and the Celery broker, with Airflow's own code against real
PostgreSQL and Redis speaking TLS: the rendered settings verify each server against the CA the
values name, and refuse a server whose certificate another CA signed. (Every smoke already runs
with these settings: runtime_values names the local servers' CAs.)"""

import os
import subprocess

import pytest

from chart_tools.chart.render import render
from chart_tools.runtime.processes import AIRFLOW_VENV
from chart_tools.runtime.services import make_ca, services
from chart_tools.runtime.smoke import DEFAULT_PROFILE, runtime_values
from tests.helpers import airflow_cfg, container, deployment, env_map

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]

CONNECT_DATABASE = "import sqlalchemy, sys; sqlalchemy.create_engine(sys.argv[1]).connect().close()"
CONNECT_BROKER = (
    "from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG as c\n"
    "from kombu import Connection\n"
    "assert c['broker_use_ssl']['ssl_ca_certs'], c['broker_use_ssl']\n"
    "Connection(c['broker_url'], ssl=c['broker_use_ssl']).ensure_connection(max_retries=1)\n"
)


def airflow_python(code, *args, env=None):
    command = [str(AIRFLOW_VENV / "bin" / "python"), "-c", code, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The local servers, a render that names their CAs, and another CA that signed neither."""
    tmp = tmp_path_factory.mktemp("tls")
    with services(tmp / "services") as (pg, redis):
        values, _ = runtime_values(pg, redis, tmp)
        objects = render([DEFAULT_PROFILE, values])
        yield {
            "pg": pg,
            "redis": redis,
            "objects": objects,
            "tmp": tmp,
            "other": make_ca(tmp / "other", "other"),
        }


def cas(case, server):
    """(right CA file, wrong CA file) for a server."""
    right = case["tmp"] / f"{server}-ca.crt"
    right.write_text(case[server].ca_cert)
    return right, case["other"]


def test_the_database_url_verifies_the_server_and_its_name(rendered):
    env = env_map(container(deployment(rendered["objects"], "scheduler"), "scheduler"))
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "sslmode=verify-full&sslrootcert=/etc/airflow/database-ca/ca.crt" in url
    right, wrong = cas(rendered, "pg")
    url = url.replace("$(AIRFLOW_DB_PASSWORD)", rendered["pg"].password)
    done = airflow_python(CONNECT_DATABASE, url.replace("/etc/airflow/database-ca/ca.crt", str(right)))
    assert done.returncode == 0, done.stderr[-2000:]
    refused = airflow_python(CONNECT_DATABASE, url.replace("/etc/airflow/database-ca/ca.crt", str(wrong)))
    assert refused.returncode != 0 and "certificate verify failed" in refused.stderr


def test_the_broker_settings_verify_the_server(rendered, tmp_path):
    celery = airflow_cfg(rendered["objects"])["celery"]
    assert (celery["ssl_active"], celery["ssl_mutual_tls"]) == ("True", "False")
    env = env_map(container(deployment(rendered["objects"], "worker"), "worker"))
    broker = env["AIRFLOW__CELERY__BROKER_URL"].replace(
        "$(AIRFLOW_REDIS_PASSWORD)", rendered["redis"].password
    )
    assert broker.startswith("rediss://")
    right, wrong = cas(rendered, "redis")
    base = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CELERY__BROKER_URL": broker}
    base |= {f"AIRFLOW__CELERY__{k.upper()}": v for k, v in celery.items() if k.startswith("ssl_")}
    assert base["AIRFLOW__CELERY__SSL_CACERT"] == "/etc/airflow/redis-ca/ca.crt"
    done = airflow_python(CONNECT_BROKER, env={**base, "AIRFLOW__CELERY__SSL_CACERT": str(right)})
    assert done.returncode == 0, done.stderr[-2000:]
    refused = airflow_python(CONNECT_BROKER, env={**base, "AIRFLOW__CELERY__SSL_CACERT": str(wrong)})
    assert refused.returncode != 0 and "certificate verify failed" in refused.stderr
