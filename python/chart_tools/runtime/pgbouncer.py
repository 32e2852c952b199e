"""The PgBouncer container on the local runtime: Debian's real `pgbouncer` runs the rendered
pgbouncer.ini.

Only what cannot be the same on one host changes, in a copy of the file: the listening address
and port (a free local port stands in for the container port) and the paths, which move into
the pod's root as every other mount does. Pools, auth, TLS to the server and every other
setting stay as rendered. PgBouncer refuses to run as root, which the runtime is on CI: then,
as the pod's securityContext says, it runs as `nobody` (65534), reading copies of its files
that user owns.
"""

from __future__ import annotations

import configparser
import io
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from chart_tools.runtime.services import free_port, server_bin

COMMAND = "pgbouncer"  # the image's binary, and Debian's
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
    stand_in = [sys.executable, "-m", "chart_tools.runtime.pgbouncer", server_bin(COMMAND), str(copy)]
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


def main() -> None:
    binary, config = sys.argv[1], Path(sys.argv[2])
    if os.getuid() != 0:
        os.execv(binary, [binary, str(config)])
    ids = [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    os.execv("/usr/bin/setpriv", ["setpriv", *ids, binary, str(_as_nobody(config))])


if __name__ == "__main__":
    main()
