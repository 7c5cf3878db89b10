"""An independent oracle of what a run must count, written from the contract, not the tap's code.

Periods are calendar-aligned and whole inside [start, end]: a day; an ISO week, Monday to
Sunday; a calendar month; `rolling_<N>d`: for each day D the N days ending on D, the first
window ending on start + N - 1. With a bookmark B (the last `to_date` emitted, fingerprint
matching) a period is owed when its to_date > B - lookback_days; a changed fingerprint (or no
bookmark) owes every period from the query's start. Bookmarks never move backwards.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

Date = datetime.date
Period = tuple[Date, Date]
ONE_DAY = datetime.timedelta(days=1)


def rolling_n(granularity: str) -> int | None:
    if granularity.startswith("rolling_") and granularity.endswith("d"):
        return int(granularity[len("rolling_") : -1])
    return None


def all_periods(granularity: str, start: Date, end: Date) -> list[Period]:
    """Every whole period of `granularity` inside [start, end], ascending."""
    out: list[Period] = []
    if granularity == "day":
        day = start
        while day <= end:
            out.append((day, day))
            day += ONE_DAY
    elif granularity == "week":
        monday = start + datetime.timedelta(days=(7 - start.weekday()) % 7)
        while monday + datetime.timedelta(days=6) <= end:
            out.append((monday, monday + datetime.timedelta(days=6)))
            monday += datetime.timedelta(days=7)
    elif granularity == "month":
        first = start if start.day == 1 else next_month(start)
        while True:
            last = next_month(first) - ONE_DAY
            if last > end:
                break
            out.append((first, last))
            first = next_month(first)
    else:
        n = rolling_n(granularity)
        assert n is not None, granularity
        day = start + datetime.timedelta(days=n - 1)
        while day <= end:
            out.append((day - datetime.timedelta(days=n - 1), day))
            day += ONE_DAY
    return out


def next_month(day: Date) -> Date:
    return Date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def owed(
    granularity: str, start: Date, end: Date, bookmark: Date | None, lookback_days: int
) -> list[Period]:
    """The periods a run must count for one query, given its (valid, matching) bookmark."""
    periods = all_periods(granularity, start, end)
    if bookmark is None:
        return periods
    floor = bookmark - datetime.timedelta(days=lookback_days)
    return [p for p in periods if p[1] > floor]


def final_bookmark(periods: list[Period], bookmark: Date | None) -> Date | None:
    """The bookmark after a run that emitted `periods`: the last to_date, never moving back."""
    last = periods[-1][1] if periods else None
    if last is None:
        return bookmark
    if bookmark is None:
        return last
    return max(last, bookmark)


def definition_key(event_name: str, event_properties: Any) -> str:
    """What identifies a query in a submit body: its event and filters."""
    return json.dumps([event_name, event_properties or []], sort_keys=True)


def ymd(value: int | str) -> Date:
    return datetime.datetime.strptime(str(value), "%Y%m%d").date()
