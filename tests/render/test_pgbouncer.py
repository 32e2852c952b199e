"""PgBouncer as rendered (cluster.pgbouncer): its configuration, where each container connects,
and the rules that refuse what it cannot serve. tests/runtime/test_pgbouncer.py runs it."""

import configparser
from urllib.parse import urlsplit

import pytest

from chart_tools import ROOT
from chart_tools.chart.render import RenderError, find, render
from chart_tools.runtime.plan import pod_template
from tests.helpers import airflow_cfg, container, env_map, of_kind

PRODUCTION = ROOT / "values" / "production.yaml"
ON = ["cluster.pgbouncer.enabled=true"]
EXTERNAL = [
    "base.database.type=external",
    "base.database.external.host=db.example.com",
    "base.database.external.passwordSecret.name=airflow-db",
]
MIGRATION_CONTAINERS = {"migrate", "create-admin"}


def ini(objects) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.read_string(find(objects, "ConfigMap", "-pgbouncer")["data"]["pgbouncer.ini"])
    return parser


def database_urls(objects):
    """(kind, component, container) -> its SQLAlchemy URL, for every container given one."""
    urls = {}
    for obj in of_kind(objects, "Deployment") + of_kind(objects, "Job") + of_kind(objects, "CronJob"):
        template = pod_template(obj)
        component = template["metadata"]["labels"]["app.kubernetes.io/component"]
        for c in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            url = env_map(c).get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
            if url:
                urls[(obj["kind"], component, c["name"])] = url
    return urls


@pytest.fixture
def production(helm_major):
    return render([PRODUCTION], helm_major=helm_major)


def test_off_by_default(defaults):
    assert not [o for o in defaults if "pgbouncer" in o["metadata"]["name"]]
    for url in database_urls(defaults).values():
        assert urlsplit(url).hostname == "airflow-postgres"
    assert not airflow_cfg(defaults).has_option("database", "sql_alchemy_connect_args_async")


def test_the_configuration_pools_transactions_from_values(helm_major):
    objects = render(
        [],
        [
            *ON,
            *EXTERNAL,
            "cluster.pgbouncer.poolSize=7",
            "cluster.pgbouncer.reservePoolSize=2",
            "cluster.pgbouncer.maxClientConnections=321",
            "base.database.external.port=6543",
        ],
        helm_major=helm_major,
    )
    config = ini(objects)
    assert config["databases"]["airflow"] == "host=db.example.com port=6543 dbname=airflow"
    bouncer = config["pgbouncer"]
    assert (bouncer["pool_mode"], bouncer["default_pool_size"], bouncer["reserve_pool_size"]) == (
        "transaction",
        "7",
        "2",
    )
    assert bouncer["max_client_conn"] == "321"
    assert bouncer["listen_port"] == "6432"
    assert (bouncer["auth_type"], bouncer["auth_file"]) == ("scram-sha-256", "/etc/pgbouncer-auth/users.txt")
    assert bouncer["stats_users"] == "airflow"
    assert bouncer["server_tls_sslmode"] == "prefer"
    assert "server_tls_ca_file" not in bouncer


@pytest.mark.parametrize(
    ("extra", "mode"),
    [
        (["base.database.external.query=connect_timeout=5&sslmode=require"], "require"),
        (["base.database.external.query=sslmode=disable"], "disable"),
        (["base.database.external.caSecret=airflow-db-ca"], "verify-full"),
    ],
)
def test_the_server_connection_keeps_the_database_tls(helm_major, extra, mode):
    objects = render([], [*ON, *EXTERNAL, *extra], helm_major=helm_major)
    bouncer = ini(objects)["pgbouncer"]
    assert bouncer["server_tls_sslmode"] == mode
    if mode == "verify-full":
        assert bouncer["server_tls_ca_file"] == "/etc/airflow/database-ca/ca.crt"
        main = container(find(objects, "Deployment", "-pgbouncer"), "pgbouncer")
        assert {"name": "database-ca", "mountPath": "/etc/airflow/database-ca", "readOnly": True} in main[
            "volumeMounts"
        ]


