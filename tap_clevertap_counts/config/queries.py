"""The `queries` config: what each query counts, and its identity across runs.

A query's `name` is its id in records and state. Its fingerprint covers what the counts mean
(event, filters, granularity): when that changes, the old bookmark describes other numbers, so
the query starts again from its start date while the other queries keep their bookmarks.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .periods import GRANULARITIES, ROLLING_MAX_DAYS, ROLLING_MIN_DAYS, is_granularity
from .values import as_date

# CleverTap's query language (clevertap-api-notes.md); there is no `between`.
OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "does_not_contain",
    "exists",
    "does_not_exist",
    "greater_than",
    "greater_than_equals",
    "less_than",
    "less_than_equals",
)
VALUELESS_OPERATORS = ("exists", "does_not_exist")
QUERY_KEYS = frozenset({"name", "event_name", "event_properties", "granularity", "start_date"})
FILTER_KEYS = frozenset({"name", "operator", "value"})
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_PRIMITIVES = (str, int, float, bool)


@dataclass(frozen=True)
class QuerySpec:
    """One configured event query."""

    name: str
    event_name: str
    event_properties: tuple[dict[str, Any], ...]
    granularity: str
    start_date: datetime.date

    @property
    def fingerprint(self) -> str:
        definition = {
            "event_name": self.event_name,
            "event_properties": list(self.event_properties),
            "granularity": self.granularity,
        }
        canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def plain(value: Any) -> Any:
    """JSON values as `json.dumps` takes them: the SDK reads config numbers as `Decimal`."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def _check_filter(where: str, item: Any, problems: list[str]) -> None:
    if not isinstance(item, dict):
        problems.append(f"{where} must be an object with name, operator and value")
        return
    extra = sorted(set(item) - FILTER_KEYS)
    if extra:
        problems.append(f"{where} has unknown key(s) {', '.join(map(repr, extra))}")
    if not isinstance(item.get("name"), str) or not item["name"]:
        problems.append(f"{where}.name must be the event property's name")
    operator = item.get("operator")
    if operator not in OPERATORS:
        problems.append(f"{where}.operator must be one of {', '.join(OPERATORS)}, got {operator!r}")
    if "value" not in item:
        if operator not in VALUELESS_OPERATORS:
            problems.append(f"{where}.value is missing")
        return
    value = item["value"]
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, _PRIMITIVES) for v in values):
        problems.append(
            f"{where}.value must be a string, number or boolean, or a non-empty list of them"
        )


def _parse_one(
    index: int, raw: Any, default_start: datetime.date | None, problems: list[str]
) -> QuerySpec | None:
    where = f"queries[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be an object with at least name and event_name")
        return None
    extra = sorted(set(raw) - QUERY_KEYS)
    if extra:
        problems.append(
            f"{where} has unknown key(s) {', '.join(map(repr, extra))}; a query takes "
            f"{', '.join(sorted(QUERY_KEYS))}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(f"{where}.name must use only letters, digits, _ and -, got {name!r}")
        name = None
    event_name = raw.get("event_name")
    if not isinstance(event_name, str) or not event_name.strip():
        problems.append(f"{where}.event_name must be the CleverTap event's name")
    filters = plain(raw.get("event_properties", []))
    if not isinstance(filters, list):
        problems.append(f"{where}.event_properties must be a list of filters")
        filters = []
    for position, item in enumerate(filters):
        _check_filter(f"{where}.event_properties[{position}]", item, problems)
    granularity = raw.get("granularity", "day")
    if not is_granularity(granularity):
        problems.append(
            f"{where}.granularity must be one of {', '.join(GRANULARITIES)} or rolling_<N>d "
            f"with N from {ROLLING_MIN_DAYS} to {ROLLING_MAX_DAYS} (rolling_7d: for each day, "
            f"the 7 days ending on it), got {granularity!r}"
        )
    start = as_date(raw.get("start_date"), f"{where}.start_date", problems) or default_start
    if name is None or start is None or not isinstance(event_name, str):
        return None
    return QuerySpec(
        name=name,
        event_name=event_name,
        event_properties=tuple(filters),
        granularity=granularity,
        start_date=start,
    )


def parse_queries(
    raw: Any, default_start: datetime.date | None, problems: list[str]
) -> tuple[QuerySpec, ...]:
    if isinstance(raw, str):  # Meltano may pass an array setting as its JSON text
        with contextlib.suppress(ValueError):
            raw = json.loads(raw)
    if not isinstance(raw, list) or not raw:
        problems.append(
            "queries must be a non-empty list of queries, each with name and event_name"
        )
        return ()
    specs = [_parse_one(index, item, default_start, problems) for index, item in enumerate(raw)]
    names = [spec.name for spec in specs if spec is not None]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"query names must be unique: {', '.join(duplicates)} used twice or more")
    return tuple(spec for spec in specs if spec is not None)
