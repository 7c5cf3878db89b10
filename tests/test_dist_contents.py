"""The packages carry no data: `make dist` in a checkout where a prod run, a `.env` and Meltano
have left their files behind packs none of them.

Hatchling reads the root .gitignore only; warehouse/.gitignore (`*`) is not seen, so without
pyproject's explicit include lists `touch warehouse/prod.duckdb && make dist` shipped a
company's warehouse in the sdist (`twine check` passes it).
"""

from __future__ import annotations

import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

import tap_clevertap_counts

from .conftest import REPO
from .dist import copy_checkout, make_dist
from .test_packaging import pyproject

# What a user's checkout holds after `meltano --environment=prod run`, `config set` and the
# README's recipes: each must stay out of both packages.
LEFT_BEHIND = {
    "warehouse/prod.duckdb": "a prod warehouse",
    "warehouse/dev.duckdb": "a dev warehouse",
    ".env": "TAP_CLEVERTAP_COUNTS_PASSCODE=prod-secret-passcode\n",
    "output/x": "records",
    "output/demo/warehouse.duckdb": "the demo's warehouse",
    ".meltano/x": "a plugin venv",
    ".meltano/run/tap-clevertap-counts/tap.properties.json": "{}",
    # state files where the docs' recipes write them (docs/state.md)
    "state.json": '{"bookmarks": {}}',
    "state.json.new": '{"bookmarks": {}}',
    "output/singer/state.json": '{"bookmarks": {}}',
    "output/dev-state.json": '{"bookmarks": {}}',
    # what dbt and Dagster write beside their projects
    "transform/target/run_results.json": "{}",
    "transform/logs/dbt.log": "log",
    "orchestration/.dagster/storage/x": "run storage",
}
# Tracked top-level entries the sdist leaves out on purpose: CI and editor configuration, and the
# warehouse directory (data only). Every other one must be in pyproject's sdist list.
NOT_IN_SDIST = {".ci", ".github", ".gitignore", ".pre-commit-config.yaml", "warehouse"}


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    """(sdist members, wheel members) of `make dist` in a copy with the data above."""
    root = copy_checkout(tmp_path_factory.mktemp("clone"))
    for name, text in LEFT_BEHIND.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    sdist, wheel = make_dist(root)
    with tarfile.open(sdist) as archive:
        # members are under `tap_clevertap_counts-VERSION/`
        in_sdist = [m.name.partition("/")[2] for m in archive.getmembers() if m.isfile()]
    in_wheel = zipfile.ZipFile(wheel).namelist()
    return in_sdist, in_wheel


def test_no_data_in_the_sdist_or_the_wheel(packages: tuple[list[str], list[str]]) -> None:
    in_sdist, in_wheel = packages
    for members, kind in ((in_sdist, "sdist"), (in_wheel, "wheel")):
        for name in LEFT_BEHIND:
            assert name not in members, f"the {kind} packs {name}"
        leaked = [m for m in members if m.endswith(".duckdb") or Path(m).name in (".env",)]
        assert not leaked, f"the {kind} packs {leaked}"
        assert not [m for m in members if m.startswith(("warehouse/", "output/", ".meltano/"))]


def test_every_tracked_top_level_entry_is_packed_or_left_out_on_purpose() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    listed = set(pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]["only-include"])
    missing = {name.split("/")[0] for name in tracked} - listed - NOT_IN_SDIST
    assert not missing, (
        f"{sorted(missing)}: add to [tool.hatch.build.targets.sdist] only-include in "
        "pyproject.toml (with excludes for what it generates), or to NOT_IN_SDIST here"
    )


def test_the_sdist_builds_and_tests_and_the_wheel_runs(
    packages: tuple[list[str], list[str]],
) -> None:
    """The include lists keep what each package is for: the sdist the source, tests and
    project; the wheel the package alone (its commands' modules, the license)."""
    in_sdist, in_wheel = packages
    assert {
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "meltano.yml",
        "tap_clevertap_counts/tap.py",
        "tests/conftest.py",
        "meltano-hub/tap-clevertap-counts.yml",
        ".env.example",
    } <= set(in_sdist)
    assert "tap_clevertap_counts/emulator/__main__.py" in in_wheel
    version = tap_clevertap_counts.__version__
    assert f"tap_clevertap_counts-{version}.dist-info/METADATA" in in_wheel
    tops = {m.split("/")[0] for m in in_wheel}
    assert tops == {"tap_clevertap_counts", f"tap_clevertap_counts-{version}.dist-info"}
