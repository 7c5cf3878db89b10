"""Today, the one day not over in the account's time zone, and what it means for a run.

`end_date` may be today (the contract allows it), but today's counts still grow. A period ending
today is therefore provisional: it is emitted like any other, but no bookmark moves onto it
(`QueryState.advance`) and Trends never counts it (`running/trends_plan.py`), so the next run
counts it again through the query's own endpoint and an upserting target replaces the row. The
other way round, a config whose range holds no whole period at all would end quietly with no
record; it says why in one line instead.
"""

from __future__ import annotations

import datetime
import logging

from tap_clevertap_counts.config.periods import ROLLING_MAX_DAYS, Period, iter_periods, rolling_days
from tap_clevertap_counts.config.settings import Settings


def is_provisional(period: Period, today: datetime.date) -> bool:
    """Whether `period` includes a day not over yet (`today` in the account's time zone, or
    later): its count will still grow, so it must be counted again."""
    return period[1] >= today


_NAMES = {"day": "day", "week": "week (Monday to Sunday)", "month": "calendar month"}
_LONGEST = datetime.timedelta(days=ROLLING_MAX_DAYS + 31)  # any first whole period fits in it


def nothing_to_count(
    granularity: str,
    start: datetime.date,
    end: datetime.date,
    today: datetime.date,
    *,
    end_given: bool,
) -> str | None:
    """Why [start, end] holds no whole period, and what to change; None when it holds one.

    A config that counts nothing exits 0 with no record: without this sentence in the log, a
    user (or the SDK cookiecutter's sample config, whose start_date is today) cannot tell a
    mistake from a quiet day.
    """
    if next(iter_periods(granularity, start, end), None) is not None:
        return None
    days = rolling_days(granularity)
    name = f"{days}-day window" if days else _NAMES.get(granularity, granularity)
    until = f"end_date {end}" if end_given else f"end_date {end} (unset: yesterday)"
    if start > end:
        why = f"its start_date {start} is after {until}"
    else:
        first_end = next(iter_periods(granularity, start, start + _LONGEST))[1]
        why = f"the first whole {name} from start_date {start} ends on {first_end}, after {until}"
    latest = list(iter_periods(granularity, end - _LONGEST, end))[-1]
    change = f"set start_date to {latest[0]} or earlier to count {latest[0]}..{latest[1]}"
    if end < today and next(iter_periods(granularity, start, today), None) is not None:
        change += f", or end_date to a later day (at most today, {today}: provisional)"
    return f"nothing to count: {why}; {change}"


def log_today(settings: Settings, logger: logging.Logger) -> None:
    """Once per run: a warning per query that has nothing whole to count, and an info line when
    end_date is today."""
    for spec in settings.queries:
        why = nothing_to_count(
            spec.granularity,
            spec.start_date,
            settings.end_date,
            settings.today,
            end_given=settings.end_date_given,
        )
        if why:
            logger.warning("query '%s': %s", spec.name, why)
    if settings.end_date >= settings.today:
        logger.info(
            "end_date %s is today in %s, which is not over: periods ending on it are emitted as "
            "provisional, and bookmarks stay on the last whole period before it, so the next "
            "run counts them again (and a target upserting on the primary key replaces them)",
            settings.end_date,
            settings.timezone,
        )
