"""Private PostgreSQL and Redis servers for the runtime tier.

Where a Docker engine answers, testcontainers runs the official images; elsewhere (our machines
have no engine) the Debian server binaries run on free loopback ports with their own data
directories. `python -m chart_tools.runtime.services` (run by `make setup-runtime`) installs the Debian
packages when the binaries are missing and we are root on Debian, and otherwise says what to
install. Only the standard library is imported at module level so setup can run it early.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Debian package -> the binary the tests run from it (git: the git-sync stand-in; prometheus:
# promtool, which checks the alert rules and dashboard queries; docker-registry: the OCI chart
# registry and gnupg: package signing, for the release tests; openssl: certificates for TLS).
DEBIAN_PACKAGES = {
    "postgresql": "initdb",
    "redis-server": "redis-server",
    "git": "git",
    "prometheus": "promtool",
    "docker-registry": "docker-registry",
    "gnupg": "gpg",
    "chromium": "chromium",  # the browser test drives it through Playwright
    "openssl": "openssl",  # the local servers' TLS certificates
    "pgbouncer": "pgbouncer",  # runs the chart's rendered pgbouncer.ini
}
POSTGRES_PASSWORD = "airflow-smoke"  # loopback-only throwaway servers
POSTGRES_ADMIN_PASSWORD = "airflow-smoke-admin"  # the superuser `postgres`
REDIS_PASSWORD = "airflow-smoke-broker"


class ServiceError(RuntimeError):
    """A service binary is missing or a server did not come up."""


@dataclass(frozen=True)
class Endpoint:
    """How to reach one server."""

    host: str
    port: int
    user: str = ""
    password: str = ""
    database: str = ""
    ca_cert: str = ""  # PEM of the CA that signed the server's TLS certificate; "" without TLS
    # Restart the server in place (same port, same data), for fault tests; None: not supported.
    restart: Callable[[], None] | None = field(default=None, compare=False, repr=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_bin(name: str) -> str:
    """A server binary: PATH and the sbin folders (pgbouncer's), then Debian's versioned PostgreSQL
    folders (newest first)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    for folder in reversed(versions):
        if (folder / name).exists():
            return str(folder / name)
    package = next((p for p, b in DEBIAN_PACKAGES.items() if b == name), "postgresql")
    raise ServiceError(f"{name} is not installed (Debian: apt-get install {package})")


def missing_binaries() -> list[str]:
    """Debian packages whose binary cannot be found."""
    missing = []
    for package, binary in DEBIAN_PACKAGES.items():
        try:
            server_bin(binary)
        except ServiceError:
            missing.append(package)
    return missing


def _run_as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: drop to the `postgres` account when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait_for_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise ServiceError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServiceError(
            f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}"
        )


# A new P-256 key, unencrypted, for `openssl req`.
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str) -> None:
    _run([server_bin("openssl"), *args], f"openssl {args[0]}")


def make_ca(folder: Path, name: str) -> Path:
    """A throwaway certificate authority (ca.key, ca.crt) in `folder`; the certificate's path."""
    folder.mkdir(parents=True, exist_ok=True)
    cert = folder / "ca.crt"
    _openssl("req", "-x509", *EC_KEY, "-keyout", str(folder / "ca.key"), "-out", str(cert), "-days", "7",
             "-subj", f"/CN={name}")  # fmt: skip
    return cert


