"""`make matrix`: the unit tests (tests/, not tests/e2e) on every Python version the package
claims but the one `make test` ran them on (.venv's; `make matrix ALL=1` adds it). The versions
are read from pyproject's classifiers, which are also what `--about` prints (singer-sdk reads
them), so a version is claimed exactly when it is tested (here or by `make test`).

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


def make_test_python() -> str | None:
    """The X.Y of .venv (pyvenv.cfg), the interpreter `make test` has just run everything on."""
    try:
        text = (ROOT / ".venv" / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    return None


PYTHONS = claimed_pythons()
put_pyenv_first(PYTHONS)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# By default (`make matrix`, run by .ci/run after `make test`) every claimed version but .venv's,
# which `make test` has just tested with the e2e tests too. `make matrix ALL=1` (`nox -s unit`)
# runs them all.
nox.options.sessions = [f"unit-{v}" for v in PYTHONS if v != make_test_python()] or ["unit"]


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
        "-n",
        "auto",
        *session.posargs,
    )
