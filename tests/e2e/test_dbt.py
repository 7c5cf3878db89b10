"""The dbt package (transform/) end to end, with Meltano for real, against the emulator's truth.

Two accounts (meltano.yml's tap-clevertap-app-a and -b, each on an emulator of its own), in the
`prod` environment, which configures nothing (every setting comes from the variables below: an
empty environment), loaded into DuckDB and PostgreSQL and transformed by dbt-duckdb and
dbt-postgres in the same `meltano run`. The queries: a day + rolling_7d + rolling_30d trio of one
event, and a filtered event whose day and rolling_7d queries write the same filters in another
order (so they must meet in one row, with mau null: no query behind it). The second account also
has two rolling_28d queries: the filtered event's, whose mau it becomes, and the unfiltered
event's, which gives way to its rolling_30d query (one MAU window per series).

Two `meltano run`s in all: the first (dbt first on the still empty DuckDB file, then both loads,
then `build`, run and test, of both dbt projects), the second three weeks later (new days).
Every dau, wau and mau equals the emulator's count for its window; the second run only adds and
updates rows; and the demo's chart, drawn from the DuckDB model, plots exactly the model's rows.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import pathlib
import re
import struct
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tap_clevertap_counts.emulator import DEMO_PASSCODE, Emulator
from tests.e2e.helpers import REPO, Project, ground_truth, load_yaml
from tests.e2e.postgres import PostgresServer
from tests.e2e.test_many_accounts import TAPS, account_emulator, prefix
from tests.oracle import all_periods

START = datetime.date(2025, 1, 1)
TODAY1 = datetime.date(2025, 2, 12)
END1 = TODAY1 - datetime.timedelta(days=1)
TODAY2 = datetime.date(2025, 3, 5)
END2 = TODAY2 - datetime.timedelta(days=1)
RAW = "dbt_raw"  # where the loaders write (the package's source schema var points there)
MODELS = "dbt_models"  # where dbt builds

IOS = {"name": "platform", "operator": "equals", "value": "iOS"}
LONG = {"name": "session_length", "operator": "greater_than", "value": 60}
QUERIES: list[dict[str, Any]] = [
    {"name": "launch_day", "event_name": "App Launched", "granularity": "day"},
    {"name": "launch_week", "event_name": "App Launched", "granularity": "rolling_7d"},
    {"name": "launch_month", "event_name": "App Launched", "granularity": "rolling_30d"},
    {
        "name": "ios_long_day",
        "event_name": "App Launched",
        "event_properties": [LONG, IOS],
        "granularity": "day",
    },
    {
        "name": "ios_long_week",
        "event_name": "App Launched",
        "event_properties": [IOS, LONG],
        "granularity": "rolling_7d",
    },
]
# Only the second account's: 28-day MAU where a series has no 30-day query, and beside one.
# The filtered one starts 5 days later, so that the unfiltered trio keeps the most full days
# and stays the series the demo's chart draws.
START_28D = START + datetime.timedelta(days=5)
QUERIES_B = [
    *QUERIES,
    {"name": "launch_28d", "event_name": "App Launched", "granularity": "rolling_28d"},
    {
        "name": "ios_long_28d",
        "event_name": "App Launched",
        "event_properties": [LONG, IOS],
        "granularity": "rolling_28d",
        "start_date": START_28D.isoformat(),
    },
]
# The canonical text the docs promise: sorted by name, keys name/operator/value, no spaces.
CANONICAL = {
    "[]": "all",
    '[{"name":"platform","operator":"equals","value":"iOS"},'
    '{"name":"session_length","operator":"greater_than","value":60}]': "ios_long",
}
MEASURE = {"day": "dau", "rolling_7d": "wau", "rolling_30d": "mau", "rolling_28d": "mau"}
SELECT = (
    "SELECT account_id, event_name, event_properties, day, dau, wau, mau, dau_over_mau,"
    f" wau_over_mau FROM {MODELS}.clevertap_active_users"
)

Key = tuple[str, str, datetime.date]  # (account, "all" or "ios_long", day)
Measures = dict[str, int | None]


@pytest.fixture
def emulators() -> Iterator[dict[str, Emulator]]:
    """An emulator per account extractor, with test_many_accounts' accounts; those started are
    stopped even when a later one fails to start."""
    started: dict[str, Emulator] = {}
    try:
        for tap in TAPS:
            started[tap] = account_emulator(tap, TODAY1)
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


def queries_of(tap: str) -> list[dict[str, Any]]:
    return QUERIES_B if tap == "tap-clevertap-app-b" else QUERIES


def truth(emulators: dict[str, Emulator], end: datetime.date) -> dict[Key, Measures]:
    """The model's rows as the emulator counts them: per account, filters and day, each measure
    from the query of its granularity (None where no query has that granularity); mau from a
    series' rolling_30d query where it has one, else from its rolling_28d query."""
    rows: dict[Key, Measures] = {}
    for tap, emulator in emulators.items():
        queries = queries_of(tap)
        group = {q["name"]: "all" if not q.get("event_properties") else "ios_long" for q in queries}
        granularity = {q["name"]: q["granularity"] for q in queries}
        start = {
            q["name"]: datetime.date.fromisoformat(q.get("start_date", str(START))) for q in queries
        }
        thirty = {group[n] for n, g in granularity.items() if g == "rolling_30d"}
        used = {n for n, g in granularity.items() if g != "rolling_28d" or group[n] not in thirty}
        owed = {(n, *p) for n in used for p in all_periods(granularity[n], start[n], end)}
        counted = ground_truth(emulator, queries, owed)
        for (name, _, to_date), count in counted.items():
            row = rows.setdefault(
                (TAPS[tap], group[name], to_date), {"dau": None, "wau": None, "mau": None}
            )
            row[MEASURE[granularity[name]]] = count
    return rows


