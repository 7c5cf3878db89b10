"""Which periods of a query were emitted: the state's `counted_to_dates`, beside its bookmark.

A bookmark alone says "everything up to this day", which stops being true when a `start_date`
moves back: the periods before the old start were never counted. Each query's state therefore
keeps the `to_date`s of the periods it emitted, as ranges: `[a, b]` says that every period of
the query's granularity ending on a day from a to b was emitted. A period is done only when its
own `to_date` is in a range, so a run owes exactly the periods no range holds, and Trends (which
only counts days never counted before) knows a re-count when it sees one.

Why `to_date`s and not days: 0.2.0 kept the days its emitted periods covered, a period counting
as done when it lay inside them. Rolling windows overlap, so the days of windows emitted on both
sides of a gap "covered" the windows in the gap, never emitted (a start moved back and a run
stopped midway lost the windows across the old start for good). A `to_date` names one period.

The bookmark stays the authority at the top end, as users edit it by hand: ranges after it are
dropped and the last one is taken to end on it (a bookmark moved back re-counts, one moved
forward skips). Older states are read without counting anything again: 0.2.0's `counted` (day
ranges) as the periods lying whole inside them, as 0.2.0 read it; a state with neither key
(0.1.0) as every period from the query's `start_date` through its bookmark. An empty list, or
ranges all after the bookmark, count nothing before it; a value that is not a list of date
pairs stops the run (`BadCounted`): any guess could skip periods never counted.

Ranges are parsed once per run and kept sorted and merged, beside the very list the state
holds: adding a period costs a binary search, not a pass over every range (a state of
thousands of ranges made each record cost them all, then their square).
"""

from __future__ import annotations

import bisect
import datetime
import json
from collections.abc import Iterable
from typing import Any

from tap_clevertap_counts.config.periods import Period, iter_periods

COUNTED_KEY = "counted_to_dates"
DAYS_KEY = "counted"  # 0.2.0: the days its emitted periods covered
Range = tuple[datetime.date, datetime.date]
_DAY = datetime.timedelta(days=1)


class BadCounted(ValueError):
    """A state's ranges that are not a list of date pairs: `key` is the state key, `why` what
    is wrong with it."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"'{key}' {why}")
        self.key = key
        self.why = why


def _shift(day: datetime.date, days: int) -> datetime.date:
    """`day` moved by `days`, held at the calendar's ends (a hand-written 9999-12-31)."""
    try:
        return day + datetime.timedelta(days=days)
    except OverflowError:
        return datetime.date.max if days > 0 else datetime.date.min


def ceil_end(granularity: str, day: datetime.date) -> datetime.date:
    """The first day on or after `day` on which a period of `granularity` ends."""
    if granularity == "week":
        return _shift(day, 6 - day.weekday())
    if granularity == "month":
        if day.month == 12:
            return day.replace(day=31)
        return day.replace(month=day.month + 1, day=1) - _DAY
    return day  # a day, or a rolling window: one ends on every day


def floor_end(granularity: str, day: datetime.date) -> datetime.date:
    """The last day on or before `day` on which a period of `granularity` ends."""
    if granularity == "week":
        return _shift(day, -((day.weekday() + 1) % 7))
    if granularity == "month" and ceil_end("month", day) != day:
        return _shift(day.replace(day=1), -1)
    return day


