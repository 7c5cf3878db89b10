"""The Trends fast path (`backfill_with_trends`): a year of daily counts in one job, checked.

CleverTap's Trends API answers a whole daily series per job where Get Profile Count and Get
Event Count answer one day, so a long daily backlog of an unfiltered query costs a few jobs
instead of hundreds. Its numbers are not documented to equal the query's own endpoint's, so a
series is trusted only after a check: the backlog's first and latest days are also counted
through the query's own endpoint (those two counts are the records of those days, so the check
costs two jobs more than Trends alone, and the days nothing). Any difference, a wrong shape, or
an error answer from Trends: one warning, and the query's days are counted one by one as
without the setting. Either way the records are the query's own periods, in its own order.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from .errors import ApiError, StoppedError
from .periods import Period
from .queries import QuerySpec
from .request import TRENDS_PATH

MIN_DAYS = 30  # a backlog this long or longer: 30 jobs become 3 (2 checks and 1 series)
MAX_SPAN_DAYS = 365  # public clients cap a Trends request at a year
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
    """What a block needs of the run: its slots, its results, its log."""

    logger: logging.Logger

    def put(self, position: int, value: int) -> None: ...

    def add(self, lane: str, priority: int, task: Callable[[], None]) -> None: ...

    def count_own(self, position: int) -> int: ...

    def series(self, request: TrendsRequest, priority: int) -> dict[str, Any]: ...


def eligible(spec: QuerySpec, periods: list[Period]) -> bool:
    """Daily, unfiltered (Trends takes no filters), and a backlog long enough to gain."""
    return spec.granularity == "day" and not spec.event_properties and len(periods) >= MIN_DAYS


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


class TrendsBlock:
    """One (stream, query) backlog counted through Trends after its check, or day by day."""

    def __init__(
        self,
        host: Host,
        *,
        label: str,
        spec: QuerySpec,
        own_path: str,
        unique: bool,
        start: int,
        periods: list[Period],
    ) -> None:
        self._host = host
        self._label = label
        self._own_path = own_path
        self._start = start
        self._days = [first for first, _ in periods]
        self._checks = {start: self._days[0], start + len(periods) - 1: self._days[-1]}
        self._requests = [
            TrendsRequest(spec.name, spec.event_name, unique, first, last)
            for first, last in spans(self._days[0], self._days[-1])
        ]
        self._lock = threading.Lock()
        self._left = len(self._checks) + len(self._requests)
        self._own: dict[int, int] = {}  # day ordinal -> the own endpoint's count
        self._series: dict[int, int] = {}
        self._problem: str | None = None

    def queue(self) -> None:
        """The checks first (the latest day among them), then the series, all at the block's
        priority: nothing of the block waits behind later blocks."""
        for position in self._checks:
            self._host.add(self._own_path, self._start, partial(self._check, position))
        for request in self._requests:
            self._host.add(TRENDS_PATH, self._start, partial(self._fetch, request))

    def _check(self, position: int) -> None:
        count = self._host.count_own(position)  # the day's record, whatever Trends says
        with self._lock:
            self._own[self._checks[position].toordinal()] = count
        self._part_done()

    def _fetch(self, request: TrendsRequest) -> None:
        try:
            body = self._host.series(request, self._start)
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
        if problem is None:
            for offset, day in enumerate(self._days):
                position = self._start + offset
                if position not in self._checks:
                    self._host.put(position, self._series[day.toordinal()])
            return
        self._host.logger.warning(
            "%s: %s; counting its %d days one by one through its own endpoint instead",
            self._label,
            problem,
            len(self._days),
        )
        for offset in range(len(self._days)):
            position = self._start + offset
            if position not in self._checks:
                self._host.add(self._own_path, position, partial(self._host_count, position))

    def _host_count(self, position: int) -> None:
        self._host.count_own(position)

    def _disagreement(self) -> str | None:
        for day in self._checks.values():
            own, trend = self._own[day.toordinal()], self._series[day.toordinal()]
            if own != trend:
                return (
                    f"Trends says {trend} for {day}, the query's own endpoint says {own}: "
                    "Trends is not trusted for it"
                )
        return None
