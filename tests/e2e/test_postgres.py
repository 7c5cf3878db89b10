"""Emulator → tap → `meltano run` → target-postgres (meltano.yml's loader) → a real PostgreSQL.

Run 1 backfills the dev queries of meltano.yml (day, week, month). Run 2, three weeks later
against an account whose counts changed (late events, another seed), with `lookback_days: 3`:
it counts the new periods and re-counts the ones overlapping the three days up to each query's
bookmark, and target-postgres updates those rows in place (an upsert on the key properties).
The connection reaches the loader only through TARGET_POSTGRES_* variables, the password too,
as docs/meltano-project.md does. The server is a throw-away cluster (conftest `postgres_server`).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import psycopg
import pytest

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig
from tests.e2e.helpers import (
    REPO,
    TABLE,
    TAP,
    Period,
    Project,
    Row,
    asked_periods,
    assert_table,
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
LOOKBACK = 3
SCHEMA, NAME = TABLE.split(".")


@dataclasses.dataclass(frozen=True)
class Column:
    data_type: str
    udt_name: str
    nullable: bool


@dataclasses.dataclass
class Load:
    rows: list[Row]
    asked: list[Period]
    truth: dict[Period, int]


@dataclasses.dataclass
class Loads:
    queries: list[dict[str, Any]]
    runs: list[Load]
    columns: dict[str, Column]
    primary_key: list[str]
    conninfo: str


def read_rows(conninfo: str) -> list[Row]:
    with psycopg.connect(conninfo) as con:
        fetched = con.execute(
            "SELECT query_name, from_date, to_date, count, event_name, event_properties,"
            f" granularity, _sdc_batched_at FROM {TABLE}"
        ).fetchall()
    return [Row(*r) for r in fetched]


def read_columns(conninfo: str) -> dict[str, Column]:
    with psycopg.connect(conninfo) as con:
        fetched = con.execute(
            "SELECT column_name, data_type, udt_name, is_nullable"
            " FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (SCHEMA, NAME),
        ).fetchall()
    return {name: Column(dt, udt, null == "YES") for name, dt, udt, null in fetched}


def read_primary_key(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as con:
        fetched = con.execute(
            "SELECT k.column_name FROM information_schema.table_constraints c"
            " JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)"
            " WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = %s"
            " AND c.table_name = %s ORDER BY k.ordinal_position",
            (SCHEMA, NAME),
        ).fetchall()
    return [name for (name,) in fetched]


@pytest.fixture(scope="module")
def loads(
    meltano_project: Project,
    dev_queries: list[dict[str, Any]],
    postgres_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Loads:
    tmp = tmp_path_factory.mktemp("postgres-pipeline")
    server = postgres_server
    env = {
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp / 'state'}",
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(server.port),
        "TARGET_POSTGRES_USER": server.user,
        "TARGET_POSTGRES_PASSWORD": server.password,
        "TARGET_POSTGRES_DATABASE": server.database,
        "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
        "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
    }
    queries = dev_queries
    result = Loads(queries, [], {}, [], server.conninfo)

    def run(emulator: Emulator, end: datetime.date, **extra: str) -> None:
        before = len(emulator.requests())
        run_env = {
            **env,
            **extra,
            "TAP_CLEVERTAP_COUNTS_API_URL": emulator.url,
            "TAP_CLEVERTAP_COUNTS_END_DATE": end.isoformat(),
        }
        run_pipeline(meltano_project, run_env, (TAP, "target-postgres"))
        result.runs.append(
            Load(
                read_rows(server.conninfo),
                asked_periods(queries, emulator.requests()[before:]),
                ground_truth(emulator, queries, expected(queries, START, end)),
            )
        )

    emulator = Emulator(EmulatorConfig(today=TODAY1, job_seconds=0.01, partial_share=0.5))
    emulator.start()
    try:
        run(emulator, END1)
    finally:
        emulator.stop()
    # Late events: the same account now answers other counts (another seed) for every period.
    late = Emulator(EmulatorConfig(seed=7, today=TODAY2, job_seconds=0.01, partial_share=0.5))
    late.start()
    try:
        run(late, END2, TAP_CLEVERTAP_COUNTS_LOOKBACK_DAYS=str(LOOKBACK))
    finally:
        late.stop()
    result.columns = read_columns(server.conninfo)
    result.primary_key = read_primary_key(server.conninfo)
    return result


def test_first_run_loads_one_row_per_period_with_exact_counts(loads: Loads) -> None:
    first = loads.runs[0]
    assert {q.get("granularity", "day") for q in loads.queries} == {"day", "week", "month"}
    assert_table(first.rows, first.truth, loads.queries)
    assert sorted(first.asked) == sorted(first.truth), "each period asked for exactly once"


def test_lookback_run_adds_new_periods_and_updates_recounted_rows_in_place(loads: Loads) -> None:
    first, second = loads.runs
    asked = set(second.asked)
    assert len(second.asked) == len(asked), "a period asked for twice"
    # The new periods, and those overlapping the LOOKBACK days up to each query's bookmark.
    bookmarks = {
        q["name"]: max(b for n, _, b in first.truth if n == q["name"]) for q in loads.queries
    }
    lookback = datetime.timedelta(days=LOOKBACK)
    assert asked == {p for p in second.truth if p[2] > bookmarks[p[0]] - lookback}
    recounted = asked & set(first.truth)
    assert {p[0] for p in recounted} == set(bookmarks), "every query re-counts something"
    assert {p[0] for p in asked - recounted} == set(bookmarks), "every query has new periods"
    # Re-counted and new rows carry the late account's counts; every other row is untouched.
    truth = {p: (c if p in asked else first.truth[p]) for p, c in second.truth.items()}
    assert_table(second.rows, truth, loads.queries)
    assert any(second.truth[p] != first.truth[p] for p in recounted), "the late counts differ"
    before = {r.period: r.batched_at for r in first.rows}
    for row in second.rows:
        if row.period in before:
            assert (row.batched_at != before[row.period]) == (row.period in asked), row.period


def test_column_types(loads: Loads) -> None:
    cols = loads.columns
    assert {name: c.data_type for name, c in cols.items() if not name.startswith("_sdc_")} == {
        "account_id": "text",
        "query_name": "text",
        "from_date": "date",
        "to_date": "date",
        "count": "bigint",
        "event_name": "text",
        "event_properties": cols["event_properties"].data_type,  # test_event_properties_is_jsonb
        "granularity": "text",
        "counted_by": "text",
    }
    assert {name for name, c in cols.items() if not c.nullable} == {
        "account_id",
        "query_name",
        "from_date",
        "to_date",
    }, "exactly the key properties are NOT NULL"
    assert loads.primary_key == ["account_id", "query_name", "from_date", "to_date"]
    assert cols["_sdc_batched_at"].data_type == "timestamp without time zone"


def test_event_properties_is_jsonb_and_queryable(loads: Loads) -> None:
    """Plain jsonb, not jsonb[]: `event_properties->0->>'operator'` works in SQL.
    (The stream's schema must declare the field an array with no `items` for that.)"""
    column = loads.columns["event_properties"]
    assert (column.data_type, column.udt_name) == ("jsonb", "jsonb")
    with psycopg.connect(loads.conninfo) as con:
        found = con.execute(
            "SELECT query_name, event_properties->0->>'operator', event_properties->0->>'value',"
            f" jsonb_array_length(event_properties) FROM {TABLE} GROUP BY 1, 2, 3, 4 ORDER BY 1"
        ).fetchall()
    expected_rows = [
        (
            q["name"],
            *(
                (q["event_properties"][0]["operator"], str(q["event_properties"][0]["value"]))
                if q.get("event_properties")
                else (None, None)
            ),
            len(q.get("event_properties", [])),
        )
        for q in sorted(loads.queries, key=lambda q: q["name"])
    ]
    assert found == expected_rows


def test_meltano_yml_pins_target_postgres_and_holds_no_secret() -> None:
    """The loader is pinned, its password is sensitive, and meltano.yml gives no password."""
    data = load_yaml(REPO / "meltano.yml")
    (loader,) = [p for p in data["plugins"]["loaders"] if p["name"] == "target-postgres"]
    assert loader["pip_url"].split()[0] == "meltanolabs-target-postgres==0.8.1"
    settings = {s["name"]: s for s in loader["settings"]}
    assert settings["password"].get("sensitive") is True
    assert settings["sqlalchemy_url"].get("sensitive") is True
    assert not {"password", "sqlalchemy_url"} & set(loader.get("config", {}))
    for env in data.get("environments") or []:
        for plugin in ((env.get("config") or {}).get("plugins") or {}).get("loaders") or []:
            if plugin["name"] == "target-postgres":
                assert not {"password", "sqlalchemy_url"} & set(plugin.get("config") or {})