def as_model(fetched: list[tuple[Any, ...]]) -> dict[Key, Measures]:
    """Model rows keyed like truth(), checking the columns truth() does not hold."""
    rows: dict[Key, Measures] = {}
    for account, event, props, day, dau, wau, mau, dau_mau, wau_mau in fetched:
        assert event == "App Launched"
        assert isinstance(day, datetime.date) and not isinstance(day, datetime.datetime)
        key = (account, CANONICAL[props], day)
        assert key not in rows, f"two rows of {key}"
        rows[key] = {"dau": dau, "wau": wau, "mau": mau}
        for ratio, top in ((dau_mau, dau), (wau_mau, wau)):
            if top is None or not mau:
                assert ratio is None, key
            else:
                assert ratio == pytest.approx(top / mau), key
                assert 0 <= ratio <= 1
    return rows


def duckdb_model(db: pathlib.Path) -> dict[Key, Measures]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return as_model(con.execute(SELECT).fetchall())
    finally:
        con.close()


def postgres_model(conninfo: str) -> dict[Key, Measures]:
    with psycopg.connect(conninfo) as con:
        return as_model(con.execute(SELECT).fetchall())


def environment(
    tmp: pathlib.Path, emulators: dict[str, Emulator], server: PostgresServer
) -> dict[str, str]:
    db = str(tmp / "warehouse.duckdb")
    env = {
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp / 'state'}",
        "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
        "TAP_CLEVERTAP_COUNTS_QUERIES": json.dumps(QUERIES),
        prefix("tap-clevertap-app-b") + "QUERIES": json.dumps(QUERIES_B),
        "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
        "TARGET_DUCKDB_FILEPATH": db,
        "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": RAW,
        "DBT_DUCKDB_PATH": db,
        "DBT_DUCKDB_SCHEMA": MODELS,
        "DBT_DUCKDB_SOURCE_SCHEMA": RAW,
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(server.port),
        "TARGET_POSTGRES_USER": server.user,
        "TARGET_POSTGRES_PASSWORD": server.password,
        "TARGET_POSTGRES_DATABASE": server.database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": RAW,
        "DBT_POSTGRES_HOST": "127.0.0.1",
        "DBT_POSTGRES_PORT": str(server.port),
        "DBT_POSTGRES_USER": server.user,
        "DBT_POSTGRES_PASSWORD": server.password,
        "DBT_POSTGRES_DBNAME": server.database,
        "DBT_POSTGRES_SCHEMA": MODELS,
        "DBT_POSTGRES_SOURCE_SCHEMA": RAW,
    }
    for tap, emulator in emulators.items():
        env[prefix(tap) + "API_URL"] = emulator.url
        env[prefix(tap) + "ACCOUNT_ID"] = TAPS[tap]
        env[prefix(tap) + "PASSCODE"] = DEMO_PASSCODE
    return env


