"""`chart-tools up` as a person uses it: started in the background, it prints a URL and a login;
real clients nobody here wrote use them (the official `apache-airflow-client` and Chromium driven
by Playwright); a second `up` is refused; Ctrl-C leaves no process and no port behind.

One `up` serves the whole module (starting Airflow takes a minute); the tests run in file order
on one xdist worker (group "up") and the last one stops it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import urllib3
from playwright.sync_api import Page, sync_playwright

from chart_tools.airflow_api import FINISHED, Airflow, AirflowCheckError, log_problem

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready"), pytest.mark.xdist_group("up")]
START_DEADLINE = 600.0  # render, migrate, start and health on a loaded two-core machine
RUN_DEADLINE = 420.0
STOP_DEADLINE = 180.0
UP = [sys.executable, "-m", "chart_tools.cli", "up"]
BROWSER = "/usr/bin/chromium"  # Debian's; Playwright's own download cannot work here


@dataclass
class Running:
    process: subprocess.Popen[str]
    banner: str
    details: dict
    details_path: Path
    env: dict[str, str]


def _wait_for_banner(process: subprocess.Popen[str], out: Path, err: Path) -> str:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        text = out.read_text()
        if "Stop with Ctrl-C" in text:
            return text
        if process.poll() is not None:
            pytest.fail(f"`chart-tools up` exited {process.returncode}:\n{err.read_text()[-3000:]}")
        time.sleep(1)
    pytest.fail(f"`chart-tools up` not ready after {START_DEADLINE:.0f} s:\n{err.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("up")
    env = {**os.environ, "CHART_TOOLS_UP_DIR": str(folder / "state")}
    out, err = folder / "stdout", folder / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(UP, stdout=stdout, stderr=stderr, text=True, env=env)
    try:
        banner = _wait_for_banner(process, out, err)
        details_path = folder / "state" / "up.json"
        yield Running(process, banner, json.loads(details_path.read_text()), details_path, env)
    finally:
        _stop(process)


def _printed(banner: str, label: str) -> str:
    match = re.search(rf"^  {label} +(.+)$", banner, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{banner}"
    return match[1].strip()


def test_the_banner_gives_a_url_and_login_the_official_client_uses(up: Running):
    """What the person reads is enough: the client logs in with the printed URL and login,
    triggers the tutorial, sees it succeed and reads each task's log with the task's output."""
    url = _printed(up.banner, "UI and REST API").rstrip("/")
    user, password = _printed(up.banner, "login").split(" / ")
    assert (url, user, password) == (up.details["url"], up.details["username"], up.details["password"])
    assert stat.S_IMODE(up.details_path.stat().st_mode) == 0o600  # it holds passwords

    api = Airflow(url, user, password)
    assert set(api.health().values()) == {"healthy"}
    run = api.trigger("tutorial")
    deadline = time.monotonic() + RUN_DEADLINE
    while (state := api.run_state("tutorial", run.dag_run_id)) not in FINISHED:
        assert time.monotonic() < deadline, f"run {run.dag_run_id} still {state}"
        time.sleep(2)
    tasks = api.task_instances("tutorial", run.dag_run_id)
    assert state == "success" and {t.task_id: t.state.value for t in tasks} == dict.fromkeys(
        ["print_date", "sleep", "templated"], "success"
    )
    ds = run.logical_date.strftime("%Y-%m-%d")
    for task in tasks:
        lines = api.log_lines("tutorial", run.dag_run_id, task.task_id, task.try_number)
        assert log_problem(task.task_id, lines, ds) == ""


def test_the_client_module_reports_refusals_as_one_line(up: Running):
    """A wrong password and a DAG that does not exist are answers, not tracebacks."""
    with pytest.raises(AirflowCheckError, match=r"^login: POST /auth/token as admin: 401"):
        Airflow(up.details["url"], up.details["username"], "not-the-password")
    api = Airflow(up.details["url"], up.details["username"], up.details["password"])
    assert api.dag_parsed("tutorial") and not api.dag_parsed("no_such_dag")
    with pytest.raises(AirflowCheckError, match=r"^run: 404 Not Found") as refused:
        api.run_state("tutorial", "no_such_run")
    assert refused.value.status == 404


def test_flower_answers_with_the_printed_login_only(up: Running):
    flower = up.details["flower"]
    assert _printed(up.banner, "Flower").startswith(f"{flower['url']}/  (login {flower['username']} / ")
    headers = urllib3.make_headers(basic_auth=f"{flower['username']}:{flower['password']}")
    assert urllib3.request("GET", flower["url"] + "/", headers=headers, timeout=30).status == 200
    assert urllib3.request("GET", flower["url"] + "/", timeout=30).status == 401


def test_the_logs_are_where_the_banner_says(up: Running):
    container_logs = Path(_printed(up.banner, "container logs"))
    assert {"api-server", "scheduler", "worker"} <= {
        p.name.split(".")[0] for p in container_logs.glob("*.log")
    }
    assert Path(_printed(up.banner, "task logs")).is_dir()


def test_a_second_up_says_one_is_running(up: Running):
    done = subprocess.run(UP, capture_output=True, text=True, env=up.env, timeout=120)
    assert done.returncode == 2
    assert f"already running (pid {up.process.pid}): UI {up.details['url']}" in done.stderr
    assert "Traceback" not in done.stderr


def _wait_for_state(page: Page, deadline: float) -> str:
    """The run page's state badge, once the run has finished (the page refreshes itself)."""
    badge = page.get_by_test_id("state-badge").first
    while (state := badge.inner_text().strip().lower()) not in FINISHED:
        assert time.monotonic() < deadline, f"the UI still shows the run as {state!r}"
        time.sleep(2)
    return state