class Counted:
    """The `to_date`s of one query's emitted periods: sorted ranges, none touching another
    (no period ends between them), mirrored in `stored`, the list the state holds."""

    def __init__(self, granularity: str, ranges: Iterable[Range] = ()) -> None:
        self.granularity = granularity
        firsts: list[datetime.date] = []
        lasts: list[datetime.date] = []
        if granularity in ("week", "month"):  # any day may be given: keep the periods' ends
            ranges = ((ceil_end(granularity, a), floor_end(granularity, b)) for a, b in ranges)
        for first, last in sorted(ranges):
            if first > last:
                continue
            if lasts and self._touches(lasts[-1], first):
                lasts[-1] = max(lasts[-1], last)
            else:
                firsts.append(first)
                lasts.append(last)
        self._firsts = firsts
        self._lasts = lasts
        self._stored: list[list[str]] | None = None  # made when first asked for

    @property
    def stored(self) -> list[list[str]]:
        """[[first, last], ...] as the state holds them: the same list as long as this lives,
        kept up to date by `add` (put it in the state once, not after every period)."""
        if self._stored is None:
            pairs = zip(self._firsts, self._lasts, strict=True)
            self._stored = [[first.isoformat(), last.isoformat()] for first, last in pairs]
        return self._stored

    def __len__(self) -> int:
        return len(self._firsts)

    def ranges(self) -> list[Range]:
        return list(zip(self._firsts, self._lasts, strict=True))

    def covers(self, period: Period) -> bool:
        """Whether `period` was emitted (its `to_date` is in a range)."""
        index = bisect.bisect_right(self._firsts, period[1]) - 1
        return index >= 0 and period[1] <= self._lasts[index]

    def add(self, to_date: datetime.date) -> None:
        """The period ending on `to_date` was emitted: merged into its neighbours, in place."""
        index = bisect.bisect_right(self._firsts, to_date) - 1  # the range starting by then
        if index >= 0 and to_date <= self._lasts[index]:
            return
        joins_before = index >= 0 and self._touches(self._lasts[index], to_date)
        joins_after = index + 1 < len(self._firsts) and self._touches(
            to_date, self._firsts[index + 1]
        )
        if joins_before and joins_after:
            self._set(index, last=self._lasts[index + 1])
            del self._firsts[index + 1], self._lasts[index + 1]
            if self._stored is not None:
                del self._stored[index + 1]
        elif joins_before:
            self._set(index, last=to_date)
        elif joins_after:
            self._set(index + 1, first=to_date)
        else:
            self._insert(index + 1, to_date, to_date)

    def up_to(self, bookmark: datetime.date) -> Counted:
        """The bookmark's authority: ranges after it dropped, the last one ending on it. With
        no range starting by the bookmark, nothing is counted."""
        kept = bisect.bisect_right(self._firsts, bookmark)
        out = Counted(self.granularity)
        out._firsts = self._firsts[:kept]
        out._lasts = self._lasts[:kept]
        if kept:
            out._lasts[-1] = floor_end(self.granularity, bookmark)
        return out

    def reaching(self, bookmark: datetime.date) -> Counted:
        """These periods and the ones `up_to(bookmark)` takes as counted: every period the
        state names as emitted (itself, when the bookmark adds none)."""
        kept = bisect.bisect_right(self._firsts, bookmark)
        end = floor_end(self.granularity, bookmark)
        if not kept or end <= self._lasts[kept - 1]:
            return self
        after = kept  # the ranges after the bookmark that the longer range now reaches
        while after < len(self) and self._touches(end, self._firsts[after]):
            end = max(end, self._lasts[after])
            after += 1
        out = Counted(self.granularity)
        out._firsts = self._firsts[:kept] + self._firsts[after:]
        out._lasts = [*self._lasts[: kept - 1], end, *self._lasts[after:]]
        return out

    def describe(self, most: int = 3) -> str:
        """The ranges for a log line: the first few, and how many more."""
        if not self._firsts:
            return "none"
        shown = ", ".join(f"{a}..{b}" for a, b in self.ranges()[:most])
        more = len(self) - most
        return shown + (f" and {more} more range(s)" if more > 0 else "")

    def _touches(self, last: datetime.date, first: datetime.date) -> bool:
        """Whether a range ending on `last` and one starting on `first` (after it) leave no
        period end between them: one range."""
        if last == datetime.date.max:
            return True
        return first <= ceil_end(self.granularity, last + _DAY)

    def _insert(self, index: int, first: datetime.date, last: datetime.date) -> None:
        self._firsts.insert(index, first)
        self._lasts.insert(index, last)
        if self._stored is not None:
            self._stored.insert(index, [first.isoformat(), last.isoformat()])

    def _set(
        self, index: int, *, first: datetime.date | None = None, last: datetime.date | None = None
    ) -> None:
        if first is not None:
            self._firsts[index] = first
            if self._stored is not None:
                self._stored[index][0] = first.isoformat()
        if last is not None:
            self._lasts[index] = last
            if self._stored is not None:
                self._stored[index][1] = last.isoformat()


def read(
    state: dict[str, Any], granularity: str, start: datetime.date, bookmark: datetime.date
) -> tuple[Counted, Counted]:
    """What a query's state counts as emitted up to `bookmark` (the bookmark's authority
    applied), and every period it ever names (past a bookmark moved back by hand too: Trends
    never re-counts them). Raises `BadCounted` for a value that is not a list of date pairs."""
    if COUNTED_KEY in state:
        stored = Counted(granularity, _parse(state[COUNTED_KEY], COUNTED_KEY))
    elif DAYS_KEY in state:
        stored = Counted(granularity, whole_periods(granularity, _parse(state[DAYS_KEY], DAYS_KEY)))
    else:  # 0.1.0: every period from the start through the bookmark
        stored = Counted(granularity, whole_periods(granularity, [(start, bookmark)]))
    return stored.up_to(bookmark), stored.reaching(bookmark)


def whole_periods(granularity: str, days: Iterable[Range]) -> list[Range]:
    """The `to_date`s of the periods lying whole inside each day range (as 0.2.0 read them)."""
    out: list[Range] = []
    for first, last in days:
        try:
            period = next(iter_periods(granularity, first, last), None)
        except OverflowError:  # a hand-written day at the calendar's end: no whole period
            continue
        if period is not None:
            out.append((period[1], last))
    return out


def _parse(raw: Any, key: str) -> list[Range]:
    if not isinstance(raw, list):
        raise BadCounted(key, f"is {_show(raw)}, not a list of [first, last] pairs")
    out: list[Range] = []
    for item in raw:
        pair = [_day(text) for text in item] if isinstance(item, list) and len(item) == 2 else None
        if pair is None or pair[0] is None or pair[1] is None:
            raise BadCounted(key, f'holds {_show(item)}, not a ["YYYY-MM-DD", "YYYY-MM-DD"] pair')
        if pair[0] > pair[1]:
            raise BadCounted(key, f"holds {_show(item)}, whose first day is after its last")
        out.append((pair[0], pair[1]))
    return out


def _day(text: object) -> datetime.date | None:
    if not isinstance(text, str) or len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def _show(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
