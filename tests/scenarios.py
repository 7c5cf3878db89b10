"""Randomized real-world scenarios (issue 9): how one is drawn, run and checked.

`make_scenario` draws a config, the emulator's "today" and a state from a seed;
`run_scenario` runs the tap on it against the in-process emulator and `check_scenario` holds
the run to tests/oracle.py and the emulator's ground truth. The tests that use them are in
test_scenarios.py.
"""

from __future__ import annotations

import datetime
import json
import random
import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig

from .conftest import TapRun, assert_exact, bookmarks, run_tap, tap_config
from .oracle import all_periods, definition_key, final_bookmark, owed, ymd

Date = datetime.date
DAY = datetime.timedelta(days=1)

# Distinct (event, filters) definitions: a submit maps back to its query by its body.
DEFINITIONS: list[tuple[str, list[dict[str, Any]]]] = [
    ("choseNewFavoriteFood", [{"name": "value", "operator": "contains", "value": "piz"}]),
    ("choseNewFavoriteFood", [{"name": "value", "operator": "equals", "value": "sushi"}]),
    ("App Launched", []),
    ("App Launched", [{"name": "platform", "operator": "equals", "value": "iOS"}]),
    ("App Launched", [{"name": "session_length", "operator": "greater_than", "value": 600}]),
    ("Product Viewed", [{"name": "category", "operator": "equals", "value": ["Books", "Toys"]}]),
    ("Product Viewed", [{"name": "price", "operator": "less_than", "value": 50}]),
    ("Charged", []),
    ("Charged", [{"name": "currency", "operator": "equals", "value": "USD"}]),
    ("Charged", [{"name": "is_first", "operator": "equals", "value": "True"}]),
    ("choseNewFavoriteFood", []),
    ("Product Viewed", []),
]
CALENDAR = ("day", "week", "month")
# "counted_to_dates": the calibration run's periods, not the scenario's; a state without them is
# taken as counted from the query's start through its bookmark, which is what the oracle assumes
PARTITION_KEYS = ("context", "replication_key", "replication_key_value", "counted_to_dates")


def query(index: int, granularity: str, start: Date | None = None) -> dict[str, Any]:
    event, filters = DEFINITIONS[index]
    spec: dict[str, Any] = {
        "name": f"q{index}",
        "event_name": event,
        "event_properties": filters,
        "granularity": granularity,
    }
    if start is not None:
        spec["start_date"] = start.isoformat()
    return spec


# --- fingerprints from real runs ------------------------------------------------------------

_EXTRAS: dict[tuple[int, str], dict[str, Any]] = {}
CALIBRATION_END = Date(2024, 3, 31)  # a Sunday and a month's last day


def calibration_start(granularity: str) -> Date:
    """A start from which exactly one whole period ends on CALIBRATION_END."""
    if granularity == "day":
        return CALIBRATION_END
    if granularity == "week":
        return CALIBRATION_END - 6 * DAY
    if granularity == "month":
        return CALIBRATION_END.replace(day=1)
    n = int(granularity[len("rolling_") : -1])
    return CALIBRATION_END - (n - 1) * DAY


