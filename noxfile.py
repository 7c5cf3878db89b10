"""`make matrix`: the unit tests (tests/, not tests/e2e) on every Python version the package
claims. The versions are read from pyproject's classifiers, which are also what `--about`
prints (singer-sdk reads them), so a version is claimed exactly when it is tested here.

Interpreters: `python3.X` on the PATH; pyenv's installs (~/.pyenv/versions/3.X.*) are put first,
because pyenv's shims exist for every version but only run the selected ones. A missing
interpreter is skipped locally and fails under CI (nox's default when CI is set).
Each session installs the package with its dev extra as `make install` does for .venv (editable:
the tests and the CLI they start run the checkout; the packaging tests need build and twine),
pinned by constraints/dev.txt.
"""

from __future__ import annotations

import os
import pathlib
import tomllib

import nox

ROOT = pathlib.Path(__file__).resolve().parent
PREFIX = "Programming Language :: Python :: "


def claimed_pythons() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [
        c.removeprefix(PREFIX)
        for c in project.get("classifiers", [])
        if c.startswith(PREFIX + "3.") and c.removeprefix(PREFIX).count(".") == 1
    ]


def put_pyenv_first(versions: list[str]) -> None:
    root = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv"))
    found = []
    for version in versions:
        installs = sorted(
            (root / "versions").glob(f"{version}.*/bin"),
            key=lambda p: [int(x) if x.isdigit() else -1 for x in p.parent.name.split(".")],
        )
        if installs:
            found.append(str(installs[-1]))  # the newest patch release
    if found:
        os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


PYTHONS = claimed_pythons()
put_pyenv_first(PYTHONS)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["unit"]


@nox.session(python=PYTHONS)
def unit(session: nox.Session) -> None:
    """The unit tests; extra arguments go to pytest (`make matrix ARGS='-k limiter'`)."""
    constraints = ["--constraint", str(ROOT / "constraints" / "dev.txt")]
    session.install(*constraints, "-e", f"{ROOT}[dev]")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--ignore=tests/e2e",
        *session.posargs,
    )
