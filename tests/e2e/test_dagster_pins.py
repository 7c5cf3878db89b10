"""The Dagster venv holds the libraries the orchestration needs, at the versions pinned.

Dagster's libraries (dagster-celery, dagster-postgres, dagster-dbt) are released as
0.<minor+16>.<patch> beside each dagster 1.<minor>.<patch> and each requires its dagster exactly:
pin dagster one release past them and pip quietly installs 2021 releases that fail on import.
This imports each in .venv-dagster and compares its version with constraints/dagster.txt.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.e2e.helpers import REPO

DAGSTER_PYTHON = REPO / ".venv-dagster" / "bin" / "python"
LOCK = REPO / "constraints" / "dagster.txt"
# distribution -> the module the orchestration imports
LIBRARIES = {
    "dagster": "dagster",
    "dagster-celery": "dagster_celery",
    "dagster-postgres": "dagster_postgres",
    "dagster-dbt": "dagster_dbt",
    "dagster-dg-cli": "dagster_dg_cli",
    "dbt-core": "dbt.version",
}
PROBE = """
import importlib, importlib.metadata, json, sys
out = {}
for dist, module in json.loads(sys.argv[1]).items():
    importlib.import_module(module)
    out[dist] = importlib.metadata.version(dist)
print(json.dumps(out))
"""


def pinned(name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)$", LOCK.read_text(encoding="utf-8"), re.M)
    assert match, f"{name} is not pinned in {LOCK.name}"
    return match.group(1)


def test_every_dagster_library_imports_at_its_pinned_version() -> None:
    if not DAGSTER_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{DAGSTER_PYTHON} is missing: `make orchestration` creates it")
        pytest.skip(f"{DAGSTER_PYTHON} is missing: run `make orchestration`")
    done = subprocess.run(
        [str(DAGSTER_PYTHON), "-c", PROBE, json.dumps(LIBRARIES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    installed = json.loads(done.stdout)
    assert installed == {name: pinned(name) for name in LIBRARIES}
    # the libraries' 0.(M+16).P goes with dagster 1.M.P, released the same day
    _major, minor, patch = (int(part) for part in installed["dagster"].split("."))
    for library in ("dagster-celery", "dagster-postgres", "dagster-dbt"):
        assert installed[library] == f"0.{minor + 16}.{patch}", (library, installed[library])


def test_the_utility_dbt_and_dagster_dbt_read_one_manifest_version() -> None:
    """dagster-dbt parses the manifest the Meltano utility's dbt writes: same dbt-core."""
    utility = (REPO / "constraints" / "dbt-duckdb.txt").read_text(encoding="utf-8")
    match = re.search(r"^dbt-core==(\S+)$", utility, re.M)
    assert match
    assert pinned("dbt-core") == match.group(1)