def make_server_cert(folder: Path, ca: Path, names: str) -> tuple[Path, Path]:
    """A server key and certificate signed by `ca` for `names` (subjectAltName syntax)."""
    key, csr, cert, ext = (folder / n for n in ("server.key", "server.csr", "server.crt", "san.ext"))
    _openssl("req", *EC_KEY, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=server")
    ext.write_text(f"subjectAltName={names}\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca.with_suffix(".key")),
             "-CAcreateserial", "-out", str(cert), "-days", "7", "-extfile", str(ext))  # fmt: skip
    return key, cert


def server_tls(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server key, server certificate) for a loopback server, from a CA of its own."""
    ca = make_ca(folder, f"chart-tools {name} CA")
    return ca, *make_server_cert(folder, ca, "IP:127.0.0.1,DNS:localhost")


@contextlib.contextmanager
def local_postgres() -> Iterator[Endpoint]:
    """A throwaway PostgreSQL cluster on a free port; a database and user `airflow` in it.

    TCP logins need the password (scram), as on a real server, so a test can tell roles apart;
    the superuser `postgres` has POSTGRES_ADMIN_PASSWORD. It serves TLS with a certificate for
    127.0.0.1 from a CA of its own (Endpoint.ca_cert), so clients can verify it as they would a
    managed database. Its data lives in a folder of its own (owned by `postgres` when we are
    root), removed on exit.
    """
    prefix = _run_as_postgres_user()
    data = Path(tempfile.mkdtemp(prefix="chart-tools-postgres-"))
    if prefix:
        shutil.chown(data, "postgres")
    port = free_port()
    pg_ctl = [*prefix, server_bin("pg_ctl"), "-D", str(data / "db")]
    try:
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256"]
        _run([*prefix, server_bin("initdb"), "-D", str(data / "db"), "-U", "postgres", *auth], "initdb")
        ca, key, cert = server_tls(data / "tls", "PostgreSQL")
        if prefix:
            for path in (key, cert):
                shutil.chown(path, "postgres")
        key.chmod(0o600)
        options = (
            f"-p {port} -h 127.0.0.1 -k {data} -c fsync=off -c full_page_writes=off -c max_connections=300"
            f" -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}"
        )
        server = [*pg_ctl, "-o", options, "-l", str(data / "server.log"), "-w"]
        _run([*server, "start"], "pg_ctl start")
        psql = [*prefix, server_bin("psql"), "-h", str(data), "-p", str(port), "-U", "postgres"]
        admin = f"ALTER ROLE postgres PASSWORD '{POSTGRES_ADMIN_PASSWORD}'"
        role = f"CREATE ROLE airflow LOGIN PASSWORD '{POSTGRES_PASSWORD}'"
        _run(
            [*psql, "-c", admin, "-c", role, "-c", "CREATE DATABASE airflow OWNER airflow"],
            "creating the airflow database",
        )
        restart = [*server, "-m", "fast", "restart"]
        yield Endpoint(
            "127.0.0.1",
            port,
            "airflow",
            POSTGRES_PASSWORD,
            "airflow",
            ca.read_text(),
            lambda: _run(restart, "pg_ctl restart"),
        )
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def local_redis(workdir: Path) -> Iterator[Endpoint]:
    """A throwaway redis-server on a free port, no persistence: a restart loses what it held."""
    port = free_port()
    folder = workdir / "redis"
    folder.mkdir(parents=True)
    ca, key, cert = server_tls(folder / "tls", "Redis")
    tls = ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-auth-clients", "no"]
    args = [
        "--requirepass",
        REDIS_PASSWORD,
        "--port",
        "0",
        "--tls-port",
        str(port),
        *tls,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
    ]
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        with open(folder / "server.log", "ab") as log:
            procs.append(
                subprocess.Popen([server_bin("redis-server"), *args], stdout=log, stderr=subprocess.STDOUT)
            )
        _wait_for_port(port, "redis-server")

    def restart() -> None:
        procs[-1].terminate()
        procs[-1].wait(timeout=10)
        start()

    try:
        start()
        yield Endpoint("127.0.0.1", port, password=REDIS_PASSWORD, ca_cert=ca.read_text(), restart=restart)
    finally:
        procs[-1].terminate()
        procs[-1].wait(timeout=10)


def query(pg: Endpoint, sql: str, header: bool = False) -> list[list[str]]:
    """Rows of a query on the endpoint's database, as its own user, through psql (the column
    names first, with `header`)."""
    cmd = [server_bin("psql"), "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", pg.database]
    shape = ["-A", "--pset=footer=off"] if header else ["-At"]
    done = subprocess.run(
        [*cmd, *shape, "-F", "\t", "-c", sql],
        env={**os.environ, "PGPASSWORD": pg.password},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ServiceError(f"psql failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return [line.split("\t") for line in done.stdout.splitlines()]


def records(pg: Endpoint, sql: str) -> list[dict[str, str]]:
    """Rows of a query as column name -> value (e.g. PgBouncer's SHOW commands)."""
    header, *rows = query(pg, sql, header=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def docker_available() -> bool:
    """True when a Docker engine answers (testcontainers can then run the official images)."""
    if not shutil.which("docker"):
        return False
    done = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
    return done.returncode == 0


@contextlib.contextmanager
def docker_services() -> Iterator[tuple[Endpoint, Endpoint]]:
    """PostgreSQL and Redis from the official images through testcontainers."""
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-not-found]
    from testcontainers.redis import RedisContainer  # type: ignore[import-not-found]

    with (
        PostgresContainer(
            "postgres:17.6", username="airflow", password=POSTGRES_PASSWORD, dbname="airflow"
        ) as pg,
        RedisContainer("redis:7.4.6", password=REDIS_PASSWORD) as redis,
    ):
        yield (
            Endpoint(
                pg.get_container_host_ip(),
                int(pg.get_exposed_port(5432)),
                "airflow",
                POSTGRES_PASSWORD,
                "airflow",
            ),
            Endpoint(redis.get_container_host_ip(), int(redis.get_exposed_port(6379)), "", REDIS_PASSWORD),
        )


@contextlib.contextmanager
def services(workdir: Path | None = None) -> Iterator[tuple[Endpoint, Endpoint]]:
    """(postgres, redis) for one run; everything is stopped and removed on exit."""
    if docker_available():
        with docker_services() as endpoints:
            yield endpoints
        return
    with contextlib.ExitStack() as stack:
        root = workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="chart-tools-services-"))
        )
        postgres = stack.enter_context(local_postgres())
        redis = stack.enter_context(local_redis(root))
        yield postgres, redis


def ensure_installed() -> int:
    """Install the Debian packages the tests need when missing (root on Debian), else explain."""
    missing = missing_binaries()
    if not missing:
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"setup: installing Debian packages {' '.join(missing)} (apt output only on failure)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", *missing]):
            done = subprocess.run(["apt-get", *cmd], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"setup: apt-get {cmd[0]} failed:\n{(done.stdout + done.stderr)[-2000:]}")
                return 1
        return 0 if not missing_binaries() else 1
    packages = " ".join(missing)
    print(f"setup: the tests need {packages}: install them (Debian: apt-get install {packages})")
    return 1 if os.environ.get("CI") == "true" else 0


if __name__ == "__main__":
    sys.exit(ensure_installed())
