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
from typing import Any

import pytest
import yaml
from packaging.version import Version

import tap_clevertap_counts

from .conftest import REPO
from .test_packaging import run_script


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
    """The newest release's notes, asked for by its tag: its own section, whole."""
    done = run_script("changelog_section", f"v{newest_release(headings())}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("### ")
    assert "\n## " not in done.stdout  # not the next section
    assert done.stdout.count("\n- ") >= 3


# --- the release workflow ----------------------------------------------------------------------

WORKFLOWS = REPO / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def release_workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / "release.yml").read_text("utf-8"))
    return loaded


def runs_of(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses_of(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


def test_the_release_runs_on_v_tags_with_read_only_defaults() -> None:
    flow = release_workflow()
    triggers = flow["on"] if "on" in flow else flow[True]  # type: ignore[index]  # PyYAML: `on:` is True
    assert triggers == {"push": {"tags": ["v*"]}}
    assert flow["permissions"] == {"contents": "read"}
    text = (WORKFLOWS / "release.yml").read_text("utf-8")
    assert "secrets." not in text and "password" not in text, "trusted publishing: no token"
    for job in flow["jobs"].values():
        for uses in uses_of(job):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses


def test_the_release_builds_checks_smoke_tests_publishes_and_announces() -> None:
    jobs = release_workflow()["jobs"]
    build = runs_of(jobs["build"])
    for step in ("python -m build", "twine check --strict", "scripts/changelog_section.py"):
        assert step in build, step
    assert '/clean/bin/pip" install dist/*.whl' in build  # the wheel alone, in a new venv
    assert "--about" in build and 'scripts/smoke_wheel.py" --version "$TAG"' in build

    publish = jobs["publish"]
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses_of(publish))

    release = jobs["github-release"]
    assert release["needs"] == "publish"
    assert release["permissions"] == {"contents": "write"}
    assert 'scripts/changelog_section.py "$TAG"' in runs_of(release)
    assert "--notes-file" in runs_of(release)


def test_make_lint_checks_both_workflows(tmp_path: Path) -> None:
    lint = re.search(r"^lint:.*?(?=^\S)", (REPO / "Makefile").read_text("utf-8"), re.M | re.S)
    assert lint and ".github/workflows/*.yml" in lint[0]
    assert {p.name for p in WORKFLOWS.glob("*.yml")} == {"test.yml", "release.yml"}

    def check(*paths: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(CHECK_JSONSCHEMA),
                "--builtin-schema",
                "vendor.github-workflows",
                *map(str, paths),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert check(*WORKFLOWS.glob("*.yml")).returncode == 0
    broken = tmp_path / "release.yml"
    text = (WORKFLOWS / "release.yml").read_text("utf-8")
    broken.write_text(text.replace("    runs-on: ubuntu-24.04\n", "    run-on: ubuntu-24.04\n", 1))
    assert check(broken).returncode == 1
