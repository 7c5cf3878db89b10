"""The tap from outside this repository, with Meltano as the client: a data team's own project.

`meltano init` in a temp dir; the tap added from its plugin definition (`meltano add
--plugin-type extractor tap-clevertap-counts --from-ref meltano-hub/tap-clevertap-counts.yml`),
its pip_url pointed at the wheel `make dist` built (not this checkout); a loader (target-jsonl,
pinned by this repo's constraints file); account, passcode and one number setting given only as
TAP_CLEVERTAP_COUNTS_* variables; an account extractor added with `--inherit-from` (the
`--plugin-type` form resolves the parent in the project: no Hub, works offline).

Then the guide's "DuckDB, the models and a daily schedule" lines as written (bash, in the
project, `../tap-clevertap-counts` a copy of this checkout): target-duckdb and dbt-duckdb added
from meltano-hub/, a dbt project of the user's with this repo's package (`local:`), `meltano
install` (the only one), a job and its schedule; after the runs below, the schedule run and the
chart.

One module fixture does the Meltano work once (init, add, install, config list, select, config
test, two `meltano run`s, the schedule, the chart); the tests below each check one part of what
it saw:
- run 1 (both extractors, Meltano's default selection `*.*`): exact rows, profile_counts only;
- run 2 (a week later, `count_events` set): profile_counts only for the new periods, and every
  event_counts period from the start (its own bookmarks);
- the schedule run: the model's daily active users are the emulator's counts, and the chart
  reads them from the schema dbt's run results name for the model.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, EmulatorConfig
from tests.dist import copy_checkout, make_dist
from tests.e2e.helpers import REPO, TAP, Project, periods
from tests.e2e.own_project_recipe import MODEL, model_rows, recipe_blocks, run_block
from tests.e2e.test_dbt import png_text

DEFINITION = REPO / "meltano-hub" / "tap-clevertap-counts.yml"
OTHER = "tap-clevertap-other"  # the second account's extractor, inheriting from the tap
OTHER_ACCOUNT = "DEMO-000-0042"
START = datetime.date(2025, 1, 1)
TODAY1, TODAY2 = datetime.date(2025, 1, 20), datetime.date(2025, 1, 27)
QUERIES: list[dict[str, Any]] = [
    {
        "name": "pizza_daily",
        "event_name": "choseNewFavoriteFood",
        "event_properties": [{"name": "value", "operator": "contains", "value": "piz"}],
    },
    {"name": "launches_weekly", "event_name": "App Launched", "granularity": "week"},
]
Key = tuple[str, str, str, str]  # (account, query, from, to)


@dataclasses.dataclass
class Seen:
    """What the user's project showed and loaded."""

    added: dict[str, Any]  # the tap's entry in meltano.yml right after `meltano add`
    config_list: str
    select_list: str
    config_test: str
    records: list[dict[str, list[dict[str, Any]]]]  # per run: stream -> records loaded
    asked: list[list[tuple[str, str]]]  # per run: (path, account) of every submit
    truth: dict[str, dict[Key, int]]  # stream -> every owed key -> the emulator's count
    seconds: float
    chart: str  # what the guide's chart line printed
    chart_png: Path
    dbt_relation: str  # dbt's run_results.json: where it wrote the model
    model: dict[tuple[str, str, str], int | None]  # (account, event, day) -> dau, per the model


def stream_records(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        path.stem: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for path in sorted(out.glob("*.jsonl"))
    }


def owed(account: str, end: datetime.date) -> list[Key]:
    return [
        (account, q["name"], a.isoformat(), b.isoformat())
        for q in QUERIES
        for a, b in periods(q.get("granularity", "day"), START, end)
    ]


def count_of(emulator: Emulator, stream: str, key: Key) -> int:
    (query,) = [q for q in QUERIES if q["name"] == key[1]]
    counter = (
        emulator.store.count_profiles if stream == "profile_counts" else emulator.store.count_events
    )
    return counter(
        query["event_name"],
        query.get("event_properties", []),
        datetime.date.fromisoformat(key[2]),
        datetime.date.fromisoformat(key[3]),
    )


