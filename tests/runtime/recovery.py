"""The fault tests' recovery times, printed together at the end of the run.

Each fault test records its line as a test property (`record_property("recovery", ...)`), which
xdist hands to the controller with the test's report. A plugin (tests/conftest.py lists it), as
the controller never loads a conftest of tests/runtime.
"""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        f"{report.nodeid.split('::')[-1]}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        for name, value in report.user_properties
        if name == "recovery"
    ]
    if lines:
        terminalreporter.section("fault recovery times")
        for line in lines:
            terminalreporter.write_line(line)
