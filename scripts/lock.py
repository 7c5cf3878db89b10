"""`make lock`: write the pip constraints files of constraints/ with `uv pip compile`.

    constraints/dev.txt      the tap's dependencies and the dev extra (.venv, `make matrix`)
    constraints/meltano.txt  Meltano (.venv-meltano)
    constraints/dagster.txt  Dagster and its webserver, pinned together (.venv-dagster)
    constraints/<loader>.txt each loader of meltano.yml whose pip_url names that file with
                             `--constraint=${MELTANO_PROJECT_ROOT}/constraints/<loader>.txt`:
                             the rest of its pip_url is what gets resolved

Run with .venv-meltano's Python (it has ruamel.yaml and uv). Existing pins are kept where they
still satisfy the requirements (uv's preference for the output file); `--upgrade` (`make lock
UPGRADE=1`) resolves everything afresh to the newest allowed versions. The package's own ranges in
pyproject.toml stay ranges: these files pin only the environments this repo installs and tests.
"""

from __future__ import annotations

import argparse
import pathlib
import shlex
import subprocess
import sys

from ruamel.yaml import YAML
from uv import find_uv_bin

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "constraints"
MARK = "${MELTANO_PROJECT_ROOT}/constraints/"
PYTHON = "3.11"  # the oldest claimed version; --universal adds markers for the others


def compile_to(target: pathlib.Path, sources: list[str], stdin: str, upgrade: bool) -> None:
    command = [
        find_uv_bin(),
        "pip",
        "compile",
        "--quiet",
        "--universal",
        f"--python-version={PYTHON}",
        "--custom-compile-command=make lock",
        f"--output-file={target}",
        *(["--upgrade"] if upgrade else []),
        *sources,
    ]
    subprocess.run(command, input=stdin, text=True, check=True, cwd=ROOT)  # noqa: S603 (our own uv)
    print(f"wrote {target.relative_to(ROOT)}")


def loader_requirements() -> dict[str, list[str]]:
    """Constraints file name → the requirements of the loader whose pip_url names it."""
    data = YAML(typ="safe").load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    found = {}
    for plugin in data["plugins"].get("loaders", []):
        args = shlex.split(plugin.get("pip_url", ""))
        files = [a.split("=", 1)[1] for a in args if a.startswith("--constraint=")]
        names = [f.removeprefix(MARK) for f in files if f.startswith(MARK)]
        if len(names) == 1:
            found[names[0]] = [a for a in args if not a.startswith("--constraint=")]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--meltano", required=True, help="Meltano's requirement, e.g. meltano==4.4.1"
    )
    parser.add_argument(
        "--dagster", nargs="+", required=True, help="Dagster's requirements (dagster==X ...)"
    )
    parser.add_argument("--upgrade", action="store_true", help="ignore the current pins")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    # pip is pinned too: the Makefile upgrades each venv's pip to the locked version.
    compile_to(OUT / "dev.txt", ["pyproject.toml", "--extra=dev", "-"], "pip\n", args.upgrade)
    compile_to(OUT / "meltano.txt", ["-"], f"{args.meltano}\npip\n", args.upgrade)
    compile_to(OUT / "dagster.txt", ["-"], "\n".join([*args.dagster, "pip"]) + "\n", args.upgrade)
    for name, requirements in loader_requirements().items():
        compile_to(OUT / name, ["-"], "\n".join(requirements) + "\n", args.upgrade)
    return 0


if __name__ == "__main__":
    sys.exit(main())
