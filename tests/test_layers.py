"""The layer contracts (pyproject's `[tool.importlinter]`, run by `make lint`) bite.

`make lint` shows they hold on the package as it is; this shows they are not vacuous: a copy
of the package with forbidden imports (one or more per contract) fails `lint-imports`, naming each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# module of the copy -> a line it must not hold, and what lint-imports then says
BAD = {
    "api/request.py": ("import singer_sdk", "tap_clevertap_counts.api.request -> singer_sdk"),
    "planning/plan.py": (
        "from tap_clevertap_counts.running import run",
        "tap_clevertap_counts.planning.plan -> tap_clevertap_counts.running.run",
    ),
    "api/client.py": (
        "from tap_clevertap_counts.config import settings",
        "tap_clevertap_counts.api.client -> tap_clevertap_counts.config.settings",
    ),
    "emulator/store.py": (
        "from tap_clevertap_counts.config import periods",
        "tap_clevertap_counts.emulator.store -> tap_clevertap_counts.config.periods",
    ),
    "running/progress.py": (
        "from tap_clevertap_counts.emulator import clock",
        "tap_clevertap_counts.running.progress -> tap_clevertap_counts.emulator.clock",
    ),
}


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    package = tmp_path / "tap_clevertap_counts"
    shutil.copytree(
        REPO / "tap_clevertap_counts", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    for module, (line, _) in BAD.items():
        with (package / module).open("a", encoding="utf-8") as file:
            file.write(f"\n{line}  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # the copy, not the installed package
    done = subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = " ".join(done.stdout.split())  # lint-imports wraps its lines
    assert done.returncode == 1, output
    assert "Contracts: 0 kept, 4 broken." in output, output
    for _, said in BAD.values():
        assert said in output
