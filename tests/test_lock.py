"""The constraints files are not stale: every requirement the repo installs is pinned there.

A dependency added to pyproject.toml (or a loader's pip_url changed in meltano.yml) without
`make lock` would install unpinned; these checks name what is missing.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "constraints"
MARK = "${MELTANO_PROJECT_ROOT}/constraints/"


def pins(path: Path) -> dict[str, str]:
    """name → pinned version of a constraints file (markers ignored)."""
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[canonicalize_name(name)] = version.strip()
    return found


def test_dev_constraints_pin_the_dependencies_and_the_dev_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [
        Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]
    pinned = pins(CONSTRAINTS / "dev.txt")
    missing = [str(r) for r in wanted if canonicalize_name(r.name) not in pinned]
    assert not missing, f"not in constraints/dev.txt (run `make lock`): {missing}"
    outside = [
        f"{r} (locked {pinned[canonicalize_name(r.name)]})"
        for r in wanted
        if not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)
    ]
    assert not outside, f"constraints/dev.txt pins outside pyproject's ranges: {outside}"


def test_meltano_constraints_pin_the_makefiles_meltano() -> None:
    (req,) = re.findall(r"^MELTANO_REQ := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    requirement = Requirement(req)
    pinned = pins(CONSTRAINTS / "meltano.txt")
    assert requirement.specifier.contains(pinned[canonicalize_name(requirement.name)])


def test_each_loader_names_its_constraints_file_which_pins_its_pip_url() -> None:
    text = (REPO / "meltano.yml").read_text(encoding="utf-8")
    loaders = text.split("\n  loaders:\n", 1)[1].split("\nenvironments:", 1)[0]
    urls = re.findall(r"^    pip_url: (.+)$", loaders, re.M)
    assert len(urls) >= 3
    for url in urls:
        args = shlex.split(url)
        files = [
            a.removeprefix(f"--constraint={MARK}") for a in args if a.startswith("--constraint=")
        ]
        assert len(files) == 1, f"{url}: one --constraint={MARK}<file>"
        pinned = pins(CONSTRAINTS / files[0])
        for arg in args:
            if not arg.startswith("-"):
                requirement = Requirement(arg)
                locked = pinned.get(canonicalize_name(requirement.name))
                assert locked and requirement.specifier.contains(locked), f"{arg} in {files[0]}"