def loads(loader: str) -> list[str]:
    return [block for tap in TAPS for block in (tap, loader)]


def meltano_run(project: Project, env: dict[str, str], *blocks: str) -> str:
    proc = project.meltano("--environment=prod", "run", *blocks, env=env, timeout=400)
    return proc.stderr


def png_text(path: pathlib.Path) -> dict[str, str]:
    """The tEXt chunks of a PNG (matplotlib writes its metadata there)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            name, _, value = body.partition(b"\0")
            found[name.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return found


def draw_chart(db: pathlib.Path, out: pathlib.Path) -> dict[str, Any]:
    """The demo's chart script in its own venv (built by its make target), on this warehouse."""
    subprocess.run(["make", "-s", "chart-venv"], cwd=REPO, check=True, capture_output=True)
    series = out.with_suffix(".json")
    subprocess.run(
        [
            str(REPO / ".venv-chart" / "bin" / "python"),
            str(REPO / "scripts" / "chart_active_users.py"),
            f"--db={db}",
            f"--schema={MODELS}",
            f"--out={out}",
            f"--series-out={series}",
        ],
        check=True,
        capture_output=True,
    )
    text = series.read_text(encoding="utf-8")
    assert png_text(out)["rows-sha256"] == hashlib.sha256(text.encode()).hexdigest()
    plotted: dict[str, Any] = json.loads(text)
    return plotted


def test_meltano_yml_defines_both_dbt_utilities_pinned_like_the_loaders() -> None:
    data = load_yaml(REPO / "meltano.yml")
    utilities = {p["name"]: p for p in data["plugins"]["utilities"]}
    for name in ("dbt-duckdb", "dbt-postgres"):
        plugin = utilities[name]
        pip_url = plugin["pip_url"]
        assert f"--constraint=${{MELTANO_PROJECT_ROOT}}/constraints/{name}.txt" in pip_url
        assert (REPO / "constraints" / f"{name}.txt").exists()
        assert {"run", "test", "build"} <= set(plugin["commands"])
        settings = {s["name"]: s for s in plugin["settings"]}
        assert settings["project_dir"]["value"] == "${MELTANO_PROJECT_ROOT}/transform"
    duck = utilities["dbt-duckdb"]
    # The same duckdb as target-duckdb's: a newer one would rewrite the loader's file.
    loader = {p["name"]: p for p in data["plugins"]["loaders"]}["target-duckdb"]
    assert "duckdb==1.2.2" in duck["pip_url"].split() and "duckdb==1.2.2" in loader["pip_url"]
    pins = (REPO / "constraints" / "dbt-duckdb.txt").read_text(encoding="utf-8").split()
    assert "duckdb==1.2.2" in pins
    paths = {s["name"]: s.get("value") for s in duck["settings"]}
    assert paths["path"] == loader["config"]["filepath"]
    (demo,) = [e for e in data["environments"] if e["name"] == "demo"]
    assert demo["env"]["DBT_DUCKDB_PATH"] == demo["env"]["TARGET_DUCKDB_FILEPATH"]
    # The chart's venv is pinned too: every requirement of the Makefile's CHART_REQ is locked.
    (chart,) = re.findall(r"^CHART_REQ := (.+)$", (REPO / "Makefile").read_text(), re.M)
    locked = (REPO / "constraints" / "chart.txt").read_text(encoding="utf-8").split()
    for requirement in chart.split():
        name = re.split(r"[~=<>]", requirement)[0]
        assert any(line.startswith(f"{name}==") for line in locked), requirement


