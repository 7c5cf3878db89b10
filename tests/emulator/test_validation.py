"""Query validation: CleverTap-style bracketed errors, returned verbatim with HTTP 400, from the
store's `validate` and over HTTP alike."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, EventStore
from tests.emulator.conftest import Client


def f(name: str, operator: Any, value: Any = None) -> dict[str, Any]:
    flt = {"name": name, "operator": operator}
    if value is not None:
        flt["value"] = value
    return flt


@pytest.mark.parametrize(
    ("event", "filters", "error"),
    [
        ("Charged", [f("flavour", "equals", "x")], "[unknown event property]"),
        ("Charged", [f("amount", "between", [1, 2])], "[unknown operator]"),
        ("Charged", [f("amount", 7, 1)], "[unknown operator]"),
        ("Charged", [{"name": "amount", "value": 1}], "[missing operator]"),
        ("Charged", [{"operator": "equals", "value": 1}], "[missing event property name]"),
        ("Charged", [f("amount", "equals")], "[missing event property value]"),
        (
            "Charged",
            [f("currency", "greater_than", "EUR")],
            "[operator not supported for property type]",
        ),
        ("Charged", [f("amount", "contains", "1")], "[operator not supported for property type]"),
        ("Charged", [f("amount", "exists")], "[operator not supported for property type]"),
        ("Charged", [f("amount", "equals", "many")], "[invalid event property value]"),
        ("Charged", [f("amount", "equals", True)], "[invalid event property value]"),
        ("Charged", [f("amount", "equals", [])], "[invalid event property value]"),
        ("Charged", [f("currency", "equals", {"a": 1})], "[invalid event property value]"),
        ("Charged", [f("currency", "equals", [["EUR"]])], "[invalid event property value]"),
        (
            "Charged",
            [{**f("currency", "equals", "EUR"), "extra": 1}],
            "[unknown event property filter key]",
        ),
        ("Charged", ["currency=EUR"], "[invalid event properties]"),
        ("Charged", {"name": "currency"}, "[invalid event properties]"),
        ("", [], "[missing event name]"),
    ],
)
def test_validation_errors(client: Client, event: str, filters: Any, error: str) -> None:
    assert EventStore().validate(event, filters) == error
    body = {"event_name": event, "event_properties": filters, "from": 20240101, "to": 20240102}
    response = client.submit(body)
    assert (response.status_code, response.json()) == (400, {"status": "fail", "error": error})


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"event_name": None}, "[missing event name]"),
        ({"event_name": 5}, "[invalid event name]"),
        ({"event_name": "  "}, "[invalid event name]"),
        ({"from": None}, "[invalid from date]"),
        ({"from": "20240101"}, "[invalid from date]"),
        ({"from": 20240101.0}, "[invalid from date]"),
        ({"from": True}, "[invalid from date]"),
        ({"from": 2024011}, "[invalid from date]"),
        ({"from": 20240230}, "[invalid from date]"),
        ({"from": 20241301}, "[invalid from date]"),
        ({"to": "2024-01-02"}, "[invalid to date]"),
        ({"to": 20240132}, "[invalid to date]"),
        ({"from": 20240105, "to": 20240104}, "[from date after to date]"),
        ({"to": 20240701}, "[to date in the future]"),
        ({"from": 20240701, "to": 20240702}, "[to date in the future]"),
        ({"unique": True}, "[unknown parameter]"),
        ({"event_properties": "value=pizza"}, "[invalid event properties]"),
    ],
)
def test_query_validation_errors(client: Client, changes: dict[str, Any], error: str) -> None:
    body: dict[str, Any] = {"event_name": "Charged", "from": 20240101, "to": 20240102, **changes}
    response = client.submit(body)
    assert (response.status_code, response.json()) == (400, {"status": "fail", "error": error})


@pytest.mark.parametrize("missing", ["event_name", "from", "to"])
def test_missing_pieces(client: Client, missing: str) -> None:
    body: dict[str, Any] = {"event_name": "Charged", "from": 20240101, "to": 20240102}
    del body[missing]
    words = {"event_name": "event name", "from": "from date", "to": "to date"}[missing]
    assert client.submit(body).json() == {"status": "fail", "error": f"[missing {words}]"}


def test_non_object_json_is_a_validation_error(client: Client) -> None:
    for body in (b"[]", b"5", b'"query"'):
        assert client.submit(body).json() == {"status": "fail", "error": "[invalid payload]"}


def test_today_is_allowed_and_moves_with_set_today(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(today=datetime.date(2024, 6, 30))
    client = Client(emu)
    body = {"event_name": "Charged", "from": 20240630, "to": 20240630}
    assert client.submit(body).json()["status"] == "success"
    assert client.submit({**body, "to": 20240701}).status_code == 400
    emu.set_today(datetime.date(2024, 7, 1))
    assert client.submit({**body, "to": 20240701}).json()["status"] == "success"


def test_null_event_properties_means_none(client: Client) -> None:
    body = {"event_name": "Charged", "event_properties": None, "from": 20240101, "to": 20240101}
    expected = EventStore(seed=42).count_profiles(
        "Charged", [], datetime.date(2024, 1, 1), datetime.date(2024, 1, 1)
    )
    assert client.submit(body).json() == {"status": "success", "count": expected}
