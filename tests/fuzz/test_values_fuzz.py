"""Schema-driven fuzzing: every values file either renders with zero `chart-tools validate`
findings (and nothing injected), or is refused by the schema or the chart with a message naming
a key. Never a template trace, never an accepted render the API server would refuse.

Generated cases (hypothesis-jsonschema over values.schema.json, fixed seed) and mutations of
every profile (a wrong type, an injection string, an empty string, the largest allowed number
and the next one) run on both helm majors in turn. A failing case is written to
tests/data/fuzz-regressions/ (commit it): those files are replayed on every run.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.fuzz import cases
from tests.fuzz.outcomes import record
from tests.outcome import Outcome, judge

GENERATED_RUNS = 4  # test functions (spread over the xdist workers)
EXAMPLES_PER_RUN = 250  # 1,000 generated cases in all
FUZZ = settings(
    max_examples=EXAMPLES_PER_RUN,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # no shrinking: a failure is kept as it was found, in bounded time
    suppress_health_check=list(HealthCheck),
)


def keep(case: dict[str, Any]) -> Path:
    """Save a failing case as a regression fixture; return its path."""
    text = json.dumps(case, indent=2, sort_keys=True, ensure_ascii=False)
    path = cases.REGRESSIONS / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    cases.REGRESSIONS.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def check(outcome: Outcome, case: dict[str, Any], path: str | None = None) -> None:
    """The oracle: rendered clean, or refused naming the key (`path` when it is known)."""
    named = outcome.names(path) if path else outcome.names_some_key()
    if outcome.kind in ("rendered", "helm-input") or (outcome.refused and named):
        return
    problem = outcome.kind if outcome.kind in ("trace", "invalid") else "refusal names no key"
    saved = keep(case)
    pytest.fail(f"{problem}: {outcome.message[:1500]}\ncase kept as {saved.relative_to(cases.ROOT)}")


def run_case(case: dict[str, Any], source: str, path: str | None = None) -> None:
    profile = cases.ROOT / case["profile"]
    outcome = judge(case["values"], case["helm"], (profile,))
    record(source, outcome.kind)
    check(outcome, case, path)


@pytest.mark.parametrize("run", range(GENERATED_RUNS))
def test_generated_values(run):
    @FUZZ
    @seed(20261124 + run)  # fixed: the same cases on every run
    @given(cases.generated())
    def one(drawn):
        profile, values = drawn
        helm = 3 + zlib.crc32(json.dumps(values, sort_keys=True).encode()) % 2  # both majors, reproducibly
        case = {"profile": str(profile.relative_to(cases.ROOT)), "values": values, "helm": helm}
        run_case(case, "generated")

    one()


@pytest.mark.parametrize("profile", cases.PROFILES, ids=lambda p: p.name)
def test_mutated_profile(profile):
    for i, (path, kind, values) in enumerate(cases.mutation_cases(profile)):
        case = {"profile": str(profile.relative_to(cases.ROOT)), "values": values, "helm": 3 + i % 2,
                "mutation": f"{kind} at {path}"}  # fmt: skip
        run_case(case, f"mutation ({kind})", path)


@pytest.mark.parametrize("fixture", cases.regression_files(), ids=lambda p: p.stem)
def test_regression(fixture):
    case = json.loads(fixture.read_text())
    path = case.get("mutation", "").partition(" at ")[2] or None
    run_case(case, "regression", path)
