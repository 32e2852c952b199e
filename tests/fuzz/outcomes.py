"""The fuzzing tier's outcome counts: gathered from every xdist worker, printed once at the end.

A plugin (tests/conftest.py lists it) rather than a conftest: the xdist controller, which prints
the summary, never collects tests/fuzz and so would never load a conftest there."""

from __future__ import annotations

from collections import Counter

import pytest

COUNTS: Counter[str] = Counter()


def record(source: str, kind: str) -> None:
    COUNTS[f"{source}: {kind}"] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand the counts over
        session.config.workeroutput["fuzz_counts"] = dict(COUNTS)


def pytest_testnodedown(node: object, error: object) -> None:
    COUNTS.update(getattr(node, "workeroutput", {}).get("fuzz_counts", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        terminalreporter.section("fuzzing outcomes")
        for key, count in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{count:6d}  {key}")