def set_up(root: Path, wheel: Path) -> Project:
    """init, add from the definition file, point pip_url at the wheel, add a loader, an
    account extractor and the queries: the recipe of docs/own-meltano-project.md."""
    Project(root.parent).meltano("init", root.name, "--no-usage-stats")
    project = Project(root)
    project.meltano(
        "add", "--plugin-type", "extractor", TAP, "--from-ref", str(DEFINITION), "--no-install"
    )
    project.meltano(
        "add", "--plugin-type", "extractor", OTHER, "--inherit-from", TAP, "--no-install"
    )
    data = project.load_yml()
    (tap,) = [p for p in data["plugins"]["extractors"] if p["name"] == TAP]
    tap["pip_url"] = str(wheel)
    tap["config"] = {"start_date": START.isoformat(), "queries": QUERIES}
    data["plugins"]["loaders"] = [
        {
            "name": "target-jsonl",
            "namespace": "target_jsonl",
            "pip_url": "target-jsonl==0.1.4 "
            f"--constraint={REPO / 'constraints' / 'target-jsonl.txt'}",
            "executable": "target-jsonl",
            "settings": [{"name": "destination_path"}, {"name": "do_timestamp_file"}],
            "config": {"destination_path": "output", "do_timestamp_file": False},
        }
    ]
    project.save_yml(data)
    return project


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Seen:
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("outside")
    clone = copy_checkout(tmp_path_factory.mktemp("clone"))
    _, built = make_dist(clone)
    wheel = Path(shutil.copy2(built, tmp))  # a file the user downloaded
    project = set_up(tmp / "analytics", wheel)
    (added,) = [p for p in project.load_yml()["plugins"]["extractors"] if p["name"] == TAP]
    marks = {"build and add": time.monotonic() - started}
    # The guide's checkout beside the project: the copy `make dist` built from, with the chart's
    # venv (`make chart-venv`, once per checkout) linked in.
    subprocess.run(["make", "-s", "chart-venv"], cwd=REPO, check=True, capture_output=True)
    checkout = tmp / "tap-clevertap-counts"
    checkout.symlink_to(clone)
    (clone / ".venv-chart").symlink_to(REPO / ".venv-chart")
    set_up_block, run_and_chart = recipe_blocks()
    run_block(project, set_up_block, {})  # ... meltano install: the project's only install
    marks["install"] = time.monotonic() - started

    ours = Emulator(EmulatorConfig(today=TODAY1, job_seconds=0.01, partial_share=0.5))
    theirs = Emulator(
        EmulatorConfig(account_id=OTHER_ACCOUNT, today=TODAY1, job_seconds=0.01, partial_share=0.5)
    )
    ours.start()
    theirs.start()
    try:
        env = {
            "TAP_CLEVERTAP_COUNTS_ACCOUNT_ID": DEMO_ACCOUNT_ID,
            "TAP_CLEVERTAP_COUNTS_PASSCODE": DEMO_PASSCODE,
            "TAP_CLEVERTAP_COUNTS_API_URL": ours.url,
            "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",  # the number setting
            "TAP_CLEVERTAP_COUNTS_END_DATE": (TODAY1 - datetime.timedelta(days=1)).isoformat(),
            # the other account: its own id and URL; the passcode falls back to the parent's
            "TAP_CLEVERTAP_OTHER_ACCOUNT_ID": OTHER_ACCOUNT,
            "TAP_CLEVERTAP_OTHER_API_URL": theirs.url,
        }
        config_list = project.meltano("config", "list", "--all", TAP, env=env).stdout
        select_list = project.meltano("select", TAP, "--list", "--all", env=env).stdout
        tested = project.meltano("config", "test", TAP, env=env)
        marks["config list, select, test"] = time.monotonic() - started
        ours.clear_log()

        out = project.root / "output"
        records, asked = [], []
        for today, extra, blocks in (
            (TODAY1, {}, (TAP, "target-jsonl", OTHER, "target-jsonl")),
            (
                TODAY2,
                {
                    "TAP_CLEVERTAP_COUNTS_COUNT_EVENTS": "true",
                    "TAP_CLEVERTAP_COUNTS_END_DATE": (
                        TODAY2 - datetime.timedelta(days=1)
                    ).isoformat(),
                },
                (TAP, "target-jsonl"),
            ),
        ):
            ours.set_today(today)
            theirs.set_today(today)
            shutil.rmtree(out, ignore_errors=True)
            project.meltano("run", *blocks, env={**env, **extra})
            records.append(stream_records(out))
            asked.append(
                [
                    (r["path"], account)
                    for emulator, account in ((ours, DEMO_ACCOUNT_ID), (theirs, OTHER_ACCOUNT))
                    for r in emulator.requests()
                    if r.get("kind") == "submit"
                ]
            )
            ours.clear_log()
            theirs.clear_log()
            marks[f"run {len(records)}"] = time.monotonic() - started
        # The schedule's job (tap, target-duckdb, dbt deps and run) and the chart, as written.
        chart = run_block(project, run_and_chart, {**env, **extra})
        marks["schedule and chart"] = time.monotonic() - started
        print(f"outside project, seconds since start: {marks}")
        results = project.root / ".meltano" / "utilities" / "dbt-duckdb" / "target"
        relations = {
            r["unique_id"].rsplit(".", 1)[1]: r["relation_name"]
            for r in json.loads((results / "run_results.json").read_text())["results"]
        }
        model = model_rows(project.root / "warehouse" / "dev.duckdb")
        end = TODAY2 - datetime.timedelta(days=1)
        truth = {
            stream: {
                key: count_of(ours if key[0] == DEMO_ACCOUNT_ID else theirs, stream, key)
                for account in (DEMO_ACCOUNT_ID, OTHER_ACCOUNT)
                for key in owed(account, end)
            }
            for stream in ("profile_counts", "event_counts")
        }
    finally:
        ours.stop()
        theirs.stop()
    return Seen(
        added,
        config_list,
        select_list,
        tested.stdout + tested.stderr,
        records,
        asked,
        truth,
        time.monotonic() - started,
        chart,
        project.root / "output" / "active_users.png",
        relations[MODEL],
        model,
    )


