"""Links that cannot rot: every relative link and `#anchor` in the README, the CHANGELOG and the
guides in docs/ resolves, as GitHub renders them.

The README was split into guides that link to each other; a heading renamed or a guide moved
would otherwise leave a dead link that nobody notices until a user clicks it. Anchors follow
GitHub's slug rules (github-slugger): the heading's text lower-cased, every character but
letters, digits, marks, `_`, `-` and spaces dropped, spaces turned into `-`, and a repeated slug
suffixed `-1`, `-2`, ...
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README_MAX_LINES = 350  # read in five minutes (issue 25)

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def documents() -> list[Path]:
    """The files users read on GitHub, the guides above all."""
    names = ["README.md", "CHANGELOG.md", "BENCHMARKS.md"]
    found = [REPO / n for n in names if (REPO / n).exists()]
    found += sorted((REPO / "docs").glob("*.md"))
    found += sorted((REPO / "tap_clevertap_counts").rglob("*.md"))
    return found


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1: code shows links, it has none."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's rendered text (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = (c for c in text if c.isalnum() or c in "-_ " or unicodedata.category(c).startswith("M"))
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every `#fragment` GitHub gives the headings (and HTML anchors) of a markdown file."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link and link definition outside code."""
    found: list[tuple[int, str]] = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        bare = INLINE_CODE.sub("code", line)
        found += [(number, target) for target in LINK.findall(bare)]
        definition = DEFINITION.match(bare)
        if definition:
            found.append((number, definition.group(1)))
    return found


def broken(path: Path) -> list[str]:
    """What is wrong with each relative link of `path`: a missing file or a missing anchor."""
    problems: list[str] = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(REPO)}:{number}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
        elif fragment and destination.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not markdown")
        elif fragment and fragment not in anchors(destination):
            problems.append(f"{where}: no heading with that anchor")
    return problems


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert broken(path) == []


def test_the_checked_files_hold_the_guides_and_their_links() -> None:
    checked = {str(p.relative_to(REPO)) for p in documents()}
    assert {"README.md", "CHANGELOG.md", "docs/state.md", "docs/development.md"} <= checked
    relative = [t for p in documents() for _, t in links(p) if not t.startswith("http")]
    assert len(relative) >= 30, "the guides link to each other: the links were found"
    readme_targets = {t.partition("#")[0] for _, t in links(REPO / "README.md")}
    guides = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")}
    assert guides <= readme_targets, "the README's 'where to go next' links every guide"


def test_slugs_follow_githubs_rules() -> None:
    # Anchors GitHub gives these headings (as rendered on github.com).
    assert slug("Environments: dev, demo, prod") == "environments-dev-demo-prod"
    assert slug("Settings and capabilities (`--about`)") == "settings-and-capabilities---about"
    upgrading = "An existing table (upgrading from 0.1.0)"
    assert slug(upgrading) == "an-existing-table-upgrading-from-010"
    assert slug("Records: the `profile_counts` and `event_counts` streams") == (
        "records-the-profile_counts-and-event_counts-streams"
    )
    assert slug("[0.1.0] - 2026-11-27") == "010---2026-11-27"
    assert slug("Ça va? Très bien") == "ça-va-très-bien"


def test_a_dead_link_a_dead_anchor_and_a_repeated_heading_are_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    (tmp_path / "guide.md").write_text("# Guide\n\n## Notes\n\n## Notes\n", encoding="utf-8")
    (tmp_path / "index.md").write_text(
        "[ok](guide.md#notes) [second](guide.md#notes-1) [self](#index)\n"
        "[gone](missing.md) [no anchor](guide.md#nothing) `[code](nowhere.md)`\n"
        "# Index\n\n```\n[in a fence](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken(tmp_path / "index.md") == [
        "index.md:2: missing.md: no such file",
        "index.md:2: guide.md#nothing: no heading with that anchor",
    ]


def test_the_readme_is_a_front_door() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    assert "\nmake demo " in text and "\nmake test " in text  # the two set-up commands


def test_every_guide_starts_with_who_it_is_for() -> None:
    for guide in sorted((REPO / "docs").glob("*.md")):
        lines = [line for line in guide.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert lines[0].startswith("# "), guide.name
        assert lines[1].startswith("For: "), f"{guide.name}: its first line after the title"
