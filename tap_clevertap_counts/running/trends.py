"""The Trends fast path (`backfill_with_trends`): a year of daily counts in one job, checked.

CleverTap's Trends API answers a whole daily series per job where Get Profile Count and Get
Event Count answer one day, so a long daily backlog of an unfiltered query costs a few jobs
instead of hundreds. Its numbers are not documented to equal the query's own endpoint's, so:

- Trends counts only days never counted before. A day owed through `lookback_days` (or a
  full-table sync) is a re-count, exactly where late data makes two APIs disagree: it always
  goes to the query's own endpoint, and so does that day for every query sharing the series.
- One series per question: the unfiltered daily queries of one (endpoint, event) share their
  days, so overlapping backlogs (two queries with different start dates) make one set of
  series and checks, and no day is asked twice of either API.
- A series is trusted only after a check: `CHECKS` days of each series (its first and last day
  and a sample of the others, seeded by the series so a re-run checks the same days) are also
  counted through the query's own endpoint. Those counts are the records of those days, so the
  check costs `CHECKS` jobs more than Trends alone. A difference on a checked day, a wrong
  shape, or an error answer from Trends: one warning, and the group's days are counted one by
  one as without the setting. A difference on a day not checked goes undetected: such records
  say `counted_by: trends`, for a user to audit or re-count.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from tap_clevertap_counts.api.request import TRENDS_PATH
from tap_clevertap_counts.config.periods import Period
from tap_clevertap_counts.errors import ApiError, StoppedError

MIN_DAYS = 30  # never-counted days of one series group: fewer are counted one by one
MAX_SPAN_DAYS = 365  # public clients cap a Trends request at a year
CHECKS = 7  # days of each series counted through the own endpoint too: first, last, 5 sampled
GROUP = "daily"
_QUOTE = 200


@dataclass(frozen=True)
class TrendsRequest:
    """One daily series of one event: profiles (`unique`) or occurrences."""

    query_name: str
    event_name: str
    unique: bool
    from_date: datetime.date
    to_date: datetime.date

    def payload(self) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "from": int(self.from_date.strftime("%Y%m%d")),
            "to": int(self.to_date.strftime("%Y%m%d")),
            "unique": self.unique,
            "groups": {GROUP: {"trend_type": "daily"}},
        }

    def describe(self) -> str:
        return f"query '{self.query_name}' (Trends {self.from_date}..{self.to_date})"


class Host(Protocol):
    """What a group needs of the run: its slots, its results, its log."""

    logger: logging.Logger

    def put(self, position: int, value: int, *, by_trends: bool = False) -> None: ...

    def add(self, lane: str, priority: int, task: Callable[[], None]) -> None: ...

    def count_own(self, position: int) -> int: ...

    def series(self, request: TrendsRequest, priority: int) -> dict[str, Any]: ...


def spans(first: datetime.date, last: datetime.date) -> list[Period]:
    """[first, last] in consecutive spans of at most a year."""
    out: list[Period] = []
    while first <= last:
        end = min(last, first + datetime.timedelta(days=MAX_SPAN_DAYS - 1))
        out.append((first, end))
        first = end + datetime.timedelta(days=1)
    return out


def read_series(body: dict[str, Any], first: datetime.date, last: datetime.date) -> dict[int, int]:
    """Day ordinal -> count for every day of [first, last]; ValueError names what is wrong."""
    series = body.get(GROUP)
    if not isinstance(series, dict):
        raise ValueError(f"no '{GROUP}' series in {_quote(body)}")
    out: dict[int, int] = {}
    day = first
    while day <= last:
        value = series.get(day.strftime("%Y%m%d"))
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"no valid count for {day} ({value!r}) in {_quote(body)}")
        out[day.toordinal()] = value
        day += datetime.timedelta(days=1)
    return out


def _quote(body: object) -> str:
    text = json.dumps(body)
    return text if len(text) <= _QUOTE else text[:_QUOTE] + "..."


def sample(request: TrendsRequest) -> list[datetime.date]:
    """The series' days also counted through the own endpoint: its first and last, and
    `CHECKS` - 2 of the others drawn at random with the series as seed (the same days on a
    re-run, whatever the process)."""
    first, last = request.from_date, request.to_date
    days = (last - first).days + 1
    if days <= CHECKS:
        return [first + datetime.timedelta(days=n) for n in range(days)]
    seed = zlib.crc32(json.dumps(request.payload(), sort_keys=True).encode())
    middle = random.Random(seed).sample(range(1, days - 1), CHECKS - 2)
    return [first + datetime.timedelta(days=n) for n in sorted([0, *middle, days - 1])]


@dataclass(frozen=True)
class Group:
    """The never-counted days of one (endpoint, event) that Trends counts: day ordinal -> the
    plan positions (queries, in plan order) asking for it."""

    label: str  # the queries, for the log
    own_path: str
    event_name: str
    unique: bool
    days: dict[int, list[int]]

    def positions(self) -> set[int]:
        return {position for positions in self.days.values() for position in positions}


class TrendsGroup:
    """One group's days counted through Trends after its check, or day by day."""

    def __init__(self, host: Host, group: Group) -> None:
        self._host = host
        self._group = group
        self._priority = min(positions[0] for positions in group.days.values())
        ordinals = sorted(group.days)
        self._requests = [
            TrendsRequest(group.label, group.event_name, group.unique, first, last)
            for run in _runs(ordinals)
            for first, last in spans(*run)
        ]
        self._checks = sorted(
            {day.toordinal() for request in self._requests for day in sample(request)}
        )
        self._lock = threading.Lock()
        self._left = len(self._checks) + len(self._requests)
        self._own: dict[int, int] = {}  # day ordinal -> the own endpoint's count
        self._series: dict[int, int] = {}
        self._problem: str | None = None

    def queue(self) -> None:
        """The checks, then the series, all at the group's priority: nothing of the group
        waits behind later blocks."""
        for day in self._checks:
            self._host.add(self._group.own_path, self._priority, partial(self._check, day))
        for request in self._requests:
            self._host.add(TRENDS_PATH, self._priority, partial(self._fetch, request))

    def _count_day(self, day: int) -> int:
        """The day through the own endpoint, once, for every query asking for it."""
        first, *others = self._group.days[day]
        count = self._host.count_own(first)
        for position in others:
            self._host.put(position, count)
        return count

    def _check(self, day: int) -> None:
        count = self._count_day(day)  # the day's records, whatever Trends says
        with self._lock:
            self._own[day] = count
        self._part_done()

    def _fetch(self, request: TrendsRequest) -> None:
        try:
            body = self._host.series(request, self._priority)
            series = read_series(body, request.from_date, request.to_date)
        except StoppedError:
            raise
        except (ApiError, ValueError) as problem:
            with self._lock:
                self._problem = self._problem or f"no usable series from Trends ({problem})"
        else:
            with self._lock:
                self._series.update(series)
        self._part_done()

    def _part_done(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left:
                return
            problem = self._problem or self._disagreement()
        checked = set(self._checks)
        rest = [day for day in sorted(self._group.days) if day not in checked]
        if problem is None:
            for day in rest:
                for position in self._group.days[day]:
                    self._host.put(position, self._series[day], by_trends=True)
            return
        self._host.logger.warning(
            "%s: %s; counting its %d days one by one through its own endpoint instead",
            self._group.label,
            problem,
            len(self._group.days),
        )
        for day in rest:
            priority = self._group.days[day][0]
            self._host.add(self._group.own_path, priority, partial(self._recount, day))

    def _recount(self, day: int) -> None:
        self._count_day(day)

    def _disagreement(self) -> str | None:
        for day in self._checks:
            own, trend = self._own[day], self._series[day]
            if own != trend:
                return (
                    f"Trends says {trend} for {datetime.date.fromordinal(day)}, the query's own "
                    f"endpoint says {own}: Trends is not trusted for it"
                )
        return None


def _runs(ordinals: list[int]) -> list[tuple[datetime.date, datetime.date]]:
    """Consecutive days as (first, last) runs: a series never spans a day it must not ask."""
    out: list[tuple[int, int]] = []
    for day in ordinals:
        if out and day == out[-1][1] + 1:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return [(datetime.date.fromordinal(a), datetime.date.fromordinal(b)) for a, b in out]