def test_a_browser_logs_in_triggers_the_tutorial_and_reads_a_task_log(up: Running, tmp_path_factory):
    """Chromium (Debian's package) through Playwright, as a person clicks: login form, DAG list,
    Trigger, the run's state, a task's log page. Screenshots go to the test's run folder."""
    shots = tmp_path_factory.mktemp("screenshots")
    url, details = up.details["url"], up.details
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)  # a loaded machine, not a slow UI
        try:
            page.goto(f"{url}/")
            page.wait_for_url(re.compile(r".*/auth/login/.*"))  # not logged in: sent to the login form
            page.fill("input[name=username]", details["username"])
            page.fill("input[name=password]", details["password"])
            page.locator("input[type=submit], button[type=submit]").first.click()
            page.wait_for_url(f"{url}/")

            page.goto(f"{url}/dags")
            page.get_by_role("link", name="tutorial", exact=True).wait_for()
            page.screenshot(path=shots / "dag-list.png")

            page.get_by_role("link", name="tutorial", exact=True).click()
            page.wait_for_url(f"{url}/dags/tutorial")  # the UI routes in place: wait for the DAG's page
            one_trigger = "document.querySelectorAll('[data-testid=trigger-dag-button]').length == 1"
            page.wait_for_function(one_trigger)
            page.get_by_role("button", name="Trigger Dag").click()
            dialog = page.get_by_role("dialog")
            with page.expect_response(
                lambda r: r.url.endswith("/dagRuns") and r.request.method == "POST"
            ) as sent:
                dialog.get_by_role("button", name="Trigger", exact=True).click()
            assert sent.value.ok, sent.value.text()
            run = sent.value.json()

            page.goto(f"{url}/dags/tutorial/runs/{run['dag_run_id']}")
            assert _wait_for_state(page, time.monotonic() + RUN_DEADLINE) == "success"
            page.screenshot(path=shots / "dag-run.png")

            page.goto(f"{url}/dags/tutorial/runs/{run['dag_run_id']}/tasks/templated")
            page.get_by_text(f"run date: {run['logical_date'][:10]}").first.wait_for()
            page.get_by_text("Command exited with return code 0").first.wait_for()
            page.screenshot(path=shots / "task-log.png")
        except Exception:
            page.screenshot(path=shots / "failure.png")
            print(f"screenshots: {shots}")
            raise
        finally:
            browser.close()
    print(f"screenshots: {shots}")


def _pids_under(folder: str) -> list[int]:
    """Processes whose working directory or command line lies in `folder`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(folder) or folder in cmdline:
            found.append(int(proc.name))
    return found


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    except OSError:
        return False
    return True


def test_ctrl_c_stops_every_process_and_frees_every_port(up: Running):
    """Runs last: SIGINT, as Ctrl-C sends it, ends `up` with status 0 and nothing left behind."""
    run_dir, urls = up.details["run_dir"], [up.details["url"], up.details["flower"]["url"]]
    assert _pids_under(run_dir) and all(_port_open(u) for u in urls)
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=STOP_DEADLINE) == 0
    assert _pids_under(run_dir) == []
    assert not any(_port_open(u) for u in urls)
    assert not up.details_path.exists() and not Path(run_dir).exists()
