"""orchestration/ (Dagster) running meltano.yml's account extractors, one partition each,
against two emulators (one per account), and the dbt models after them. Dagster lives in
.venv-dagster: tests/e2e/dagster_driver.py runs them there, in-process; the command line's runs
are test_orchestration_cli.py's (sharing these helpers).

Into DuckDB on a new system database: each partition ends with exact rows and its
own state, run by the meltano MELTANO_EXECUTABLE names, else the first on PATH; failures no
retry can fix (refused credentials: the wrong account's emulator answers 401; an unknown
block; the tap's config error) fail once with the tap's line, one a retry may fix is retried;
the daily schedule, evaluated without a daemon, asks for every account; the partitions are
the extractors with an account_id of their own (the base one too), or CLEVERTAP_ACCOUNTS;
declarative automation requests the dbt models once the accounts are loaded, and their build
(the utility's dbt) equals the emulators' counts, every dbt test an asset check that passed.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig
from tests.e2e.helpers import MELTANO, REPO, TAP, Project, clean_env, dev_tap_config
from tests.e2e.test_many_accounts import (
    END1,
    TAPS,
    TODAY1,
    asked,
    duckdb_rows,
    prefix,
    truth_of,
)
from tests.e2e.test_many_accounts import START as START_DATE

DAGSTER_VENV = REPO / ".venv-dagster"
DRIVER = pathlib.Path(__file__).with_name("dagster_driver.py")
TAP_A, TAP_B = TAPS
ASSET_CONFIG = "clevertap_counts"
EXPLICIT = "CLEVERTAP_ACCOUNTS"


@pytest.fixture(scope="module")
def dagster_python() -> pathlib.Path:
    python = DAGSTER_VENV / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{python} is missing: `make orchestration` creates it")
        pytest.skip(f"{python} is missing: run `make orchestration`")
    return python


def run_env(project: Project, emulators: dict[str, Emulator], **more: str) -> dict[str, str]:
    env = clean_env()
    env.update(
        {
            "MELTANO_PROJECT_ROOT": str(project.root),
            "MELTANO_EXECUTABLE": str(MELTANO),
            "TAP_CLEVERTAP_COUNTS_START_DATE": START_DATE.isoformat(),
            "TAP_CLEVERTAP_COUNTS_END_DATE": END1.isoformat(),
            "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
        }
    )
    for tap, emulator in emulators.items():
        env[prefix(tap) + "API_URL"] = emulator.url
    env.update(more)
    return env


def drive(python: pathlib.Path, steps: list[dict[str, Any]], env: dict[str, str]) -> list[Any]:
    """The driver's results, one per step (it runs in .venv-dagster, with `env`)."""
    proc = subprocess.run(
        [str(python), str(DRIVER)],
        input=json.dumps(steps),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"driver exited {proc.returncode}:\n{proc.stderr[-6000:]}"
    results: list[Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


def state_of(project: Project, state_id: str, env: dict[str, str]) -> dict[str, str]:
    """query_name → bookmark (last to_date) of one state ID, and its account."""
    got = json.loads(project.meltano("state", "get", state_id, env=env).stdout)
    parts = got["singer_state"]["bookmarks"]["profile_counts"]["partitions"]
    accounts = {p["account_id"] for p in parts}
    assert len(accounts) == 1, accounts
    return {"account": accounts.pop()} | {
        p["context"]["query_name"]: p["replication_key_value"] for p in parts
    }


def last_periods(truth: dict[Any, int], account: str) -> dict[str, str]:
    names = {k[1] for k in truth if k[0] == account}
    return {n: max(k[3] for k in truth if k[:2] == (account, n)).isoformat() for n in names}


@pytest.fixture
def emulators() -> Iterator[dict[str, Emulator]]:
    started = {
        tap: Emulator(
            EmulatorConfig(account_id=account, today=TODAY1, job_seconds=0.01, partial_share=0.5)
        ).start()
        for tap, account in TAPS.items()
    }
    yield started
    for emulator in started.values():
        emulator.stop()


def write_project(root: pathlib.Path, dotenv: str, extra: str = "") -> pathlib.Path:
    """meltano.yml with `extra` account extractors after app-b, and a .env."""
    anchor = "  - name: tap-clevertap-app-b\n    inherit_from: tap-clevertap-counts\n"
    text = (REPO / "meltano.yml").read_text(encoding="utf-8")
    assert text.count(anchor) == 1
    root.mkdir()
    (root / "meltano.yml").write_text(text.replace(anchor, anchor + extra), encoding="utf-8")
    (root / ".env").write_text(dotenv, encoding="utf-8")
    return root


def model_rows(db: pathlib.Path) -> tuple[dict[Any, int], dict[Any, int]]:
    """The dbt models' rows: (account, day) -> dau; (account, period, start) -> active users."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        daily = con.execute(
            "SELECT account_id, day, dau FROM analytics.clevertap_active_users"
        ).fetchall()
        calendar = con.execute(
            "SELECT account_id, period, period_start, active_users"
            " FROM analytics.clevertap_calendar_active_users"
        ).fetchall()
    finally:
        con.close()
    return {(a, d): n for a, d, n in daily}, {(a, p, s): n for a, p, s, n in calendar}


def test_accounts_in_process_failures_once_schedule_partitions_and_dbt_after_them(
    meltano_project: Project,
    dagster_python: pathlib.Path,
    emulators: dict[str, Emulator],
    tmp_path: pathlib.Path,
) -> None:
    db = tmp_path / "warehouse.duckdb"
    env = run_env(
        meltano_project,
        emulators,
        MELTANO_DATABASE_URI=f"sqlite:///{tmp_path / 'meltano.db'}",
        TARGET_DUCKDB_FILEPATH=str(db),
        DBT_DUCKDB_PATH=str(db),
    )
    # Projects read for their partitions only (no plugins installed there: no dbt assets).
    # app-c and app-d inherit from app-b; only app-c has an account_id of its own (in .env).
    more = "".join(
        f"  - name: tap-clevertap-app-{x}\n    inherit_from: tap-clevertap-app-b\n" for x in "cd"
    )
    added = write_project(tmp_path / "added", "TAP_CLEVERTAP_APP_C_ACCOUNT_ID=DEMO-9\n", more)
    # The issue's own project: the first account on the base extractor, a second on its own.
    own = write_project(
        tmp_path / "own",
        "TAP_CLEVERTAP_COUNTS_ACCOUNT_ID=111\nTAP_CLEVERTAP_APP_B_ACCOUNT_ID=222\n",
    )
    empty = write_project(tmp_path / "empty", "")
    prod = {"MELTANO_ENVIRONMENT": "prod", "CLEVERTAP_DBT_UTILITY": "none"}
    dev = {"CLEVERTAP_DBT_UTILITY": "none"}
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "meltano").symlink_to(MELTANO)
    wrong_account = {prefix(TAP_A) + "API_URL": emulators[TAP_B].url}
    maintenance = Emulator(
        EmulatorConfig(account_id=TAPS[TAP_B], today=TODAY1, maintenance=True)
    ).start()
    steps: list[dict[str, Any]] = [
        {"do": "schedule"},
        {"do": "partitions", "root": str(added), "env": dev},
        {"do": "partitions", "root": str(added), "env": prod},
        {"do": "partitions", "root": str(own), "env": prod},
        {"do": "partitions", "root": str(own), "env": {**prod, EXPLICIT: f" {TAP_B},{TAP} "}},
        {"do": "partitions", "root": str(own), "env": {**prod, EXPLICIT: f"{TAP_A},tap-x"}},
        {"do": "partitions", "root": str(empty), "env": prod},
        {"do": "automation"},
        # Failures no retry can fix, each tried once though two retries are allowed: refused
        # credentials (A against B's emulator, which answers 401), an unknown block, the tap's
        # config error. Then one a retry may fix (503s, CleverTap's maintenance, outlasting the
        # tap's own tries).
        {"do": "materialize", "partition": TAP_A, "env": wrong_account, "retries": 2},
        {
            "do": "materialize",
            "partition": TAP_A,
            "run_config": {"loader": "target-duckdb dbt-duckdb:run"},
            "retries": 2,
        },
        {
            "do": "materialize",
            "partition": TAP_A,
            "env": {prefix(TAP_A) + "START_DATE": "2025-02-30"},
            "retries": 2,
        },
        {
            "do": "materialize",
            "partition": TAP_B,
            "env": {prefix(TAP_B) + "API_URL": maintenance.url},
            "retries": 1,
        },
        {"do": "materialize", "partition": TAP_A},
        {
            "do": "materialize",
            "partition": TAP_B,
            "run_config": {"environment": "dev"},
            "env": {"MELTANO_EXECUTABLE": "", "PATH": f"{on_path}:{os.environ['PATH']}"},
        },
        {"do": "automation"},
        {"do": "models"},
        {"do": "automation"},
    ]
    try:
        results = drive(dagster_python, steps, env)
    finally:
        maintenance.stop()
    schedule, added_dev, added_prod, own_prod, named, stranger, nothing = results[:7]
    before, refused, unknown, config, transient, a, b, after, models, again = results[7:]

    # Each partition: its own account's rows, exact, and its own state.
    queries = dev_tap_config(meltano_project.load_yml())["queries"]
    truth = truth_of(emulators, queries, END1)
    assert {k: r.count for k, r in duckdb_rows(db).items()} == truth
    for tap, result in ((TAP_A, a), (TAP_B, b)):
        assert result["success"], result["failures"]
        assert result["partition"] == tap
        state_id = f"dev:{tap}-to-target-duckdb"
        assert result["metadata"]["state_id"] == state_id
        assert result["metadata"]["environment"] == "dev"
        assert result["metadata"]["loader"] == "target-duckdb"
        assert state_of(meltano_project, state_id, env) == {
            "account": TAPS[tap],
            **last_periods(truth, TAPS[tap]),
        }
    # The meltano that ran: MELTANO_EXECUTABLE's, else the first on PATH.
    assert a["metadata"]["meltano"] == str(MELTANO)
    assert b["metadata"]["meltano"] == str(on_path / "meltano")
    # Meltano's log is streamed into the step's log, a plugin's lines included.
    assert any("target-duckdb" in line and "Loading" in line for line in a["logs"])
    # The system database was migrated once, when the definitions first loaded (the dbt parse
    # asks Meltano for the utility's settings), never by a step.
    steps_logs = [line for r in (refused, unknown, config, transient, a, b) for line in r["logs"]]
    assert not any("initialising" in line for line in steps_logs), "migrated once"

    # Failures no retry can fix: one attempt, the tap's (or Meltano's) line, the class named.
    assert schedule["retry_policy"] == {"max_retries": 2, "delay": 60}
    said = {
        "refused credentials": (refused, "tap-clevertap-counts: error: CleverTap refused the"),
        "unknown block": (unknown, "Block target-duckdb dbt-duckdb:run not found"),
        "config error": (config, "tap-clevertap-counts: error: Invalid config: start_date"),
    }
    for kind, (result, line) in said.items():
        assert not result["success"]
        assert (result["attempts"], result["retries"]) == (1, 0), kind
        (failed,) = result["failures"]
        assert failed["kind"] == kind
        assert line in failed["description"] and "not retried" in failed["description"]
    assert "Invalid Credentials" in refused["failures"][0]["description"]
    # A's emulator saw A's one good run alone: each period asked once, nothing from the failures.
    owed_a = [k[1:] for k in truth if k[0] == TAPS[TAP_A]]
    assert sorted(asked(emulators[TAP_A], queries)) == sorted(owed_a)
    # One that may pass later keeps the retry policy: tried again, then failed with its line.
    assert not transient["success"]
    assert (transient["attempts"], transient["retries"]) == (2, 1)
    assert [f["kind"] for f in transient["failures"]] == ["failed"]
    assert "Gave up on" in transient["failures"][0]["description"]
    assert "503" in transient["failures"][0]["description"]

    # The daily schedule requests every account of meltano.yml's dev environment, once per day:
    # the base extractor too (dev gives it an account of its own).
    accounts = [TAP, *TAPS]
    assert [r["partition"] for r in schedule["requests"]] == accounts
    assert [r["run_key"] for r in schedule["requests"]] == [f"2026-12-05:{t}" for t in accounts]
    assert schedule["cron"] == "30 6 * * *"
    assert schedule["sensor"]["running"], "the models' automation runs from the start"
    # Partitions: an account added to meltano.yml is one, with nothing else changed, when it
    # has an account_id of its own; an extractor without one is none (app-d; in prod, where no
    # env: block gives them accounts, app-a, app-b and the base too).
    assert added_dev["keys"] == [*accounts, "tap-clevertap-app-c"]
    assert added_prod["keys"] == ["tap-clevertap-app-c"]
    assert own_prod["keys"] == [TAP, TAP_B]
    assert named["keys"] == [TAP_B, TAP]
    assert "tap-x" in stranger["error"] and EXPLICIT in stranger["error"]
    assert "no CleverTap account" in nothing["error"] and EXPLICIT in nothing["error"]

    # dbt after the accounts: declarative automation requests every model once both accounts
    # are loaded (nothing before, nothing again after), dbt builds them from both accounts' rows,
    # and dbt's tests are the models' asset checks, all passed.
    dbt_keys = ["clevertap_active_users", "clevertap_calendar_active_users"]
    staging = ["staging/stg_clevertap__event_counts", "staging/stg_clevertap__profile_counts"]
    assert before["requested"] == [] and again["requested"] == []
    assert sorted(after["requested"]) == sorted([*dbt_keys, *staging])
    assert models["success"], models["failures"]
    assert sorted(models["materialized"]) == sorted([*dbt_keys, *staging])
    assert models["checks"] and all(models["checks"].values()), models["checks"]
    assert "assert_active_users_windows_nest" in models["checks"]  # transform/tests/
    daily, calendar = model_rows(db)
    by_query = {q["name"]: q.get("granularity", "day") for q in queries}
    assert daily == {(acc, to): n for (acc, q, _, to), n in truth.items() if by_query[q] == "day"}
    assert calendar == {
        (acc, by_query[q], start): n
        for (acc, q, start, _), n in truth.items()
        if by_query[q] != "day"
    }
