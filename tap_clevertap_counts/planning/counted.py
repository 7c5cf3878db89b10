"""Which days of a query have been counted: the state's `counted` ranges, beside its bookmark.

A bookmark alone says "everything up to this day", which stops being true when a `start_date`
moves back: the days before the old start were never counted, and a bookmark cannot say so.
Each query's state therefore keeps the day ranges its emitted periods cover (a period is
counted when it lies whole inside one range), so a run owes the periods no range covers, and
Trends (which only counts days never counted before) knows a re-count when it sees one.

The bookmark stays the authority at the top end, as users edit it by hand: the last range is
taken to end at the bookmark (a bookmark moved back re-counts, one moved forward skips), and
a state without ranges (written by 0.1.0 or 0.2.0 before ranges) is taken as counted from the
query's `start_date` through its bookmark, so an upgrade counts nothing again.
"""

from __future__ import annotations

import datetime
from typing import Any

from tap_clevertap_counts.config.periods import Period, rolling_days

COUNTED_KEY = "counted"
Range = tuple[datetime.date, datetime.date]
_DAY = datetime.timedelta(days=1)


def period_ending(granularity: str, to_date: datetime.date) -> Period:
    """The whole period of `granularity` that ends on `to_date` (periods are keyed by it)."""
    if granularity == "week":
        return to_date - 6 * _DAY, to_date
    if granularity == "month":
        return to_date.replace(day=1), to_date
    days = rolling_days(granularity)
    if days is not None:
        return to_date - (days - 1) * _DAY, to_date
    return to_date, to_date


def covers(ranges: list[Range], period: Period) -> bool:
    return any(first <= period[0] and period[1] <= last for first, last in ranges)


def add(ranges: list[Range], period: Period) -> list[Range]:
    """`ranges` with `period`'s days, overlapping or touching ranges merged, in order."""
    out: list[Range] = []
    for first, last in sorted([*ranges, period]):
        if out and first <= out[-1][1] + _DAY:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def read(
    state: dict[str, Any], start: datetime.date, bookmark: datetime.date
) -> tuple[list[Range], bool]:
    """The ranges counted up to `bookmark`, and whether the state's own ranges were unreadable.

    Ranges after the bookmark are dropped and the last one made to end on it; with none
    stored (or none starting by the bookmark), [start, bookmark].
    """
    raw = state.get(COUNTED_KEY)
    ranges = _parse(raw) if raw is not None else []
    broken = ranges is None
    kept = [(first, min(last, bookmark)) for first, last in ranges or [] if first <= bookmark]
    if not kept:
        return [(min(start, bookmark), bookmark)], broken
    kept[-1] = (kept[-1][0], bookmark)
    return kept, broken


def ever(state: dict[str, Any], ranges: list[Range]) -> list[Range]:
    """`ranges` and every range the state stores, even past a bookmark moved back by hand:
    days ever counted, which a re-count through Trends must not touch."""
    out = list(ranges)
    for period in _parse(state.get(COUNTED_KEY)) or []:
        out = add(out, period)
    return out


def _parse(raw: Any) -> list[Range] | None:
    if not isinstance(raw, list):
        return None
    out: list[Range] = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 2:
            return None
        if not all(isinstance(day, str) for day in item):
            return None
        try:
            first, last = (datetime.date.fromisoformat(d) for d in item)
        except ValueError:
            return None
        if first > last:
            return None
        out = add(out, (first, last))
    return out


def to_state(ranges: list[Range]) -> list[list[str]]:
    return [[first.isoformat(), last.isoformat()] for first, last in ranges]
