"""Real chart-repository servers on loopback for the consumption tests: a static HTTP server
(optionally behind Basic auth), as any web server or bucket serves an HTTP chart repository, and
the CNCF distribution registry (Debian's `docker-registry`) for OCI."""

from __future__ import annotations

import base64
import functools
import http.server
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chart_tools.runtime.services import free_port

REGISTRY_START_SECONDS = 120  # a deadline, not a delay: a loaded machine starts it slower


class _Files(http.server.SimpleHTTPRequestHandler):
    """Static files; with `expected` set, only requests carrying that Authorization header."""

    expected: str | None = None

    def _allowed(self) -> bool:
        if self.expected is None or self.headers.get("Authorization") == self.expected:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="charts"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:
        if self._allowed():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._allowed():
            super().do_HEAD()

    def log_message(self, *args: object) -> None:  # quiet: the tests report what matters
        pass


@contextmanager
def http_repository(root: Path, user: str = "", password: str = "") -> Iterator[str]:
    """Serve `root` on a free loopback port (Basic auth when `user` is set); yield its URL."""
    handler = type("Files", (_Files,), {})
    if user:
        handler.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def oci_registry(workdir: Path) -> Iterator[str]:
    """A throwaway distribution registry (storage under `workdir`); yield its HOST:PORT."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed (Debian package docker-registry; make setup-runtime)")
    address = f"127.0.0.1:{free_port()}"
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'storage'}\n"
        f"http:\n  addr: {address}\n"
    )
    log = workdir / "registry.log"
    with log.open("w") as out:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_registry(address, process, log)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_registry(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + REGISTRY_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"docker-registry did not answer on {address} within {REGISTRY_START_SECONDS} s")
