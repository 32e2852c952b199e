"""The docs a newcomer reads: every relative link resolves (to a file, and to a heading when it
names one), every `make` target they name exists, nothing points outside the repository, and the
root README stays a short entry point."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from chart_tools import CHART, ROOT

DOCS = [ROOT / "README.md", CHART / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]+`")
MAKE = re.compile(r"\bmake ([a-z][\w-]*)")


def _prose(text: str) -> str:
    """The text without code, where links are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _code(text: str) -> str:
    return "\n".join(m[0] for m in FENCE.finditer(text)) + "\n" + "\n".join(INLINE_CODE.findall(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        if match := re.match(r"^#{1,6}\s+(.+?)\s*#*$", line):
            base = slug(match[1])
            name, n = base, 1
            while name in found:  # GitHub numbers repeated headings
                name, n = f"{base}-{n}", n + 1
            found.add(name)
    return found


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_slugs_follow_githubs_rule():
    assert slug("Design decisions users notice") == "design-decisions-users-notice"
    assert slug("Command line: `airflowctl`") == "command-line-airflowctl"
    assert slug("Topology: one release, or several clusters on one base") == (
        "topology-one-release-or-several-clusters-on-one-base"
    )


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_every_relative_link_resolves(doc: Path):
    broken = []
    for target in LINK.findall(_prose(doc.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {_id(path)}")
    assert not broken, f"{_id(doc)}: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_every_make_target_named_exists(doc: Path):
    named = set(MAKE.findall(_code(doc.read_text())))
    assert named - make_targets() == set(), f"{_id(doc)} names targets the Makefile lacks"


def test_the_check_sees_links_targets_and_code():
    """The patterns above can fail: a broken link, a missing target and a link inside code."""
    text = "see [x](nowhere.md) and `make deploy`\n```\n[not](a-link.md)\nmake up\n```\n"
    assert LINK.findall(_prose(text)) == ["nowhere.md"]
    assert set(MAKE.findall(_code(text))) == {"deploy", "up"}
    assert "deploy" not in make_targets() and {"smoke", "test", "up"} <= make_targets()


def test_nothing_refers_outside_the_repository():
    outside = "shared" + "/"  # spelled apart so that this file does not match itself
    for pattern in (outside, "DESIGN" + ".md"):
        grep = ["git", "grep", "--untracked", "-n", "-I", pattern]
        done = subprocess.run(grep, cwd=ROOT, capture_output=True, text=True)
        assert done.stdout == "", done.stdout


def test_the_readme_is_a_short_entry_point():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert text.index("make smoke") < text.index("make test") < text.index("\n## ")  # the two commands first
    assert "values-table:begin" not in text  # the values table lives in the chart's README only
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in text, f"the README does not link {page.name}"


@pytest.mark.parametrize("doc", sorted((ROOT / "docs").glob("*.md")), ids=_id)
def test_every_docs_page_lists_its_sections(doc: Path):
    text = doc.read_text()
    sections = re.findall(r"^## (.+)$", FENCE.sub("", text), re.MULTILINE)
    assert "Contents" in sections, f"{_id(doc)} has no contents list"
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = {target.lstrip("#") for target in LINK.findall(contents)}
    assert {slug(s) for s in sections if s != "Contents"} <= listed