def test_the_password_reaches_only_the_in_memory_auth_file(helm_major):
    objects = render([], [*ON, *EXTERNAL], helm_major=helm_major)
    deployment = find(objects, "Deployment", "-pgbouncer")
    pod = deployment["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert env_map(init)["DB_PASSWORD"] == {"secretKeyRef": {"name": "airflow-db", "key": "password"}}
    assert init["args"][-1] == "/etc/pgbouncer-auth/users.txt"
    main = container(deployment, "pgbouncer")
    assert "env" not in main
    assert main["command"] == ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
    auth = next(v for v in pod["volumes"] if v["name"] == "auth")
    assert auth["emptyDir"]["medium"] == "Memory"
    assert "password" not in find(objects, "ConfigMap", "-pgbouncer")["data"]["pgbouncer.ini"]
    assert pod["securityContext"]["runAsUser"] == 65534  # pgbouncer refuses root


def test_components_connect_through_it_and_migrations_directly(production):
    urls = database_urls(production)
    assert {c for (kind, _, c) in urls if kind == "Job"} == MIGRATION_CONTAINERS
    for (kind, component, name), url in urls.items():
        parts = urlsplit(url)
        if kind == "Job":
            assert (parts.scheme, parts.hostname, parts.port) == (
                "postgresql",
                "postgres.example.internal",
                5432,
            )
            assert "sslmode=verify-full" in parts.query
        else:
            assert (parts.scheme, parts.hostname, parts.port) == (
                "postgresql+psycopg2",
                "airflow-pgbouncer",
                6432,
            ), (component, name)
            assert parts.query == ""
    components = {component for (kind, component, _) in urls if kind != "Job"}
    assert {
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker",
        "database-cleanup",
    } <= components
    backend = env_map(container(find(production, "Deployment", "-worker"), "worker"))[
        "AIRFLOW__CELERY__RESULT_BACKEND"
    ]
    assert backend.startswith(
        "db+postgresql+psycopg2://airflow:$(AIRFLOW_DB_PASSWORD)@airflow-pgbouncer:6432/"
    )


def test_the_async_engine_uses_psycopg_without_prepared_statements(production):
    """Airflow's async engine would use asyncpg, whose named prepared statements break under
    transaction pooling: it gets psycopg, with the connect arguments of a file the chart mounts."""
    scheduler = container(find(production, "Deployment", "-scheduler"), "scheduler")
    env = env_map(scheduler)
    sync, async_ = (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"],
    )
    assert async_ == sync.replace("postgresql+psycopg2://", "postgresql+psycopg://", 1)
    assert airflow_cfg(production)["database"]["sql_alchemy_connect_args_async"] == (
        "chart_database.ASYNC_CONNECT_ARGS"
    )
    source = find(production, "ConfigMap", "-config")["data"]["chart_database.py"]
    namespace: dict = {}
    exec(compile(source, "chart_database.py", "exec"), namespace)
    assert namespace["ASYNC_CONNECT_ARGS"] == {"prepare_threshold": None}
    mount = next(m for m in scheduler["volumeMounts"] if m.get("subPath") == "chart_database.py")
    assert mount["mountPath"] == "/opt/airflow/config/chart_database.py"  # on Airflow's sys.path


def test_budget_and_policy(production):
    budget = find(production, "PodDisruptionBudget", "-pgbouncer")
    assert budget["spec"]["maxUnavailable"] == 1
    policy = find(production, "NetworkPolicy", "-pgbouncer")
    clients, keda = policy["spec"]["ingress"]  # production scales its workers with KEDA
    assert clients["ports"] == keda["ports"] == [{"protocol": "TCP", "port": 6432}]
    (peer,) = clients["from"]
    assert peer["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "airflow",
        "app.kubernetes.io/instance": "airflow",
        "airflow/database": "airflow",
    }
    assert keda["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "keda-operator"}
    admitted = peer["podSelector"]["matchLabels"].items()
    for component in ("api-server", "scheduler", "dag-processor", "triggerer", "worker"):
        labels = find(production, "Deployment", f"-{component}")["spec"]["template"]["metadata"]["labels"]
        assert admitted <= labels.items(), component


def test_one_replica_has_no_budget(helm_major):
    objects = render([], [*ON, *EXTERNAL], helm_major=helm_major)
    assert not [o for o in of_kind(objects, "PodDisruptionBudget") if "pgbouncer" in o["metadata"]["name"]]


def test_mysql_is_refused(helm_major):
    with pytest.raises(
        RenderError, match=r"cluster\.pgbouncer\.enabled needs a PostgreSQL metadata database"
    ):
        render([], [*ON, "base.database.type=mysql"], helm_major=helm_major)


def test_the_async_url_is_not_settable_in_config(helm_major):
    """It holds the password: like sql_alchemy_conn, it only comes from the chart's Secret."""
    with pytest.raises(RenderError, match="sql_alchemy_conn_async"):
        render(
            [],
            ["cluster.config.database.sql_alchemy_conn_async=postgresql+asyncpg://x"],
            helm_major=helm_major,
        )


def test_the_exporter_reads_the_admin_console_as_the_stats_user(helm_major):
    objects = render([], [*ON, *EXTERNAL, "cluster.pgbouncer.metrics.enabled=true"], helm_major=helm_major)
    deployment = find(objects, "Deployment", "-pgbouncer")
    exporter = container(deployment, "metrics")
    env = env_map(exporter)
    assert env["DB_PASSWORD"] == {"secretKeyRef": {"name": "airflow-db", "key": "password"}}
    assert env["DATABASE_URL"] == "postgres://airflow:$(DB_PASSWORD)@127.0.0.1:6432/pgbouncer?sslmode=disable"
    assert ini(objects)["pgbouncer"]["stats_users"] == "airflow"  # the user it logs in as
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9127}]
    service = find(objects, "Service", "-pgbouncer")
    assert {"name": "metrics", "port": 9127, "targetPort": "metrics"} in service["spec"]["ports"]
    metrics_rule = find(objects, "NetworkPolicy", "-pgbouncer")["spec"]["ingress"][-1]
    assert metrics_rule["ports"] == [{"protocol": "TCP", "port": 9127}]
    assert metrics_rule["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    off = render([], [*ON, *EXTERNAL], helm_major=helm_major)
    assert [
        c["name"] for c in find(off, "Deployment", "-pgbouncer")["spec"]["template"]["spec"]["containers"]
    ] == ["pgbouncer"]


@pytest.mark.parametrize("monitor", ["serviceMonitor", "podMonitor"])
def test_prometheus_operator_scrapes_the_exporter_too(helm_major, monitor):
    values = [*ON, "cluster.pgbouncer.metrics.enabled=true", "cluster.metrics.enabled=true",
              "cluster.metrics.force=true", "cluster.metrics.serviceMonitor.enabled=false",
              f"cluster.metrics.{monitor}.enabled=true"]  # fmt: skip
    objects = render([], values, helm_major=helm_major)
    kind = monitor[0].upper() + monitor[1:]
    selector = find(objects, kind, "-statsd")["spec"]["selector"]
    assert selector["matchExpressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["statsd", "pgbouncer"]}
    ]
    for component in ("statsd", "pgbouncer"):
        target = find(objects, "Service" if kind == "ServiceMonitor" else "Deployment", f"-{component}")
        labels = (
            target["metadata"]["labels"]
            if kind == "ServiceMonitor"
            else target["spec"]["template"]["metadata"]["labels"]
        )
        assert selector["matchLabels"].items() <= labels.items()
        assert labels["app.kubernetes.io/component"] in selector["matchExpressions"][0]["values"]