def keyed(records: list[dict[str, Any]]) -> dict[Key, int]:
    found = {
        (r["account_id"], r["query_name"], r["from_date"], r["to_date"]): r["count"]
        for r in records
    }
    assert len(found) == len(records), "a (account, query, period) twice"
    return found


def test_the_definition_file_adds_the_tap_with_its_settings(seen: Seen) -> None:
    assert seen.added["executable"] == TAP
    assert seen.added["namespace"] == "tap_clevertap_counts"
    names = {s["name"] for s in seen.added["settings"]}
    assert {"account_id", "passcode", "count_events", "poll_interval_seconds"} <= names
    print(f"outside project: wheel, init, add, install, 2 runs: {seen.seconds:.0f} s")


def test_config_list_shows_defaults_and_hides_the_passcode(seen: Seen) -> None:
    out = seen.config_list
    assert DEMO_PASSCODE not in out
    passcode_lines = [line for line in out.splitlines() if line.startswith("passcode")]
    assert passcode_lines and "redacted" in passcode_lines[0], passcode_lines
    for name, default in (("region", "eu1"), ("timezone", "UTC"), ("count_events", "False")):
        (line,) = [x for x in out.splitlines() if x.startswith(f"{name} ")]
        assert default.lower() in line.lower(), line
    (poll,) = [x for x in out.splitlines() if x.startswith("poll_interval_seconds ")]
    assert "0.01" in poll and "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS" in poll, poll


def test_meltano_selects_every_stream_and_config_test_passes(seen: Seen) -> None:
    """The premise of count_events: `*.*` selects event_counts in such a project."""
    for stream in ("event_counts", "profile_counts"):
        assert re.search(rf"\[selected\s*\] {stream}\.count", seen.select_list), seen.select_list
    assert "Plugin configuration is valid" in seen.config_test, seen.config_test[-2000:]


def test_first_run_loads_exact_profile_counts_of_both_accounts_only(seen: Seen) -> None:
    first = seen.records[0]
    assert set(first) == {"profile_counts"}, "event_counts without count_events"
    end = (TODAY1 - datetime.timedelta(days=1)).isoformat()
    truth = {k: c for k, c in seen.truth["profile_counts"].items() if k[3] <= end}
    assert keyed(first["profile_counts"]) == truth
    assert {account for _, account in seen.asked[0]} == {DEMO_ACCOUNT_ID, OTHER_ACCOUNT}
    assert {path for path, _ in seen.asked[0]} == {"/1/counts/profiles.json"}
    assert len(seen.asked[0]) == len(truth), "each period asked for once"


def test_second_run_is_incremental_and_counts_events_once_opted_in(seen: Seen) -> None:
    second = seen.records[1]
    end1 = (TODAY1 - datetime.timedelta(days=1)).isoformat()
    ours = DEMO_ACCOUNT_ID
    new_profiles = {
        k: c for k, c in seen.truth["profile_counts"].items() if k[0] == ours and k[3] > end1
    }
    assert new_profiles, "a week later there are new days and a new week"
    assert keyed(second["profile_counts"]) == new_profiles
    events = {k: c for k, c in seen.truth["event_counts"].items() if k[0] == ours}
    assert keyed(second["event_counts"]) == events  # from the start: its own bookmarks
    asked = [path for path, _ in seen.asked[1]]
    assert asked.count("/1/counts/profiles.json") == len(new_profiles)
    assert asked.count("/1/counts/events.json") == len(events)


def test_the_schedule_builds_the_models_and_the_chart_reads_the_schema_dbt_wrote_to(
    seen: Seen,
) -> None:
    # Where dbt says it wrote the model: the profile's schema and the project's +schema.
    database, schema, table = (part.strip('"') for part in seen.dbt_relation.split("."))
    assert (database, schema, table) == ("dev", "analytics_clevertap", MODEL)
    assert f"from {schema}.{MODEL}: {DEMO_ACCOUNT_ID} (" in seen.chart, seen.chart
    assert png_text(seen.chart_png)["rows-sha256"]
    # The model's daily active users (the filtered daily query) are the emulator's counts, for
    # every day up to the schedule run's end; no other account is in this job.
    (pizza,) = [q for q in QUERIES if q.get("granularity", "day") == "day"]
    end = TODAY2 - datetime.timedelta(days=1)
    days = [a.isoformat() for a, _ in periods("day", START, end)]
    owed = {
        (DEMO_ACCOUNT_ID, pizza["event_name"], d): seen.truth["profile_counts"][
            (DEMO_ACCOUNT_ID, pizza["name"], d, d)
        ]
        for d in days
    }
    assert {k: v for k, v in seen.model.items() if k[1] == pizza["event_name"]} == owed
    assert f"{DEMO_ACCOUNT_ID} ({len(days)} days)" in seen.chart
