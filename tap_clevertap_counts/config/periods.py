"""The periods a query is counted over, and which of them a run must (re)count.

Periods are aligned to the calendar, never to the start date: a day, an ISO week (Monday to
Sunday), a calendar month, or a rolling window of N days ending on each day (`rolling_7d` is
"weekly actives as of D": distinct counts over a window cannot be added up from days, so only
CleverTap can count them). Only whole periods inside [start, end] are counted, so a count is
never of a partial week, month or window, and the same period always has the same dates (the
record's primary key) whatever the start date or the run.

A period ending "today" is provisional (`today.py`).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

Period = tuple[datetime.date, datetime.date]
GRANULARITIES = ("day", "week", "month")
ROLLING_MIN_DAYS, ROLLING_MAX_DAYS = 2, 366
GRANULARITY_PATTERN = r"^(day|week|month|rolling_[0-9]+d)$"
_ROLLING = re.compile(r"rolling_([1-9][0-9]{0,2})d")
_DAY = datetime.timedelta(days=1)


def rolling_days(granularity: object) -> int | None:
    """N of a valid `rolling_<N>d` granularity (2 to 366), else None."""
    match = _ROLLING.fullmatch(granularity) if isinstance(granularity, str) else None
    if match is None:
        return None
    days = int(match.group(1))
    return days if ROLLING_MIN_DAYS <= days <= ROLLING_MAX_DAYS else None


def is_granularity(value: object) -> bool:
    return value in GRANULARITIES or rolling_days(value) is not None


def _next_month(day: datetime.date) -> datetime.date:
    """The first day of the month after `day`'s month."""
    return (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)


def iter_periods(granularity: str, start: datetime.date, end: datetime.date) -> Iterator[Period]:
    """Whole periods of `granularity` inside [start, end], in ascending order."""
    if granularity == "day":
        day = start
        while day <= end:
            yield day, day
            day += _DAY
    elif granularity == "week":
        monday = start + datetime.timedelta(days=(7 - start.weekday()) % 7)
        while monday + 6 * _DAY <= end:
            yield monday, monday + 6 * _DAY
            monday += 7 * _DAY
    elif granularity == "month":
        first = start if start.day == 1 else _next_month(start)
        while (last := _next_month(first) - _DAY) <= end:
            yield first, last
            first = last + _DAY
    elif (days := rolling_days(granularity)) is not None:
        last = start + (days - 1) * _DAY  # the first whole window ends here
        while last <= end:
            yield last - (days - 1) * _DAY, last
            last += _DAY
    else:
        msg = f"unknown granularity {granularity!r}"
        raise ValueError(msg)


def periods_to_count(
    granularity: str,
    start: datetime.date,
    end: datetime.date,
    bookmark: datetime.date | None,
    lookback_days: int,
) -> list[Period]:
    """The periods this run counts: all of them, or those after the bookmark minus lookback.

    With a bookmark (the last `to_date` emitted), a period is counted again when it contains
    one of the `lookback_days` days up to and including the bookmark: lookback 2 on days
    re-counts exactly the last 2 days; on weeks, the last week, and the one before only when
    the lookback reaches into it. Rolling windows are keyed by their last day, as days are:
    lookback 2 re-counts the 2 windows ending on the last 2 days.
    """
    periods = iter_periods(granularity, start, end)
    if bookmark is None:
        return list(periods)
    threshold = bookmark - datetime.timedelta(days=lookback_days)
    return [period for period in periods if period[1] > threshold]
