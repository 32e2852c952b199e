"""The Airflow checks' pure parts: what a task log must show (the live calls run in tests/runtime)."""

from chart_tools.airflow_api import log_problem


def test_a_task_log_must_show_the_tasks_output():
    """The checks the smoke's `logs` phase applies to each log it reads through the API (the
    failing case is the message Airflow gives when its log server port is wrong, seen here)."""
    done = "Command exited with return code 0"
    assert log_problem("print_date", ["Output:", "Tue Nov 24 20:19:59 UTC 2026", done], "") == ""
    assert log_problem("templated", ["run date: 2026-11-24", "a week later: 2026-12-01", done],
                       "2026-11-24") == ""  # fmt: skip
    assert "no line matches" in log_problem("templated", ["run date: 2026-11-23", done], "2026-11-24")
    assert "no line matches" in log_problem("print_date", [done], "")
    refused = "Could not read served logs: HTTPConnectionPool(host='127.0.0.1', port=47019): refused"
    source = "::group::Log message source details"
    assert "could not read it" in log_problem("sleep", [source, refused], "")
    assert log_problem("other_task", [], "") == "the log is empty"
    assert log_problem("other_task", ["plain line"], "") == ""
