"""Validating a count query and matching event properties against its filters.

The operator set and its semantics follow clevertap-api-notes.md. Where CleverTap's docs are
silent, the choice made here is documented in emulator/README.md; the negative operators
(`not_equals`, `does_not_contain`) need the property to be present, so `equals`, `not_equals` and
`does_not_exist` split a day's events into three disjoint parts.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from typing import Any

from tap_clevertap_counts.emulator import messages as m
from tap_clevertap_counts.emulator.data import NUMBER, STRING, PropertyValue

STRING_OPERATORS = frozenset(
    {"equals", "not_equals", "contains", "does_not_contain", "exists", "does_not_exist"}
)
NUMBER_OPERATORS = frozenset(
    {"equals", "greater_than", "greater_than_equals", "less_than", "less_than_equals"}
)
ALL_OPERATORS = STRING_OPERATORS | NUMBER_OPERATORS
_VALUELESS = frozenset({"exists", "does_not_exist"})
_POSITIVE = {"not_equals": "equals", "does_not_contain": "contains"}
_NEGATIVE = frozenset(_POSITIVE)
_FILTER_KEYS = frozenset({"name", "operator", "value"})
_QUERY_KEYS = frozenset({"event_name", "event_properties", "from", "to"})


@dataclasses.dataclass(frozen=True)
class Filter:
    """One checked `event_properties` element with its values already in comparable form."""

    name: str
    operator: str
    kind: str
    values: tuple[str | float, ...]

    def matches(self, value: PropertyValue | None) -> bool:
        """Whether one event's value of this property passes; a list of values is an OR."""
        op = self.operator
        if op in _VALUELESS:
            return (value is not None) == (op == "exists")
        if value is None:
            return False
        if self.kind == NUMBER:
            number = float(value) if not isinstance(value, str) else math.nan
            return any(_compare_number(op, number, float(v)) for v in self.values)
        text = str(value)
        hits = any(_compare_string(_POSITIVE.get(op, op), text, str(v)) for v in self.values)
        return not hits if op in _NEGATIVE else hits


@dataclasses.dataclass(frozen=True)
class Query:
    """A body that passed validation."""

    event_name: str
    filters: tuple[Filter, ...]
    event_properties: list[Any]
    from_date: datetime.date
    to_date: datetime.date


def _compare_number(op: str, left: float, right: float) -> bool:
    if op == "equals":
        return left == right
    if op == "greater_than":
        return left > right
    if op == "greater_than_equals":
        return left >= right
    if op == "less_than":
        return left < right
    return left <= right  # less_than_equals: the only numeric operator left


def _compare_string(op: str, left: str, right: str) -> bool:
    if op == "equals":
        return left == right
    return right in left  # contains


def _is_primitive(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def _as_string(value: object) -> str:
    """CleverTap compares booleans as the strings "True"/"False"."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _values(raw: object, kind: str) -> tuple[str | float, ...] | None:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(_is_primitive(item) for item in items):
        return None
    if kind == STRING:
        return tuple(_as_string(item) for item in items)
    numbers = [_as_number(item) for item in items]
    if any(number is None for number in numbers):
        return None
    return tuple(number for number in numbers if number is not None)


class Rejected(ValueError):
    """A query CleverTap would refuse; `error` is the verbatim words of its 400 answer."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _require(condition: bool, error: str) -> None:
    if not condition:
        raise Rejected(error)


def parse_filter(raw: object, properties: dict[str, str] | None) -> Filter:
    """One checked filter; `properties` is None for an event the account has never seen."""
    _require(isinstance(raw, dict), m.ERR_INVALID_PROPERTIES)
    assert isinstance(raw, dict)
    _require(not set(raw) - _FILTER_KEYS, m.ERR_UNKNOWN_FILTER_KEY)
    name = raw.get("name")
    _require(isinstance(name, str) and bool(name), m.ERR_MISSING_PROPERTY_NAME)
    assert isinstance(name, str)
    _require(properties is None or name in properties, m.ERR_UNKNOWN_PROPERTY)
    operator = raw.get("operator")
    _require(operator is not None, m.ERR_MISSING_OPERATOR)
    _require(isinstance(operator, str) and operator in ALL_OPERATORS, m.ERR_UNKNOWN_OPERATOR)
    assert isinstance(operator, str)
    if properties is not None:
        kind = properties[name]
    else:
        kind = STRING if operator in STRING_OPERATORS else NUMBER
    allowed = STRING_OPERATORS if kind == STRING else NUMBER_OPERATORS
    _require(operator in allowed, m.ERR_OPERATOR_TYPE)
    if operator in _VALUELESS:
        return Filter(name=name, operator=operator, kind=kind, values=())
    _require("value" in raw, m.ERR_MISSING_VALUE)
    values = _values(raw["value"], kind)
    _require(values is not None, m.ERR_INVALID_VALUE)
    assert values is not None
    return Filter(name=name, operator=operator, kind=kind, values=values)


def parse_filters(
    event_properties: object, properties: dict[str, str] | None
) -> tuple[Filter, ...]:
    """All filters of a query; absent or null `event_properties` means none."""
    if event_properties is None:
        return ()
    _require(isinstance(event_properties, list), m.ERR_INVALID_PROPERTIES)
    assert isinstance(event_properties, list)
    return tuple(parse_filter(raw, properties) for raw in event_properties)


def parse_date(raw: object) -> datetime.date | None:
    """CleverTap takes dates as YYYYMMDD integers; strings, floats and booleans are invalid."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None
    if not 10000101 <= raw <= 99991231:
        return None
    try:
        return datetime.date(raw // 10000, raw // 100 % 100, raw % 100)
    except ValueError:
        return None


def _date(body: dict[str, object], key: str, missing: str, invalid: str) -> datetime.date:
    _require(key in body, missing)
    day = parse_date(body[key])
    _require(day is not None, invalid)
    assert day is not None
    return day


def parse_query(body: object, today: datetime.date, events: dict[str, dict[str, str]]) -> Query:
    """A validated query; raises `Rejected` with the words of CleverTap's 400 answer."""
    _require(isinstance(body, dict), m.ERR_INVALID_PAYLOAD)
    assert isinstance(body, dict)
    _require(not set(body) - _QUERY_KEYS, m.ERR_UNKNOWN_PARAMETER)
    event_name = body.get("event_name")
    _require(event_name is not None and event_name != "", m.ERR_MISSING_EVENT_NAME)
    _require(isinstance(event_name, str) and bool(event_name.strip()), m.ERR_INVALID_EVENT_NAME)
    assert isinstance(event_name, str)
    from_date = _date(body, "from", m.ERR_MISSING_FROM, m.ERR_INVALID_FROM)
    to_date = _date(body, "to", m.ERR_MISSING_TO, m.ERR_INVALID_TO)
    _require(from_date <= to_date, m.ERR_FROM_AFTER_TO)
    _require(to_date <= today, m.ERR_TO_IN_FUTURE)
    raw_properties = body.get("event_properties")
    filters = parse_filters(raw_properties, events.get(event_name))
    return Query(
        event_name=event_name,
        filters=filters,
        event_properties=list(raw_properties or []),
        from_date=from_date,
        to_date=to_date,
    )
