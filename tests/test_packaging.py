"""What a user, a Hub reviewer and CI rely on besides the code: one version, a README in step with
`--about`, CI's workflow in step with .ci/run, and a wheel that works on its own."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

import tap_clevertap_counts

from .conftest import REPO, about

DIST = "tap-clevertap-counts"


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


# --- one version -------------------------------------------------------------------------------


def test_the_version_has_one_source() -> None:
    project = pyproject()
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "tap_clevertap_counts/__init__.py"
    installed = importlib.metadata.version(DIST)
    assert installed == tap_clevertap_counts.__version__, (
        "the installed metadata is older than __version__: reinstall (make install)"
    )
    assert about()["version"] == tap_clevertap_counts.__version__


def test_the_license_is_the_one_pyproject_names() -> None:
    project = pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a notice


# --- the README's generated section ------------------------------------------------------------


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python scripts/NAME.py ARGS` with this interpreter, as make runs it."""
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_readme_settings_section_matches_about() -> None:
    done = run_script("readme", "--check")
    assert done.returncode == 0, done.stderr  # "... run `make readme` and commit README.md"


# --- CI ----------------------------------------------------------------------------------------


def make_targets(commands: list[str]) -> list[str]:
    """The make targets the shell commands run, in order (`make a b`, `VAR=x make c`)."""
    targets: list[str] = []
    for command in commands:
        for line in command.splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0]:
                words.pop(0)
            if words[:1] == ["make"]:
                targets += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return targets


def workflow() -> dict[str, Any]:
    # PyYAML reads `on:` as True (YAML 1.1); the key is looked up either way below.
    loaded: dict[str, Any] = yaml.safe_load(
        (REPO / ".github" / "workflows" / "test.yml").read_text(encoding="utf-8")
    )
    return loaded


def test_the_github_workflow_runs_the_make_targets_of_ci_run() -> None:
    ci_run = make_targets([(REPO / ".ci" / "run").read_text(encoding="utf-8")])
    assert ci_run, ".ci/run calls no make target"
    steps = [step for job in workflow()["jobs"].values() for step in job["steps"]]
    assert make_targets([step["run"] for step in steps if "run" in step]) == ci_run


def test_the_github_workflow_is_pinned_and_read_only() -> None:
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    triggers = flow["on"] if "on" in flow else flow[True]  # type: ignore[index]
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    for job in flow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
        versions = setup[0]["with"]["python-version"].split()
        assert sorted(versions) == sorted(about()["supported_python_versions"])


# --- the built package -------------------------------------------------------------------------


CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run_in(folder: Path, *command: str | Path, timeout: float = 120) -> str:
    """Run a command outside the checkout and the test environment; its stdout."""
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=CLEAN_ENV,
        cwd=folder,
        check=False,
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv of this Python with pip only (nothing from .venv or the checkout)."""
    env_dir = tmp_path_factory.mktemp("clean") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    return env_dir


@pytest.fixture(scope="module")
def wheel(clean_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by pip through the PEP 517 backend in an isolated build environment
    (what `python -m build` does for `make dist`; pip is in every venv, `build` is not)."""
    out = tmp_path_factory.mktemp("dist")
    pip = clean_venv / "bin" / "pip"
    run_in(out, pip, "wheel", "-q", "--no-deps", "--wheel-dir", out, REPO, timeout=600)
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_tap_the_emulator_and_the_license(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "tap_clevertap_counts/tap.py" in names
    assert "tap_clevertap_counts/emulator/__main__.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "scripts/")) for n in names)
    assert wheel.name.startswith(f"tap_clevertap_counts-{tap_clevertap_counts.__version__}-")


@pytest.fixture(scope="module")
def installed(clean_venv: Path, wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean venv with the wheel and its dependencies from the index; its bin/."""
    pip = clean_venv / "bin" / "pip"
    run_in(
        tmp_path_factory.mktemp("install"), pip, "install", "-q", "--no-input", wheel, timeout=600
    )
    return clean_venv / "bin"


def test_the_wheel_installs_and_runs_in_a_clean_venv(installed: Path, tmp_path: Path) -> None:
    """Both commands from the installed copy; then the release workflow's smoke test (`--about`
    and a short sync against the installed emulator) as the workflow runs it."""
    info = json.loads(
        run_in(tmp_path, installed / "tap-clevertap-counts", "--about", "--format=json")
    )
    assert info["name"] == DIST
    assert info["version"] == tap_clevertap_counts.__version__
    assert "CleverTap" in run_in(tmp_path, installed / "clevertap-counts-emulator", "--help")
    where = run_in(
        tmp_path, installed / "python", "-c", "import tap_clevertap_counts as t; print(t.__file__)"
    )
    assert Path(where.strip()).is_relative_to(installed.parent)  # the installed copy
    smoke = REPO / "scripts" / "smoke_wheel.py"
    out = run_in(tmp_path, installed / "python", smoke, "--version", f"v{info['version']}")
    assert out == f"tap-clevertap-counts {info['version']}: --about and a sync of 7 exact records\n"


def last_commit_of(version: str) -> str:
    """The newest commit whose `__version__` was `version`: the parent of the commit that
    changed that line (git history, not tags: a clone may have none)."""
    changed = subprocess.run(
        [
            "git",
            "log",
            "-1",
            "--format=%H",
            f'-G__version__ = "{version}"',
            "--",
            "tap_clevertap_counts/__init__.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not changed:
        pytest.fail(
            f"no commit changed __version__ {version}: a shallow clone? (git fetch --unshallow)"
        )
    return f"{changed}^"


def about_of(bin_dir: Path, folder: Path) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(
        run_in(folder, bin_dir / "tap-clevertap-counts", "--about", "--format=json")
    )
    return info


def test_a_wheel_of_head_upgrades_an_install_of_0_1_0(
    installed: Path, wheel: Path, tmp_path: Path
) -> None:
    """The 0.1.0 code said 0.1.0 until 0.2.0 was cut, so a new wheel over it was "already
    installed". Now: the last 0.1.0 commit's wheel, then HEAD's over it, plainly (`pip install
    WHEEL`, as a user upgrades); the new code runs."""
    source = tmp_path / "v0.1.0"
    source.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", last_commit_of("0.1.0")],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    old_dist = tmp_path / "old"
    pip = installed / "pip"
    run_in(tmp_path, pip, "wheel", "-q", "--no-deps", "--wheel-dir", old_dist, source, timeout=600)
    (old_wheel,) = old_dist.glob("*.whl")
    assert old_wheel.name.startswith("tap_clevertap_counts-0.1.0-")

    code = "import tap_clevertap_counts as t; print(t.__version__)"  # the code's, not metadata
    run_in(tmp_path, pip, "install", "-q", "--no-deps", old_wheel)  # the dependencies are there
    assert about_of(installed, tmp_path)["version"] == "0.1.0"
    assert run_in(tmp_path, installed / "python", "-c", code) == "0.1.0\n"

    out = run_in(tmp_path, pip, "install", "--no-deps", wheel)
    assert "already installed" not in out
    assert about_of(installed, tmp_path)["version"] == tap_clevertap_counts.__version__
    assert (
        run_in(tmp_path, installed / "python", "-c", code)
        == f"{tap_clevertap_counts.__version__}\n"
    )
