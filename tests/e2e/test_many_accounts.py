"""Many accounts, one warehouse, the Meltano way: meltano.yml's two account extractors
(`tap-clevertap-app-a`, `tap-clevertap-app-b`, both `inherit_from: tap-clevertap-counts`, so the
same query names) against two emulators, each serving its own account with its own data.

- DuckDB, one writer at a time: `meltano run tap-a target-duckdb tap-b target-duckdb`, then each
  again three weeks later on its own: every (account, query, period) row is kept, exact for its
  own account; the second runs are incremental; one account's run changes no row of the other.
- Postgres: both pipelines at the same time into one table (which a first run created), twice.
- A config whose account_id changes under the same state counts the new account from the start.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tap_clevertap_counts.emulator import DEMO_PASSCODE, Emulator, EmulatorConfig
from tests.e2e.helpers import (
    MELTANO,
    REPO,
    TAP,
    Period,
    Project,
    asked_periods,
    clean_env,
    expected,
    ground_truth,
    load_yaml,
    run_pipeline,
)
from tests.e2e.postgres import PostgresServer

START = datetime.date(2025, 1, 1)
TODAY1 = datetime.date(2025, 2, 12)
END1 = TODAY1 - datetime.timedelta(days=1)
TODAY2 = datetime.date(2025, 3, 5)
END2 = TODAY2 - datetime.timedelta(days=1)
START0 = START + datetime.timedelta(days=6)  # a first week, to create a table
TAPS = {"tap-clevertap-app-a": "DEMO-000-0002", "tap-clevertap-app-b": "DEMO-000-0003"}
KEY = ["account_id", "query_name", "from_date", "to_date"]

Key = tuple[str, str, datetime.date, datetime.date]  # (account, query, from, to)


def prefix(tap: str) -> str:
    return tap.upper().replace("-", "_") + "_"


def day(value: object) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


@dataclasses.dataclass(frozen=True)
class Loaded:
    count: int
    batched_at: object


def duckdb_rows(db: pathlib.Path) -> dict[Key, Loaded]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        fetched = con.execute(
            "SELECT account_id, query_name, from_date, to_date, count, _sdc_batched_at"
            " FROM clevertap.profile_counts"
        ).fetchall()
    finally:
        con.close()
    return keyed(fetched)


def keyed(fetched: list[tuple[Any, ...]]) -> dict[Key, Loaded]:
    rows = {(str(a), str(q), day(f), day(t)): Loaded(int(c), b) for a, q, f, t, c, b in fetched}
    assert len(rows) == len(fetched), "two rows with one (account, query, period)"
    return rows


def truth_of(
    emulators: dict[str, Emulator], queries: list[dict[str, Any]], end: datetime.date
) -> dict[Key, int]:
    """Every (account, query, period) owed up to `end`, counted by each account's emulator."""
    truth: dict[Key, int] = {}
    for tap, emulator in emulators.items():
        for (name, a, b), count in ground_truth(
            emulator, queries, expected(queries, START, end)
        ).items():
            truth[(TAPS[tap], name, a, b)] = count
    return truth


def account_emulator(tap: str, today: datetime.date) -> Emulator:
    config = EmulatorConfig(account_id=TAPS[tap], today=today, job_seconds=0.01, partial_share=0.5)
    return Emulator(config).start()


@pytest.fixture
def emulators() -> Iterator[dict[str, Emulator]]:
    started = {tap: account_emulator(tap, TODAY1) for tap in TAPS}
    yield started
    for emulator in started.values():
        emulator.stop()


def base_env(tmp: pathlib.Path, emulators: dict[str, Emulator]) -> dict[str, str]:
    env = {
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp / 'state'}",
        "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
        "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
    }
    for tap, emulator in emulators.items():
        env[prefix(tap) + "API_URL"] = emulator.url
    return env


def with_end(env: dict[str, str], end: datetime.date) -> dict[str, str]:
    return {**env, "TAP_CLEVERTAP_COUNTS_END_DATE": end.isoformat()}


def asked(emulator: Emulator, queries: list[dict[str, Any]], since: int = 0) -> list[Period]:
    return asked_periods(queries, emulator.requests()[since:])


def test_meltano_yml_gives_each_account_an_inheriting_extractor_kept_out_of_dev_and_demo() -> None:
    """Each account extractor inherits the tap; dev and demo pin its account and passcode, so
    a prod passcode for it in .env never reaches them (Meltano itself checks it below)."""
    data = load_yaml(REPO / "meltano.yml")
    extractors = {p["name"]: p for p in data["plugins"]["extractors"]}
    for tap in TAPS:
        assert extractors[tap]["inherit_from"] == TAP
        assert "pip_url" not in extractors[tap], "it shares the parent's venv"
    for environment in data["environments"]:
        if environment["name"] in ("dev", "demo"):
            pins = environment["env"]
            for tap, account in TAPS.items():
                assert pins[prefix(tap) + "ACCOUNT_ID"] == account
                assert pins[prefix(tap) + "PASSCODE"] == DEMO_PASSCODE


