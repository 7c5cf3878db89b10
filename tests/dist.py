"""`make dist` run on a copy of the checkout, for the tests that need its packages.

The copy holds what git sees (tracked and new files, never ignored ones), so the packages are
built as a fresh clone would build them, from the working tree a developer is testing. The
build uses the build module of the checkout's `.venv` (`make dist VENV=...`, its install stamp
taken as up to date): no second venv is made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent


def copy_checkout(target: Path) -> Path:
    """The files git would commit, copied to `target` (no .venv, no ignored files)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def make_dist(root: Path) -> tuple[Path, Path]:
    """Run `make dist` in `root`; its (sdist, wheel)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    stamp = VENV / ".installed-stamp"
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", str(stamp), "dist", f"VENV={VENV}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"make dist failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    (sdist,) = (root / "dist").glob("*.tar.gz")
    (wheel,) = (root / "dist").glob("*.whl")
    return sdist, wheel
