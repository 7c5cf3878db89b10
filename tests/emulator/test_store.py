"""The ground truth: every operator against a brute-force count, distinct counting over ranges,
determinism per seed, and data for any date.

The brute force below is written from clevertap-api-notes.md, independently of the emulator's
matching code, and reads only the raw events `events_on` returns.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, EventStore
from tests.emulator.conftest import Client

DAYS = [datetime.date(2024, 3, 4) + datetime.timedelta(days=i) for i in range(3)]


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return "True" if value else "False"
    return value


def brute_matches(properties: dict[str, Any], flt: dict[str, Any], kind: str) -> bool:
    name, op = flt["name"], flt["operator"]
    present = name in properties
    if op == "exists":
        return present
    if op == "does_not_exist":
        return not present
    if not present:
        return False
    actual = properties[name]
    raw = flt["value"]
    wanted = [_norm(v) for v in (raw if isinstance(raw, list) else [raw])]
    if kind == "number":
        numbers = [float(v) for v in wanted]
        checks = {
            "equals": lambda a, b: a == b,
            "greater_than": lambda a, b: a > b,
            "greater_than_equals": lambda a, b: a >= b,
            "less_than": lambda a, b: a < b,
            "less_than_equals": lambda a, b: a <= b,
        }
        return any(checks[op](float(actual), b) for b in numbers)
    texts = [str(v) for v in wanted]
    if op == "equals":
        return actual in texts
    if op == "not_equals":
        return actual not in texts
    if op == "contains":
        return any(t in actual for t in texts)
    assert op == "does_not_contain"
    return not any(t in actual for t in texts)


def brute(store: EventStore, event: str, filters: list[dict[str, Any]]) -> tuple[int, int]:
    """(distinct profiles, occurrences) over DAYS, from raw events only."""
    kinds = store.EVENTS[event]
    profiles: set[int] = set()
    occurrences = 0
    for day in DAYS:
        for raw in store.events_on(day, event):
            properties = raw["properties"]
            assert isinstance(properties, dict)
            if all(brute_matches(properties, f, kinds[f["name"]]) for f in filters):
                profiles.add(raw["profile"])  # type: ignore[arg-type]
                occurrences += 1
    return len(profiles), occurrences


def f(name: str, operator: Any, value: Any = None) -> dict[str, Any]:
    flt = {"name": name, "operator": operator}
    if value is not None:
        flt["value"] = value
    return flt


CASES: list[tuple[str, list[dict[str, Any]]]] = [
    # strings
    ("choseNewFavoriteFood", [f("value", "equals", "pizza")]),
    ("choseNewFavoriteFood", [f("value", "equals", ["pizza", "sushi"])]),
    ("choseNewFavoriteFood", [f("value", "not_equals", "pizza")]),
    ("choseNewFavoriteFood", [f("value", "not_equals", ["pizza", "sushi", "pasta"])]),
    ("choseNewFavoriteFood", [f("value", "contains", "piz")]),
    ("choseNewFavoriteFood", [f("value", "contains", ["piz", "ram"])]),
    ("choseNewFavoriteFood", [f("value", "does_not_contain", "piz")]),
    ("choseNewFavoriteFood", [f("value", "does_not_contain", ["piz", "a"])]),
    ("choseNewFavoriteFood", [f("value", "exists")]),
    ("choseNewFavoriteFood", [f("value", "does_not_exist")]),
    ("App Launched", [f("platform", "exists"), f("platform", "not_equals", "Web")]),
    ("App Launched", [f("platform", "does_not_exist")]),
    ("Charged", [f("is_first", "equals", True)]),
    ("Charged", [f("is_first", "equals", "False")]),
    ("Charged", [f("currency", "equals", ["EUR", "GBP"]), f("is_first", "not_equals", True)]),
    # numbers
    ("App Launched", [f("session_length", "equals", 60)]),
    ("App Launched", [f("session_length", "equals", [60, 61, 62, 63, 64, 65])]),
    ("App Launched", [f("session_length", "greater_than", 900)]),
    ("App Launched", [f("session_length", "greater_than_equals", 900)]),
    ("App Launched", [f("session_length", "less_than", 100)]),
    ("App Launched", [f("session_length", "less_than_equals", 100)]),
    ("App Launched", [f("session_length", "less_than", [10, 20])]),
    ("Product Viewed", [f("price", "greater_than", 99.5), f("category", "equals", "Books")]),
    ("Product Viewed", [f("price", "less_than_equals", "50")]),
    ("Charged", [f("amount", "greater_than_equals", 500), f("amount", "less_than", 750)]),
]


@pytest.mark.parametrize(("event", "filters"), CASES)
def test_operator_matches_brute_force(event: str, filters: list[dict[str, Any]]) -> None:
    store = EventStore(seed=11)
    assert store.validate(event, filters) is None
    profiles, occurrences = brute(store, event, filters)
    assert store.count_profiles(event, filters, DAYS[0], DAYS[-1]) == profiles
    assert store.count_events(event, filters, DAYS[0], DAYS[-1]) == occurrences
    everyone, _ = brute(store, event, [])
    assert 0 < profiles < everyone, "the case should select some profiles but not all"


def test_equals_not_equals_does_not_exist_partition_the_events() -> None:
    store = EventStore(seed=3)
    _, total = brute(store, "App Launched", [])
    parts = [
        brute(store, "App Launched", [f("platform", "equals", "iOS")])[1],
        brute(store, "App Launched", [f("platform", "not_equals", "iOS")])[1],
        brute(store, "App Launched", [f("platform", "does_not_exist")])[1],
    ]
    assert sum(parts) == total
    assert all(part > 0 for part in parts)


def test_the_reference_query_matches_over_http(emu: Emulator, client: Client) -> None:
    filters = [{"name": "value", "operator": "contains", "value": "piz"}]
    body = {
        "event_name": "choseNewFavoriteFood",
        "event_properties": filters,
        "from": 20240304,
        "to": 20240306,
    }
    expected = brute(emu.store, "choseNewFavoriteFood", filters)[0]
    assert client.submit(body).json() == {"status": "success", "count": expected}


def test_a_week_is_distinct_not_the_sum_of_its_days() -> None:
    store = EventStore()
    monday = datetime.date(2024, 3, 4)
    for event in store.EVENTS:
        days = [
            store.count_profiles(
                event, [], monday + datetime.timedelta(d), monday + datetime.timedelta(d)
            )
            for d in range(7)
        ]
        week = store.count_profiles(event, [], monday, monday + datetime.timedelta(6))
        assert max(days) <= week < sum(days)
        assert week < 0.9 * sum(days), "profiles should clearly repeat across days"
        month = store.count_profiles(
            event, [], datetime.date(2024, 3, 1), datetime.date(2024, 3, 31)
        )
        assert week <= month < store.profiles, "a month should not reach every profile"


def test_day_sizes_and_property_types() -> None:
    store = EventStore()
    total = 0
    for event, properties in store.EVENTS.items():
        events = store.events_on(DAYS[0], event)
        total += len(events)
        for raw in events:
            assert 0 <= raw["profile"] < store.profiles  # type: ignore[operator]
            for name, value in raw["properties"].items():  # type: ignore[attr-defined]
                kind = properties[name]
                assert (
                    isinstance(value, str) if kind == "string" else isinstance(value, int | float)
                )
    assert 500 <= total <= 10_000
    assert {"choseNewFavoriteFood", "App Launched", "Product Viewed", "Charged"} <= set(
        store.EVENTS
    )
    assert store.EVENTS["Charged"] == {
        "amount": "number",
        "currency": "string",
        "is_first": "string",
    }


def test_same_seed_same_data_other_seed_other_data() -> None:
    def snapshot(seed: int) -> list[object]:
        store = EventStore(seed=seed)
        return [store.events_on(day, "Charged") for day in DAYS] + [
            store.count_profiles("App Launched", [], DAYS[0], DAYS[-1])
        ]

    assert snapshot(5) == snapshot(5)
    assert snapshot(5) != snapshot(6)


def test_days_are_independent_of_the_order_they_are_drawn() -> None:
    first, second = EventStore(seed=9), EventStore(seed=9)
    forward = [first.count_profiles("Charged", [], d, d) for d in DAYS]
    backward = [second.count_profiles("Charged", [], d, d) for d in reversed(DAYS)]
    assert forward == backward[::-1]


def test_any_date_works_and_memory_stays_bounded() -> None:
    store = EventStore()
    assert (
        store.count_profiles("Charged", [], datetime.date(1990, 1, 1), datetime.date(1990, 1, 1))
        > 0
    )
    assert (
        store.count_profiles(
            "Charged", [], datetime.date(2199, 12, 31), datetime.date(2199, 12, 31)
        )
        > 0
    )
    start = datetime.date(2000, 1, 1)
    store.count_events("Charged", [], start, start + datetime.timedelta(days=3000))
    assert len(store._cache) <= 1024


def test_unknown_event_counts_zero(client: Client) -> None:
    store = EventStore()
    assert store.count_profiles("Never Sent", [], DAYS[0], DAYS[-1]) == 0
    assert store.validate("Never Sent", [f("anything", "equals", "x")]) is None
    body = {"event_name": "Never Sent", "from": 20240101, "to": 20240131}
    assert client.submit(body).json() == {"status": "success", "count": 0}


def test_seed_change_at_runtime_replaces_the_store(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(seed=1)
    client = Client(emu)
    body = {"event_name": "App Launched", "from": 20240101, "to": 20240107}
    first = client.submit(body).json()["count"]
    emu.update(seed=2)
    assert emu.store.seed == 2
    second = client.submit(body).json()["count"]
    start, end = datetime.date(2024, 1, 1), datetime.date(2024, 1, 7)
    assert first == EventStore(seed=1).count_profiles("App Launched", [], start, end)
    assert second == EventStore(seed=2).count_profiles("App Launched", [], start, end)
    assert first != second
