"""orchestration/ (Dagster) running meltano.yml's account extractors, one partition each,
against two emulators (one per account). Dagster lives in .venv-dagster: tests/e2e/
dagster_driver.py runs the in-process parts there, the CLI (`dagster asset materialize`) the rest.

- In-process, into DuckDB on a new system database: each partition ends with exact rows and its
  own state; a failing `meltano run` (the wrong account's emulator: 401) fails the step after
  its retry; the daily schedule, evaluated without a daemon, asks for every account; an account
  added to meltano.yml is a partition.
- Two partitions at once on the multiprocess executor (two CLI runs), into PostgreSQL, on a new
  system database on PostgreSQL: both succeed, they overlapped (each account's jobs stay pending
  until both emulators hold one), every row exact. Then a second project copy ("machine") runs
  account A against the same system database: incremental, from the first copy's state.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig, ManualClock
from tests.e2e.helpers import REPO, Project, clean_env, dev_tap_config, load_yaml
from tests.e2e.postgres import PostgresServer
from tests.e2e.test_many_accounts import (
    END1,
    END2,
    TAPS,
    TODAY1,
    TODAY2,
    asked,
    duckdb_rows,
    postgres_env,
    postgres_rows,
    prefix,
    truth_of,
)
from tests.e2e.test_many_accounts import START as START_DATE

DAGSTER_VENV = REPO / ".venv-dagster"
DRIVER = pathlib.Path(__file__).with_name("dagster_driver.py")
TAP_A, TAP_B = TAPS
ASSET_CONFIG = "clevertap_counts"
EVENT_DEADLINE = 240.0  # seconds a loaded machine may take to start two Dagster runs


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


def test_partitions_in_process_exact_failure_schedule_and_a_new_account(
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
    )
    added = tmp_path / "added"
    added.mkdir()
    anchor = "  - name: tap-clevertap-app-b\n    inherit_from: tap-clevertap-counts\n"
    text = (REPO / "meltano.yml").read_text(encoding="utf-8")
    assert text.count(anchor) == 1
    (added / "meltano.yml").write_text(
        text.replace(anchor, anchor + anchor.replace("app-b", "app-c")), encoding="utf-8"
    )
    wrong_account = {prefix(TAP_A) + "API_URL": emulators[TAP_B].url}
    steps: list[dict[str, Any]] = [
        {"do": "schedule"},
        {"do": "partitions", "root": str(added)},
        {"do": "materialize", "partition": TAP_A, "env": wrong_account, "retries": 0},
        {"do": "materialize", "partition": TAP_A},
        {"do": "materialize", "partition": TAP_B, "run_config": {"environment": "dev"}},
    ]
    schedule, partitions, failed, a, b = drive(dagster_python, steps, env)

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
    # Meltano's log is streamed into the step's log, a plugin's lines included.
    assert any("target-duckdb" in line and "Loading" in line for line in a["logs"])
    assert any("initialising Meltano's system database" in line for line in failed["logs"])
    assert not any("initialising" in line for line in a["logs"] + b["logs"]), "migrated once"

    # A meltano run that fails (A's first, against B's emulator: 401) fails the step, with the
    # tap's own words (no retry asked here; the real asset has its retry policy).
    assert not failed["success"]
    assert failed["retries"] == 0
    assert schedule["retry_policy"] == {"max_retries": 2, "delay": 60}
    assert len(failed["failures"]) == 1
    assert "exited 1" in failed["failures"][0]
    assert "Invalid Credentials" in failed["failures"][0]

    # The daily schedule requests every account of meltano.yml, once per day.
    accounts = [
        p["name"]
        for p in load_yaml(REPO / "meltano.yml")["plugins"]["extractors"]
        if p.get("inherit_from") == "tap-clevertap-counts"
    ]
    assert accounts == list(TAPS)
    assert [r["partition"] for r in schedule["requests"]] == accounts
    assert [r["run_key"] for r in schedule["requests"]] == [f"2026-12-05:{t}" for t in accounts]
    assert schedule["cron"] == "30 6 * * *"
    # An account added to meltano.yml is a partition, with nothing else changed.
    assert partitions["keys"] == [*accounts, "tap-clevertap-app-c"]


def wait_for(
    condition: Any,
    procs: list[subprocess.Popen[str]],
    logs: dict[str, pathlib.Path],
    what: str,
) -> None:
    """Until `condition()` holds: an event the emulators show, checked every 50 ms."""
    deadline = time.monotonic() + EVENT_DEADLINE
    while not condition():
        if any(p.poll() is not None for p in procs):
            ended = {tap: log.read_text(encoding="utf-8")[-4000:] for tap, log in logs.items()}
            raise AssertionError(f"a run ended before {what}: {ended}")
        assert time.monotonic() < deadline, f"no {what} within {EVENT_DEADLINE} s"
        time.sleep(0.05)


def test_two_partitions_at_once_into_postgres_then_another_machine_runs_incrementally(
    meltano_project: Project,
    dagster_python: pathlib.Path,
    postgres_server: PostgresServer,
    tmp_path: pathlib.Path,
) -> None:
    clock = ManualClock()
    emulators = {
        tap: Emulator(
            EmulatorConfig(
                account_id=account,
                today=TODAY1,
                partial_share=1.0,  # every job pending until the clock moves
                job_seconds=60,
                req_id_ttl_seconds=86400,
            ),
            clock=clock,
        ).start()
        for tap, account in TAPS.items()
    }
    try:
        _two_at_once_then_incremental(
            meltano_project, dagster_python, postgres_server, tmp_path, emulators, clock
        )
    finally:
        for emulator in emulators.values():
            emulator.stop()


def _two_at_once_then_incremental(
    project: Project,
    python: pathlib.Path,
    server: PostgresServer,
    tmp: pathlib.Path,
    emulators: dict[str, Emulator],
    clock: ManualClock,
) -> None:
    suffix = secrets.token_hex(4)
    systemdb = f"meltano_{suffix}"
    server.psql("postgres", f"CREATE DATABASE {systemdb}")
    uri = f"postgresql+psycopg://{server.user}:{server.password}@127.0.0.1:{server.port}/{systemdb}"
    schema = f"orchestrated_{suffix}"
    home = tmp / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = run_env(
        project,
        emulators,
        MELTANO_DATABASE_URI=uri,
        DAGSTER_HOME=str(home),
        **postgres_env(server, schema),
    )
    config = json.dumps({"ops": {ASSET_CONFIG: {"config": {"loader": "target-postgres"}}}})
    stack = contextlib.ExitStack()
    dagster = str(DAGSTER_VENV / "bin" / "dagster")
    # Dagster's own SQLite storage in a new DAGSTER_HOME is created once, before two runs start
    # (two processes creating it at once can fail): docs/orchestrator.md says the same.
    subprocess.run(
        [dagster, "instance", "migrate"], env=env, cwd=REPO, check=True, capture_output=True
    )
    logs = {tap: tmp / f"{tap}.log" for tap in TAPS}
    procs = [
        subprocess.Popen(
            [
                dagster,
                *("asset", "materialize", "-f", "orchestration/definitions.py"),
                *("--select", "clevertap_counts", "--partition", tap, "--config-json", config),
            ],
            cwd=REPO,
            env=env,
            stdout=stack.enter_context(logs[tap].open("w", encoding="utf-8")),
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tap in TAPS
    ]
    try:
        # Neither run can end before the clock moves: both holding a job at once is the overlap.
        wait_for(
            lambda: all(e.running_jobs() > 0 for e in emulators.values()),
            procs,
            logs,
            "job pending at both accounts at once",
        )
        for emulator in emulators.values():
            emulator.update(partial_share=0.0)
        # A submit already on its way when the config changed still makes a pending job, which
        # starts after any one move of the clock: so the clock moves until both runs have ended
        # (each move ends every job then pending), never just once.
        deadline = time.monotonic() + 600
        while any(p.poll() is None for p in procs):
            assert time.monotonic() < deadline, "the two runs did not end within 600 s"
            clock.advance(600)
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        stack.close()
    outputs = [logs[tap].read_text(encoding="utf-8") for tap in TAPS]
    for tap, proc, out in zip(TAPS, procs, outputs, strict=True):
        assert proc.returncode == 0, f"{tap}:\n{out[-6000:]}"
        assert "multiprocess executor" in out
    spans = {tap: (e.requests()[0]["t"], e.requests()[-1]["t"]) for tap, e in emulators.items()}
    (a_first, a_last), (b_first, b_last) = spans.values()
    assert max(a_first, b_first) < min(a_last, b_last), f"no overlap: {spans}"
    queries = dev_tap_config(project.load_yml())["queries"]
    truth1 = truth_of(emulators, queries, END1)
    conninfo = server.conninfo
    assert {k: r.count for k, r in postgres_rows(conninfo, schema).items()} == truth1

    # Machine 2: another copy of the project (its plugin venvs linked to save an install; no
    # .meltano/meltano.db, no locks of its own) on the same system database.
    machine2 = Project.create(tmp / "machine-2")
    (machine2.root / ".meltano").mkdir()
    for kind in ("extractors", "loaders"):
        (machine2.root / ".meltano" / kind).symlink_to(project.root / ".meltano" / kind)
    for emulator in emulators.values():
        emulator.set_today(TODAY2)
    since = len(emulators[TAP_A].requests())
    env2 = {
        **env,
        "MELTANO_PROJECT_ROOT": str(machine2.root),
        "TAP_CLEVERTAP_COUNTS_END_DATE": END2.isoformat(),
    }
    (second,) = drive(
        python,
        [{"do": "materialize", "partition": TAP_A, "run_config": {"loader": "target-postgres"}}],
        env2,
    )
    assert second["success"], second["failures"]
    truth2 = truth_of(emulators, queries, END2)
    new = {k for k in truth2 if k[0] == TAPS[TAP_A] and k not in truth1}
    assert new, "three weeks later there is something new to count"
    assert sorted(asked(emulators[TAP_A], queries, since)) == sorted(k[1:] for k in new)
    rows = {k: r.count for k, r in postgres_rows(conninfo, schema).items()}
    assert rows == {k: c for k, c in truth2.items() if k in truth1 or k in new}
    assert not (machine2.root / ".meltano" / "meltano.db").exists(), "state is on PostgreSQL"
