"""CleverTap's Trends API (`/1/counts/trends.json`): a whole daily series in one job.

Only what the tap relies on is emulated: daily groups, `unique` (profiles) or not (events),
no `event_properties`, at most a year per request. Its daily numbers are the emulator's own
profile and event counts of each day, unless a switch says otherwise: `trends_disagree` makes
the unique series one higher than Get Profile Count (`trends_wrong_days`: on those days only),
`trends_off` makes the path unknown (404),
so the tap's check and fallback can be tested against a Trends that cannot be trusted.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from tap_clevertap_counts.emulator.query import Rejected, parse_date
from tap_clevertap_counts.emulator.store import EventStore, days_between

PATH = "/1/counts/trends.json"
MAX_DAYS = 366  # "at most a year": a leap year's 366 days pass, 367 do not
TREND_TYPES = ("daily", "weekly", "monthly")
_KEYS = frozenset({"event_name", "from", "to", "groups", "unique", "sum_event_prop"})

ERR_EVENT_PROPERTIES = "[event_properties not supported by trends]"
ERR_SPAN = "[date range over a year]"
ERR_GROUPS = "[missing or invalid groups]"
ERR_TREND_TYPE = "[only daily trends are emulated]"
ERR_UNIQUE = "[invalid unique]"


@dataclasses.dataclass(frozen=True)
class TrendsQuery:
    event_name: str
    from_date: datetime.date
    to_date: datetime.date
    unique: bool
    groups: tuple[str, ...]


def _require(condition: bool, error: str) -> None:
    if not condition:
        raise Rejected(error)


def parse_trends(body: object, today: datetime.date) -> TrendsQuery:
    """A validated Trends body; raises `Rejected` with the words of a 400 answer."""
    _require(isinstance(body, dict), "[invalid payload]")
    assert isinstance(body, dict)
    _require("event_properties" not in body, ERR_EVENT_PROPERTIES)
    _require(not set(body) - _KEYS, "[unknown parameter]")
    event_name = body.get("event_name")
    _require(isinstance(event_name, str) and bool(event_name.strip()), "[invalid event name]")
    assert isinstance(event_name, str)
    from_date, to_date = parse_date(body.get("from")), parse_date(body.get("to"))
    _require(from_date is not None, "[invalid from date]")
    _require(to_date is not None, "[invalid to date]")
    assert from_date is not None and to_date is not None
    _require(from_date <= to_date, "[from date after to date]")
    _require(to_date <= today, "[to date in the future]")
    _require((to_date - from_date).days + 1 <= MAX_DAYS, ERR_SPAN)
    unique = body.get("unique", False)
    _require(isinstance(unique, bool), ERR_UNIQUE)
    groups = body.get("groups")
    _require(isinstance(groups, dict) and bool(groups), ERR_GROUPS)
    assert isinstance(groups, dict)
    for key, group in groups.items():
        _require(key != "status" and isinstance(group, dict), ERR_GROUPS)
        trend_type = group.get("trend_type")
        _require(trend_type in TREND_TYPES, ERR_GROUPS)
        _require(trend_type == "daily", ERR_TREND_TYPE)
    return TrendsQuery(event_name, from_date, to_date, unique, tuple(groups))


def series(
    store: EventStore,
    query: TrendsQuery,
    *,
    disagree: bool,
    wrong_days: tuple[datetime.date, ...] = (),
) -> dict[str, Any]:
    """The success answer: one `{"YYYYMMDD": count}` object per group key."""
    daily: dict[str, int] = {}
    for day in days_between(query.from_date, query.to_date):
        count = store.count_filtered(query.unique, query.event_name, (), day, day)
        wrong = query.unique and (disagree or day in wrong_days)
        daily[day.strftime("%Y%m%d")] = count + (1 if wrong else 0)
    answer: dict[str, Any] = {"status": "success"}
    for key in query.groups:
        answer[key] = dict(daily)
    return answer