def test_two_accounts_duckdb_and_postgres_models_equal_the_emulators_truth(
    meltano_project: Project,
    postgres_server: PostgresServer,
    emulators: dict[str, Emulator],
    tmp_path: pathlib.Path,
) -> None:
    env = environment(tmp_path, emulators, postgres_server)
    db = tmp_path / "warehouse.duckdb"
    # Run 1: dbt on a warehouse with nothing loaded yet (empty models), then both accounts into
    # DuckDB (the loader opens the file dbt wrote) and PostgreSQL, then both dbt projects.
    log = meltano_run(
        meltano_project,
        {**env, "TAP_CLEVERTAP_COUNTS_END_DATE": END1.isoformat()},
        "dbt-duckdb:run",
        *loads("target-duckdb"),
        *loads("target-postgres"),
        "dbt-duckdb:build",
        "dbt-postgres:build",
    )
    # Three dbt commands, each all green (build: run, then the data tests).
    assert log.count("Completed successfully") == 3
    assert log.count("PASS=33 WARN=0 ERROR=0 SKIP=0") == 2, "4 models and 29 tests, twice"
    truth1 = truth(emulators, END1)
    first = duckdb_model(db)
    assert first == truth1
    assert postgres_model(postgres_server.conninfo) == truth1
    # The windows are all there: full rows, days before the first 30-day window, filtered rows.
    assert any(None not in m.values() for m in first.values())
    assert any(m["mau"] is None and m["wau"] is not None for k, m in first.items() if k[1] == "all")
    assert {k[0] for k in first} == set(TAPS.values())
    a, b = TAPS.values()
    filtered = [m for k, m in first.items() if k[1] == "ios_long" and k[0] == a]
    assert filtered and all(m["mau"] is None and m["dau"] is not None for m in filtered)
    # rolling_28d is mau where the series has no 30-day query, from its first window on ...
    filled = {k[2]: m["mau"] for k, m in first.items() if k[1] == "ios_long" and k[0] == b}
    first_window = START_28D + datetime.timedelta(days=27)
    assert all((mau is not None) is (day >= first_window) for day, mau in filled.items()), filled
    # ... and gives way to rolling_30d beside one: day 28 has a 28-day count, but no mau yet.
    day28 = START + datetime.timedelta(days=27)
    assert first[(b, "all", day28)]["mau"] is None
    assert first[(b, "all", day28)]["wau"] is not None
    # The chart plots the model's rows: per account, its unfiltered event, every day in order.
    plotted = draw_chart(db, tmp_path / "active_users.png")
    for account in TAPS.values():
        days = sorted(k[2] for k in first if k[0] == account and k[1] == "all")
        series = plotted[account]
        assert (series["event_name"], series["event_properties"]) == ("App Launched", "[]")
        assert series["day"] == [d.isoformat() for d in days]
        for measure in ("dau", "wau", "mau"):
            assert series[measure] == [first[(account, "all", d)][measure] for d in days]

    # Run 2, three weeks later: new days only add rows (and fill in measures, e.g. a 30-day
    # window that now ends on a day); nothing counted before changes.
    for emulator in emulators.values():
        emulator.set_today(TODAY2)
    meltano_run(
        meltano_project,
        {**env, "TAP_CLEVERTAP_COUNTS_END_DATE": END2.isoformat()},
        *loads("target-duckdb"),
        *loads("target-postgres"),
        "dbt-duckdb:run",
        "dbt-postgres:run",
    )
    truth2 = truth(emulators, END2)
    second = duckdb_model(db)
    assert second == truth2
    assert postgres_model(postgres_server.conninfo) == truth2
    assert set(first) < set(second)
    assert all(k[2] > END1 for k in set(second) - set(first))
    assert all(second[k] == m for k, m in first.items()), "a counted day changed"
