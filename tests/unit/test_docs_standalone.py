"""The repository's documentation stands on its own.

README.md and docs/ are what users and contributors get; the team's desk beside the
checkout (`../shared`) is not shipped, so nothing in them may send a reader there, and
every relative link must lead to a file that exists in the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

# [text](target) and [text]: target; images are links too
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def _links(text: str) -> list[str]:
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def _is_relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) and not target.startswith("#")


def test_there_are_docs_to_check() -> None:
    assert (ROOT / "README.md").is_file()
    assert len(DOC_FILES) > 1


@pytest.mark.parametrize("path", DOC_FILES, ids=_ids(DOC_FILES))
def test_no_reference_to_the_team_desk(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = [n for n, line in enumerate(text.splitlines(), 1) if "../shared" in line]
    assert not lines, f"{path.relative_to(ROOT)} mentions ../shared on lines {lines}"


@pytest.mark.parametrize("path", DOC_FILES, ids=_ids(DOC_FILES))
def test_relative_links_point_at_existing_files(path: Path) -> None:
    broken = []
    for target in _links(path.read_text(encoding="utf-8")):
        if not _is_relative(target):
            continue
        file_part = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (path.parent / file_part).resolve()
        if not resolved.exists() or not resolved.is_relative_to(ROOT):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_api_reference_index_lists_every_page() -> None:
    api = ROOT / "docs" / "api"
    linked = {target.split("#", 1)[0] for target in _links((api / "README.md").read_text())}
    pages = {p.name for p in api.glob("*.md") if p.name != "README.md"}
    assert pages, "docs/api/ has no pages"
    assert not pages - linked, f"docs/api/README.md does not index {sorted(pages - linked)}"


def test_link_finder_sees_the_forms_markdown_allows() -> None:
    text = (
        'See [a](a.md), ![img](pics/b.png "title") and [c](<c.md>).\n'
        "[ref]: docs/e.md\n"
        "`[not](code.md)`\n"
        "```\n[nor](fenced.md)\n```\n"
    )
    assert sorted(_links(text)) == ["a.md", "c.md", "docs/e.md", "pics/b.png"]
    assert not _is_relative("https://example.org/x.md")
    assert not _is_relative("#section")
    assert _is_relative("../README.md")
