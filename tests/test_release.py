"""Releases: versions that upgrade, a CHANGELOG section per release, and the release workflow.

A wheel built from main between releases must be a higher version than the last release,
without git tags (a clone, an sdist, an archive has none), or `pip install` of it over a
release keeps the old code ("already installed with the same version"). So between releases
`__version__` is the next version's `.dev0` under an `[Unreleased]` heading, and at a release
it equals the newest dated section (docs/development.md, "Cutting a release").
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.version import Version

import tap_clevertap_counts

from .conftest import REPO


def script(name: str) -> ModuleType:
    """A module of scripts/ (not a package: loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


changelog_section = script("changelog_section")

HEADING = re.compile(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?\s*$", re.MULTILINE)


def headings() -> list[tuple[str, str]]:
    """(version or 'Unreleased', date or '') of every `## [...]` of CHANGELOG.md, in order."""
    return HEADING.findall((REPO / "CHANGELOG.md").read_text(encoding="utf-8"))


def newest_release(found: list[tuple[str, str]]) -> Version:
    return Version(next(version for version, date in found if date))


def test_the_version_is_the_newest_release_or_a_dev_of_a_later_one() -> None:
    found = headings()
    version = Version(tap_clevertap_counts.__version__)
    released = newest_release(found)
    top, top_date = found[0]
    if top == "Unreleased":
        assert version.is_devrelease and version > released, (
            f"CHANGELOG has an [Unreleased] section after {released}: __version__ must be the "
            f"next version's .dev0 (e.g. {released.major}.{released.minor}.{released.micro + 1}"
            f".dev0), not {version}, or a wheel of main does not upgrade an install of {released}"
        )
    else:
        assert top_date, f"the top heading [{top}] has no date"
        assert version == released == Version(top), (
            f"__version__ {version} is not the newest dated CHANGELOG section {released}"
        )


def test_the_dated_sections_descend_and_keep_0_1_0() -> None:
    dated = [Version(v) for v, date in headings() if date]
    assert dated == sorted(dated, reverse=True)
    assert len(set(dated)) == len(dated)
    assert "0.1.0" in [v for v, _ in headings()]


# --- the release notes -------------------------------------------------------------------------


SAMPLE = """# Changelog

## [Unreleased]

- not yet

## [1.1.0] - 2027-01-02

### Added

- a thing

## [1.0.0] - 2026-12-31

- the first
"""


@pytest.mark.parametrize(
    ("asked", "body"),
    [
        ("1.1.0", "### Added\n\n- a thing"),
        ("v1.1.0", "### Added\n\n- a thing"),
        ("1.0.0", "- the first"),
    ],
)
def test_the_release_notes_are_that_versions_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], asked: str, body: str
) -> None:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(SAMPLE, encoding="utf-8")
    assert changelog_section.main([asked, "--changelog", str(path)]) == 0
    assert capsys.readouterr().out == body + "\n"


@pytest.mark.parametrize("asked", ["Unreleased", "1.2.0", "1.1"])
def test_a_version_without_a_dated_section_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], asked: str
) -> None:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(SAMPLE, encoding="utf-8")
    assert changelog_section.main([asked, "--changelog", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1 and "no dated section" in out.err


def test_the_release_notes_of_this_version_exist_as_the_workflow_runs_them() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "changelog_section.py"), "v0.2.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith("### Added")
    assert "## [0.1.0]" not in done.stdout
    assert "count_events" in done.stdout