def partition_extras(wanted: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    """What a real run writes in each query's partition beside context and bookmark (its
    fingerprint), for each (definition, granularity); one calibration run for the new ones."""
    missing = sorted({w for w in wanted if w not in _EXTRAS})
    # A name holds one granularity per run: calibrate in as many runs as needed.
    while missing:
        batch: dict[int, str] = {}
        rest = []
        for index, granularity in missing:
            if index in batch:
                rest.append((index, granularity))
            else:
                batch[index] = granularity
        with Emulator(EmulatorConfig(seed=1, partial_share=0.0, today=Date(2024, 12, 31))) as emu:
            queries = [query(i, g, calibration_start(g)) for i, g in batch.items()]
            config = tap_config(
                emu,
                start_date="2024-01-01",
                end_date=CALIBRATION_END.isoformat(),
                queries=queries,
            )
            run = run_tap(config)
        assert len(run.records) == len(batch), "calibration: one period per query"
        assert run.state is not None
        partitions = run.state["bookmarks"]["profile_counts"]["partitions"]
        for partition in partitions:
            index = int(partition["context"]["query_name"][1:])
            extras = {k: v for k, v in partition.items() if k not in PARTITION_KEYS}
            assert extras, "a partition carries the query's fingerprint beside its bookmark"
            _EXTRAS[(index, batch[index])] = extras
        missing = rest
    return {w: _EXTRAS[w] for w in wanted}


# --- scenarios ------------------------------------------------------------------------------


@dataclass
class Scenario:
    config_changes: dict[str, Any]
    queries: list[dict[str, Any]]
    starts: dict[str, Date]
    end: Date
    lookback: int
    emulator_today: Date | None
    state_plan: dict[str, tuple[str, Date | None, Any]] = field(default_factory=dict)
    # name -> (kind, bookmark value, fingerprint source: (index, granularity) | "garbage" | None)


def pick_granularity(rng: random.Random, rolling: bool) -> str:
    if rolling and rng.random() < 0.45:
        n = rng.choice([2, 3, 5, 7, 14, 28, 30, 31, rng.randint(2, 60), rng.randint(2, 366)])
        return f"rolling_{n}d"
    return rng.choice(CALENDAR)


ZONES = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata", "America/New_York"]
WINDOW_DAYS_BUDGET = 250
CALIBRATED_ROLLING_MAX = 40  # calibrating a fingerprint counts one window of N days


def day_load(granularity: str, start: Date, end: Date) -> int:
    if not granularity.startswith("rolling_"):
        return 0
    return sum((last - first).days + 1 for first, last in all_periods(granularity, start, end))


def make_scenario(seed: str, *, rolling: bool) -> Scenario:
    rng = random.Random(seed)
    no_end = rng.random() < 0.15
    zone = random.Random(f"{seed}|zone").choice(ZONES)
    if no_end:
        # yesterday in the account's time zone (the emulator's today is the real UTC date)
        end = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date() - DAY
        emulator_today = None
    else:
        end = Date(2023, 6, 1) + rng.randrange(500) * DAY
        emulator_today = end + rng.randrange(4) * DAY
    span = rng.choice([0, 1, 6, 13, 20, 30, 45, 62])
    tap_start = end - span * DAY
    lookback = rng.choice([0, 0, 0, 1, 2, 3, 7, 10, 31])
    indexes = rng.sample(range(len(DEFINITIONS)), rng.randint(1, 6))
    queries: list[dict[str, Any]] = []
    starts: dict[str, Date] = {}
    for index in indexes:
        granularity = pick_granularity(rng, rolling)
        own_start = None
        if rng.random() < 0.3:
            own_start = min(end, tap_start + rng.randint(-10, 30) * DAY)
        if day_load(granularity, own_start or tap_start, end) > WINDOW_DAYS_BUDGET:
            # a count over N days costs N days of events, in the emulator and in the check
            granularity = f"rolling_{rng.choice([2, 3, 7])}d"
        queries.append(query(index, granularity, own_start))
        starts[f"q{index}"] = own_start or tap_start
    scenario = Scenario(
        config_changes={
            "start_date": tap_start.isoformat(),
            "lookback_days": lookback,
            "max_concurrent_queries": rng.randint(1, 3),
        },
        queries=queries,
        starts=starts,
        end=end,
        lookback=lookback,
        emulator_today=emulator_today,
    )
    if no_end:
        scenario.config_changes["timezone"] = zone
    else:
        scenario.config_changes["end_date"] = end.isoformat()
    plan_state(rng, scenario)
    return scenario


def plan_state(rng: random.Random, scenario: Scenario) -> None:
    """Each query: no bookmark, a current or an old one, or one of another definition."""
    for spec in scenario.queries:
        name, granularity = spec["name"], spec["granularity"]
        start = scenario.starts[name]
        index = int(name[1:])
        periods = all_periods(granularity, start, scenario.end)
        roll = rng.random()
        big = granularity.startswith("rolling_") and int(granularity[8:-1]) > CALIBRATED_ROLLING_MAX
        if big and roll >= 0.25:
            roll = 0.9  # no real run's fingerprint for it: a changed definition's bookmark
        if roll < 0.25:
            continue  # no bookmark
        if roll < 0.45:
            mark = periods[-1][1] if periods else scenario.end  # current
            scenario.state_plan[name] = ("current", mark, (index, granularity))
        elif roll < 0.75:
            mark = (
                start + rng.randint(-5, max(0, (scenario.end - start).days)) * DAY
            )  # old, any day
            if periods and rng.random() < 0.5:
                mark = rng.choice(periods)[1]  # old, a period end as a real run writes
            scenario.state_plan[name] = ("old", mark, (index, granularity))
        else:
            mark = start + rng.randint(0, max(0, (scenario.end - start).days)) * DAY
            if rng.random() < 0.3:
                source: Any = "garbage"
            elif rng.random() < 0.5:
                source = (index, rng.choice([g for g in CALENDAR if g != granularity]))
            else:
                source = ((index + 1) % len(DEFINITIONS), "day" if big else granularity)
            scenario.state_plan[name] = ("changed", mark, source)


def build_state(scenario: Scenario) -> dict[str, Any] | None:
    if not scenario.state_plan:
        return None
    sources = [s for _, _, s in scenario.state_plan.values() if s != "garbage"]
    extras = partition_extras(sources)
    partitions = []
    for name, (_kind, mark, source) in scenario.state_plan.items():
        assert mark is not None
        partition: dict[str, Any] = {
            "context": {"query_name": name},
            "replication_key": "to_date",
            "replication_key_value": mark.isoformat(),
        }
        if source == "garbage":
            keys = partition_extras([(int(name[1:]), "day")])[(int(name[1:]), "day")]
            partition.update({key: "garbage-0000" for key in keys})
        else:
            partition.update(extras[source])
        partitions.append(partition)
    return {"bookmarks": {"profile_counts": {"partitions": partitions}}}


@dataclass
class Expected:
    periods: dict[str, list[tuple[Date, Date]]]
    marks: dict[str, Date | None]
    undetermined: set[str]  # a changed definition with nothing to count: either outcome


def expected_of(scenario: Scenario) -> Expected:
    periods: dict[str, list[tuple[Date, Date]]] = {}
    marks: dict[str, Date | None] = {}
    undetermined: set[str] = set()
    for spec in scenario.queries:
        name, granularity = spec["name"], spec["granularity"]
        kind, mark, _ = scenario.state_plan.get(name, ("none", None, None))
        start = scenario.starts[name]
        if kind in ("none", "changed"):
            periods[name] = owed(granularity, start, scenario.end, None, scenario.lookback)
            marks[name] = final_bookmark(periods[name], None)
            if kind == "changed" and not periods[name]:
                undetermined.add(name)
        else:
            periods[name] = owed(granularity, start, scenario.end, mark, scenario.lookback)
            marks[name] = final_bookmark(periods[name], mark)
    return Expected(periods, marks, undetermined)


def submits_by_query(
    emulator: Emulator, queries: list[dict[str, Any]]
) -> Counter[tuple[str, Date, Date]]:
    names = {definition_key(q["event_name"], q["event_properties"]): q["name"] for q in queries}
    asked: Counter[tuple[str, Date, Date]] = Counter()
    for entry in emulator.requests():
        if entry["kind"] != "submit":
            continue
        body = entry["body"]
        assert isinstance(body, dict), entry
        name = names[definition_key(body["event_name"], body.get("event_properties"))]
        asked[(name, ymd(body["from"]), ymd(body["to"]))] += 1
    return asked


def check_scenario(
    emulator: Emulator, scenario: Scenario, config: dict[str, Any], run: TapRun, *, faults: bool
) -> None:
    expected = expected_of(scenario)
    order = [
        (spec["name"], first.isoformat(), last.isoformat())
        for spec in scenario.queries
        for first, last in expected.periods[spec["name"]]
    ]
    # records: config order of queries, ascending to_date, each owed period exactly once
    assert run.periods() == order
    assert_exact(emulator, config, run)
    asked = submits_by_query(emulator, scenario.queries)
    owed_pairs = Counter(
        (name, first, last) for name, periods in expected.periods.items() for first, last in periods
    )
    if faults:
        assert set(asked) == set(owed_pairs), "asked for a period not owed, or missed one"
    else:
        extra, missing = asked - owed_pairs, owed_pairs - asked
        assert not extra and not missing, f"asked more: {extra}; never asked: {missing}"
    check_states_follow_records(scenario, run)
    final = bookmarks(run.state)
    for spec in scenario.queries:
        name = spec["name"]
        if name in expected.undetermined:
            continue
        mark = expected.marks[name]
        assert final.get(name) == (mark.isoformat() if mark else None), (name, final)


def check_states_follow_records(scenario: Scenario, run: TapRun) -> None:
    """Every STATE, in stream order: a query's bookmark is the one it was given, or a to_date
    already emitted (never a period whose record is not out); a valid one never moves back."""
    given = {name: mark.isoformat() for name, (_, mark, _) in scenario.state_plan.items() if mark}
    valid = {name for name, (kind, _, _) in scenario.state_plan.items() if kind != "changed"}
    emitted: dict[str, set[str]] = {spec["name"]: set() for spec in scenario.queries}
    seen: dict[str, str] = {}
    states = 0
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message.get("type") == "RECORD" and message.get("stream") == "profile_counts":
            record = message["record"]
            emitted[record["query_name"]].add(record["to_date"])
        elif message.get("type") == "STATE":
            states += 1
            for name, mark in bookmarks(message["value"]).items():
                if name not in emitted:
                    continue  # not a query of this config
                assert mark == given.get(name) or mark in emitted[name], (name, mark)
                if name in valid:
                    assert mark >= given.get(name, ""), f"{name}'s bookmark moved back"
                assert mark >= seen.get(name, "") or name not in valid, (name, mark)
                seen[name] = mark
    records = len(run.records)
    assert states >= 1, "a run ends with a STATE"
    # output linear in the work: not a STATE per record (one every so many records or seconds)
    if records >= 40:
        assert states <= records // 2 + 2, (states, records)


def run_scenario(
    make_emulator: Callable[..., Emulator], scenario: Scenario, *, faults: dict[str, float]
) -> None:
    state = build_state(scenario)
    rng = random.Random(repr(scenario.config_changes))
    emulator = make_emulator(
        seed=rng.randrange(1000),
        today=scenario.emulator_today,
        partial_share=rng.random(),
        job_seconds=rng.choice([0.0, 0.002, 0.01]),
        **faults,
    )
    config = tap_config(emulator, queries=scenario.queries, poll_interval_seconds=0.005)
    del config["end_date"]
    config.update(scenario.config_changes)
    run = run_tap(config, state=state)
    check_scenario(emulator, scenario, config, run, faults=bool(faults))
