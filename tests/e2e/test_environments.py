"""dev, demo and prod kept apart, with Meltano for real.

Meltano reads `.env` and terminal variables in every environment, and `meltano
--environment=prod config set tap-clevertap-counts passcode ...` (docs/real-account.md) writes the
prod passcode to `.env`. dev and demo pin the emulator's demo account and passcode in their own
`env:` block of meltano.yml, which beats both: after that prod set-up, a dev or demo run
must still send the demo pair, and only prod gets the prod secret. Each environment loads into its
own DuckDB file, and `make demo` (scripts/demo.sh) must leave prod's warehouse and state alone.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, EmulatorConfig
from tests.e2e.helpers import REPO, TAP, Project, clean_env, doc_commands, read_rows

PROD_ACCOUNT = "PROD-ACCOUNT-0042"
PROD_SECRET = "prod-secret-Zq9xW4"  # made up: it must never reach dev or demo
TERMINAL_SECRET = "terminal-secret-Kp3m"
PROD_STATE_ID = f"prod:{TAP}-to-target-duckdb"
END = datetime.date(2025, 6, 8)
START = END - datetime.timedelta(days=6)
# docs/real-account.md's placeholders, and what this test gives in their place.
PLACEHOLDERS = {"YOUR-ACCOUNT-ID": PROD_ACCOUNT, "YOUR-PASSCODE": PROD_SECRET}


def real_account_setup(project: Project) -> None:
    """docs/real-account.md's `config set` commands, as written (its placeholders filled in)."""
    commands = doc_commands("real-account.md", "Select the `prod` environment")
    setup = [c for c in commands if c[:4] == ["meltano", "--environment=prod", "config", "set"]]
    assert {c[5] for c in setup} >= {"account_id", "passcode", "region", "timezone", "queries"}
    filled = [[PLACEHOLDERS.get(word, word) for word in c] for c in setup]
    assert [c for c in filled if set(PLACEHOLDERS.values()) & set(c)], "the placeholders"
    for command in filled:
        project.meltano(*command[1:])
    dotenv = (project.root / ".env").read_text(encoding="utf-8")
    assert PROD_SECRET in dotenv, "meltano config set writes a sensitive setting to .env"
    assert PROD_SECRET not in project.yml.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prod_project(meltano_project: Project) -> Iterator[Project]:
    """The session's project after the guide's prod set-up, made once for this module's tests
    (each only reads it, or puts back what it changes); put back as it was afterwards."""
    original = meltano_project.yml.read_text(encoding="utf-8")
    dotenv = meltano_project.root / ".env"
    try:
        real_account_setup(meltano_project)
        yield meltano_project
    finally:
        meltano_project.yml.write_text(original, encoding="utf-8")
        dotenv.unlink(missing_ok=True)


