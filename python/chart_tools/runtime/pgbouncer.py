"""The PgBouncer containers on the local runtime: Debian's real `pgbouncer` runs the rendered
pgbouncer.ini, and a stand-in for the pgbouncer-exporter image serves its pools.

Only what cannot be the same on one host changes, in a copy of the file: the listening address
and port (a free local port stands in for the container port) and the paths, which move into
the pod's root as every other mount does. Pools, auth, TLS to the server and every other
setting stay as rendered. PgBouncer refuses to run as root, which the runtime is on CI: then,
as the pod's securityContext says, it runs as `nobody` (65534), reading copies of its files
that user owns.

The exporter's image cannot run here. Its stand-in proves the wiring the chart owns: the rendered
DATABASE_URL logs in to PgBouncer's admin console (as the stats user) and `/metrics` on the
container port answers with the pools it reads there (`SHOW POOLS`); its metric names are its
own, not the exporter's.
"""

from __future__ import annotations

import configparser
import http.server
import io
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from chart_tools.runtime.services import Endpoint, ServiceError, free_port, records, server_bin

COMMAND = "pgbouncer"  # the image's binary, and Debian's
EXPORTER_IMAGE = "apache/airflow:airflow-pgbouncer-exporter-"  # the chart's default, by tag prefix
# Settings naming a file in the container; those it reads at start are copied for `nobody`.
PATH_SETTINGS = ("auth_file", "server_tls_ca_file", "logfile", "pidfile")
READ_AT_START = ("auth_file", "server_tls_ca_file")
NOBODY = 65534


class PgBouncerPlanError(ValueError):
    """The container's command is not one the runtime can run."""


def read(path: Path) -> configparser.ConfigParser:
    """pgbouncer.ini, names kept as written."""
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def _write(parser: configparser.ConfigParser, path: Path) -> None:
    out = io.StringIO()
    parser.write(out)
    path.write_text(out.getvalue())


def plan(argv: list[str], local: Callable[[str], Path]) -> tuple[list[str], dict[str, int]]:
    """argv of the stand-in for a rendered `pgbouncer CONFIG` container (CONFIG already mapped),
    and its container port -> the free local port it listens on instead. `local` maps a
    container path into the pod root."""
    if len(argv) != 2:
        raise PgBouncerPlanError(f"expected `{COMMAND} CONFIG`, got {argv}")
    config = Path(argv[1])
    parser = read(config)
    settings = parser["pgbouncer"]
    container_port = settings.get("listen_port", "6432")
    port = free_port()
    settings["listen_addr"] = "127.0.0.1"
    settings["listen_port"] = str(port)
    for key in PATH_SETTINGS:
        if settings.get(key, "").startswith("/"):
            settings[key] = str(local(settings[key]))
    copy = config.with_name(f"{config.stem}.local.ini")
    _write(parser, copy)
    stand_in = [sys.executable, "-m", __name__, server_bin(COMMAND), str(copy)]
    return stand_in, {container_port: port}


def _as_nobody(config: Path) -> Path:
    """Copies of the config and the files it reads at start, owned by `nobody` in a folder it
    can reach (the pod's volumes are the kubelet's, readable by the pod's user)."""
    folder = config.parent / "pgbouncer-nobody"
    folder.mkdir(exist_ok=True)
    parser = read(config)
    settings = parser["pgbouncer"]
    for key in READ_AT_START:
        if settings.get(key):
            target = folder / key
            shutil.copyfile(settings[key], target)
            os.chown(target, NOBODY, NOBODY)
            settings[key] = str(target)
    copy = folder / "pgbouncer.ini"
    _write(parser, copy)
    os.chown(copy, NOBODY, NOBODY)
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    return copy


def plan_exporter(container: dict) -> tuple[list[str], dict[str, int]]:
    """argv of the exporter's stand-in and its container port -> a free local port."""
    (port,) = container.get("ports") or [{"containerPort": 9127}]
    local = free_port()
    return [sys.executable, "-m", __name__, "--exporter", str(local)], {str(port["containerPort"]): local}


def pools(url: str) -> str:
    """Prometheus text of `SHOW POOLS`, read through `url` (PgBouncer's admin console)."""
    parts = urlsplit(url)
    console = Endpoint(parts.hostname or "", parts.port or 6432, parts.username or "", parts.password or "",
                       parts.path.lstrip("/"))  # fmt: skip
    lines = []
    for pool in records(console, "SHOW POOLS"):
        labels = f'database="{pool["database"]}",user="{pool["user"]}"'
        for column in ("cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used"):
            lines.append(f"pgbouncer_pools_{column}{{{labels}}} {pool[column]}")
    return "\n".join(lines) + "\n"


def serve_exporter(port: int) -> None:
    url = os.environ["DATABASE_URL"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            try:
                body = pools(url).encode()
            except ServiceError as err:
                self.send_error(503, str(err)[-200:])
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    if sys.argv[1] == "--exporter":
        serve_exporter(int(sys.argv[2]))
        return
    binary, config = sys.argv[1], Path(sys.argv[2])
    if os.getuid() != 0:
        os.execv(binary, [binary, str(config)])
    ids = [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    os.execv("/usr/bin/setpriv", ["setpriv", *ids, binary, str(_as_nobody(config))])


if __name__ == "__main__":
    main()