def test_prod_passcodes_of_each_account_stay_out_of_dev_and_demo(
    pristine_project: Project,
) -> None:
    secrets = {tap: f"prod-secret-{i}-Hx7q" for i, tap in enumerate(TAPS)}
    lines = [f"{prefix(tap)}PASSCODE={secret}" for tap, secret in secrets.items()]
    lines += [f"{prefix(tap)}ACCOUNT_ID=PROD-{i}" for i, tap in enumerate(TAPS)]
    (pristine_project.root / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for tap, secret in secrets.items():
        for environment in ("dev", "demo", "prod"):
            out = pristine_project.meltano(
                f"--environment={environment}", "config", "--unsafe", "print", tap
            ).stdout
            config = json.loads(out)
            if environment == "prod":
                assert config["passcode"] == secret
            else:
                assert config["passcode"] == DEMO_PASSCODE, (tap, environment)
                assert config["account_id"] == TAPS[tap], (tap, environment)
                assert not any(s in out for s in secrets.values()), (tap, environment)


def test_two_accounts_one_duckdb_schema_every_row_kept_and_exact(
    meltano_project: Project,
    dev_queries: list[dict[str, Any]],
    emulators: dict[str, Emulator],
    tmp_path: pathlib.Path,
) -> None:
    db = tmp_path / "warehouse.duckdb"
    env = {**base_env(tmp_path, emulators), "TARGET_DUCKDB_FILEPATH": str(db)}
    queries = dev_queries
    tap_a, tap_b = TAPS
    # Run 1: both accounts, one writer at a time, in one `meltano run`.
    run_pipeline(
        meltano_project, with_end(env, END1), (tap_a, "target-duckdb", tap_b, "target-duckdb")
    )
    first = duckdb_rows(db)
    truth1 = truth_of(emulators, queries, END1)
    assert {k: r.count for k, r in first.items()} == truth1
    assert {k[0] for k in first} == set(TAPS.values())
    same_key = {(q, a, b) for _, q, a, b in first}
    assert len(first) == 2 * len(same_key), "the same query names and periods in both accounts"
    account_a, account_b = TAPS.values()
    differ = [k for k in same_key if truth1[(account_a, *k)] != truth1[(account_b, *k)]]
    assert len(differ) > len(same_key) // 2, "the accounts' counts differ: a swap would show"
    # Run 2, three weeks later: each account on its own, incremental.
    since = {tap: len(e.requests()) for tap, e in emulators.items()}
    for emulator in emulators.values():
        emulator.set_today(TODAY2)
    truth2 = truth_of(emulators, queries, END2)
    loaded = first
    for tap, account in TAPS.items():
        run_pipeline(meltano_project, with_end(env, END2), (tap, "target-duckdb"))
        after = duckdb_rows(db)
        new = {k for k in truth2 if k[0] == account and k not in truth1}
        assert new, "three weeks later there is something new to count"
        assert sorted(asked(emulators[tap], queries, since[tap])) == sorted(k[1:] for k in new)
        for key, row in after.items():
            if key[0] != account or key in loaded:
                assert loaded[key] == row, f"{tap}'s run changed {key}"
        assert set(after) == set(loaded) | new
        loaded = after
    assert {k: r.count for k, r in loaded.items()} == truth2
    # Each extractor has its own state ID, and its bookmarks name its account.
    states = meltano_project.meltano("state", "list", env=env).stdout.split()
    for tap, account in TAPS.items():
        state_id = f"dev:{tap}-to-target-duckdb"
        assert state_id in states
        got = json.loads(meltano_project.meltano("state", "get", state_id, env=env).stdout)
        parts = got["singer_state"]["bookmarks"]["profile_counts"]["partitions"]
        assert {p["account_id"] for p in parts} == {account}
        names = {k[1] for k in truth2}
        last = {n: max(k[3] for k in truth2 if k[:2] == (account, n)).isoformat() for n in names}
        assert {p["context"]["query_name"]: p["replication_key_value"] for p in parts} == last


def postgres_env(server: PostgresServer, schema: str) -> dict[str, str]:
    return {
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(server.port),
        "TARGET_POSTGRES_USER": server.user,
        "TARGET_POSTGRES_PASSWORD": server.password,
        "TARGET_POSTGRES_DATABASE": server.database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


def postgres_rows(conninfo: str, schema: str) -> dict[Key, Loaded]:
    with psycopg.connect(conninfo) as con:
        fetched = con.execute(
            "SELECT account_id, query_name, from_date, to_date, count, _sdc_batched_at"
            f" FROM {schema}.profile_counts"
        ).fetchall()
    return keyed(fetched)


def primary_key(conninfo: str, schema: str) -> list[str]:
    with psycopg.connect(conninfo) as con:
        fetched = con.execute(
            "SELECT k.column_name FROM information_schema.table_constraints c"
            " JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)"
            " WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = %s"
            " AND c.table_name = 'profile_counts' ORDER BY k.ordinal_position",
            (schema,),
        ).fetchall()
    return [name for (name,) in fetched]


def run_at_once(project: Project, env: dict[str, str], *pipelines: tuple[str, ...]) -> None:
    """Start every `meltano run` before waiting for any: the pipelines overlap."""
    full_env = {**clean_env(), **env}
    procs = [
        subprocess.Popen(
            [str(MELTANO), "run", *blocks],
            cwd=project.root,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for blocks in pipelines
    ]
    for blocks, proc in zip(pipelines, procs, strict=True):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"meltano run {' '.join(blocks)}: {err[-4000:]}"


def test_two_accounts_into_postgres_at_the_same_time(
    meltano_project: Project,
    dev_queries: list[dict[str, Any]],
    postgres_server: PostgresServer,
    emulators: dict[str, Emulator],
    tmp_path: pathlib.Path,
) -> None:
    schema = "many_accounts"
    env = {**base_env(tmp_path, emulators), **postgres_env(postgres_server, schema)}
    queries = dev_queries
    pipelines = [(tap, "target-postgres") for tap in TAPS]
    # The first load of a new table alone: target-postgres checks that the table is missing,
    # then creates it, and two loaders doing that at once can both try (docs/many-accounts.md).
    (tap_a, _), _ = pipelines
    run_pipeline(meltano_project, with_end(env, START0), (tap_a, "target-postgres"))
    assert primary_key(postgres_server.conninfo, schema) == KEY
    run_at_once(meltano_project, with_end(env, END1), *pipelines)
    first = postgres_rows(postgres_server.conninfo, schema)
    assert {k: r.count for k, r in first.items()} == truth_of(emulators, queries, END1)
    # Both again at the same time, three weeks later: each asks only for its new periods.
    since = {tap: len(e.requests()) for tap, e in emulators.items()}
    for emulator in emulators.values():
        emulator.set_today(TODAY2)
    run_at_once(meltano_project, with_end(env, END2), *pipelines)
    second = postgres_rows(postgres_server.conninfo, schema)
    truth2 = truth_of(emulators, queries, END2)
    assert {k: r.count for k, r in second.items()} == truth2
    for tap, emulator in emulators.items():
        new = sorted(k[1:] for k in truth2 if k[0] == TAPS[tap] and k not in first)
        assert new and sorted(asked(emulator, queries, since[tap])) == new
    assert all(second[k] == row for k, row in first.items()), "a loaded row was rewritten"


def test_a_changed_account_id_under_the_same_state_counts_the_new_account_from_the_start(
    meltano_project: Project, emulators: dict[str, Emulator], tmp_path: pathlib.Path
) -> None:
    """prod, one extractor, its account_id changed between runs (the state ID stays)."""
    db = tmp_path / "prod.duckdb"
    queries = [{"name": "launches", "event_name": "App Launched", "granularity": "week"}]
    env = {
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path / 'state'}",
        "TARGET_DUCKDB_FILEPATH": str(db),
        "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
        "TAP_CLEVERTAP_COUNTS_END_DATE": END1.isoformat(),
        "TAP_CLEVERTAP_COUNTS_QUERIES": json.dumps(queries),
        "TAP_CLEVERTAP_COUNTS_PASSCODE": DEMO_PASSCODE,
        "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
    }
    (a, emu_a), (b, emu_b) = emulators.items()
    owed = sorted(expected(queries, START, END1))
    logs = []
    for tap, emulator in ((a, emu_a), (b, emu_b), (b, emu_b)):
        account = {
            "TAP_CLEVERTAP_COUNTS_ACCOUNT_ID": TAPS[tap],
            "TAP_CLEVERTAP_COUNTS_API_URL": emulator.url,
        }
        since = len(emulator.requests())
        run = meltano_project.meltano(
            "--environment=prod", "run", TAP, "target-duckdb", env={**env, **account}
        )
        logs.append((asked(emulator, queries, since), run.stderr))
    (asked_a, _), (asked_b, log_b), (asked_again, _) = logs
    assert sorted(asked_a) == owed
    # The new account: every period from start_date again, with one line saying why.
    assert sorted(asked_b) == owed
    bookmark = max(b for _, _, b in owed)
    line = (
        f"query 'launches': its bookmark {bookmark} is of account {TAPS[a]}, not {TAPS[b]}:"
        f" counting account {TAPS[b]} again from {START}"
    )
    assert line in log_b
    assert asked_again == [], "the new account's own bookmarks hold"
    rows = duckdb_rows(db)
    assert {k: r.count for k, r in rows.items()} == truth_of(emulators, queries, END1)