def resolved(
    project: Project, environment: str, plugin: str = TAP, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """`meltano --environment=E config --unsafe print PLUGIN`: what the plugin will get."""
    out = project.meltano(
        f"--environment={environment}", "config", "--unsafe", "print", plugin, env=env
    ).stdout
    parsed: dict[str, Any] = json.loads(out)
    return parsed


@pytest.mark.parametrize("terminal", [False, True], ids=["dotenv", "dotenv+terminal"])
def test_prod_credentials_reach_prod_only(prod_project: Project, terminal: bool) -> None:
    # docs/real-account.md's scheduler variant: the secret as a variable of Meltano's shell.
    env = {"TAP_CLEVERTAP_COUNTS_PASSCODE": TERMINAL_SECRET} if terminal else {}
    if terminal:
        env["TAP_CLEVERTAP_COUNTS_ACCOUNT_ID"] = PROD_ACCOUNT
    prod = resolved(prod_project, "prod", env=env)
    assert prod["passcode"] == (TERMINAL_SECRET if terminal else PROD_SECRET)
    assert prod["account_id"] == PROD_ACCOUNT
    for environment in ("dev", "demo"):
        config = resolved(prod_project, environment, env=env)
        assert config["passcode"] == DEMO_PASSCODE, environment
        assert config["account_id"] == DEMO_ACCOUNT_ID, environment
        dumped = json.dumps(config)
        assert PROD_SECRET not in dumped and TERMINAL_SECRET not in dumped, environment
        assert PROD_ACCOUNT not in dumped, environment


def test_dev_run_after_prod_setup_sends_the_demo_passcode(
    prod_project: Project, tmp_path: pathlib.Path
) -> None:
    """The emulator answers 401 to any pair but the demo's, and the tap stops at a 401: a dev run
    that loads its rows sent the demo pair, though `.env` and the terminal hold prod's."""
    emulator = Emulator(
        EmulatorConfig(today=END + datetime.timedelta(days=1), job_seconds=0.01, partial_share=0.5)
    )
    emulator.start()
    try:
        env = {
            "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path / 'state'}",
            "TARGET_DUCKDB_FILEPATH": str(tmp_path / "dev.duckdb"),
            "TAP_CLEVERTAP_COUNTS_API_URL": emulator.url,
            "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
            "TAP_CLEVERTAP_COUNTS_END_DATE": END.isoformat(),
            "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
            "TAP_CLEVERTAP_COUNTS_PASSCODE": TERMINAL_SECRET,
            "TAP_CLEVERTAP_COUNTS_ACCOUNT_ID": PROD_ACCOUNT,
        }
        proc = prod_project.meltano("--environment=dev", "run", TAP, "target-duckdb", env=env)
        requests = emulator.requests()
    finally:
        emulator.stop()
    assert requests, "the dev run sent requests"
    assert not [r for r in requests if r.get("status") == 401], "a request had the wrong pair"
    assert read_rows(tmp_path / "dev.duckdb"), "the dev run loaded its rows"
    for secret in (PROD_SECRET, TERMINAL_SECRET):
        assert secret not in proc.stdout + proc.stderr


def test_each_environment_loads_into_its_own_warehouse(prod_project: Project) -> None:
    root = prod_project.root
    paths = {e: resolved(prod_project, e, "target-duckdb")["filepath"] for e in ("dev", "prod")}
    # The demo deletes its file: it stays pinned even when .env names another warehouse (one
    # `config print` checks both: the demo's file, asked with prod's named in .env).
    dotenv = root / ".env"
    prod_dotenv = dotenv.read_text(encoding="utf-8")
    try:
        dotenv.write_text(f"{prod_dotenv}TARGET_DUCKDB_FILEPATH={paths['prod']}\n", "utf-8")
        paths["demo"] = resolved(prod_project, "demo", "target-duckdb")["filepath"]
    finally:
        dotenv.write_text(prod_dotenv, encoding="utf-8")
    assert paths == {
        "dev": str(root / "warehouse" / "dev.duckdb"),
        "demo": str(root / "output" / "demo" / "warehouse.duckdb"),
        "prod": str(root / "warehouse" / "prod.duckdb"),
    }
    # scripts/demo.sh deletes and reads the same file the demo environment loads into.
    script = (REPO / "scripts" / "demo.sh").read_text(encoding="utf-8")
    (db,) = re.findall(r"^DB=(\S+)", script, flags=re.MULTILINE)
    assert str(root / db) == paths["demo"]
    # A fresh clone can load into warehouse/ at once: the directory is in git (its .gitignore
    # keeps it there and its data out).
    ignore = (REPO / "warehouse" / ".gitignore").read_text(encoding="utf-8").split("\n")
    assert "*" in ignore and "!.gitignore" in ignore


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_make_demo_leaves_prod_alone(prod_project: Project) -> None:
    """scripts/demo.sh in the project, with prod's and dev's warehouses and prod's state in place
    (and the prod passcode in .env): afterwards they are exactly as they were."""
    root = prod_project.root
    warehouses = root / "warehouse"
    warehouses.mkdir(exist_ok=True)
    import duckdb

    for name in ("prod", "dev"):
        con = duckdb.connect(str(warehouses / f"{name}.duckdb"))
        try:
            con.execute("CREATE SCHEMA clevertap")
            con.execute("CREATE TABLE clevertap.profile_counts (query_name VARCHAR, count BIGINT)")
            con.execute("INSERT INTO clevertap.profile_counts VALUES (?, 42)", [name])
        finally:
            con.close()
    before = {p.name: _digest(p) for p in warehouses.glob("*.duckdb")}
    state: dict[str, Any] = {"singer_state": {"bookmarks": {"profile_counts": {"partitions": []}}}}
    prod_project.meltano("state", "set", "--force", PROD_STATE_ID, json.dumps(state))
    prod_state = prod_project.meltano("state", "get", PROD_STATE_ID).stdout
    # The demo runs from the project: its scripts, and the repo's two venvs.
    shutil.copytree(REPO / "scripts", root / "scripts", dirs_exist_ok=True)
    for venv in (".venv", ".venv-meltano"):
        link = root / venv
        if not link.exists():
            link.symlink_to(REPO / venv)
    env = clean_env()
    env["TAP_CLEVERTAP_COUNTS_PASSCODE"] = TERMINAL_SECRET  # unset by the demo, pinned anyway
    proc = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "FAIL" not in proc.stdout
    assert {p.name: _digest(p) for p in warehouses.glob("*.duckdb")} == before
    assert prod_project.meltano("state", "get", PROD_STATE_ID).stdout == prod_state
    assert read_rows(root / "output" / "demo" / "warehouse.duckdb"), "the demo loaded its own"
    for secret in (PROD_SECRET, TERMINAL_SECRET):
        assert secret not in proc.stdout + proc.stderr
    assert os.path.exists(root / "output" / "demo" / "state.json")
