"""The ground truth: which profiles did which event, with which properties, on which day.

Plain Python with no SDK or HTTP in sight, so tests can compare the tap's records with it directly.
Days are drawn lazily and kept in a bounded LRU cache: a backfill of thousands of days must not
grow memory without limit.
"""

from __future__ import annotations

import collections
import datetime
import threading
from collections.abc import Iterable, Iterator

from tap_clevertap_counts.emulator import data
from tap_clevertap_counts.emulator import messages as m
from tap_clevertap_counts.emulator.config import DEMO_ACCOUNT_ID
from tap_clevertap_counts.emulator.query import Filter, Rejected, parse_filters

_CACHE_DAYS = 1024


def days_between(from_date: datetime.date, to_date: datetime.date) -> Iterator[datetime.date]:
    """Each day of the inclusive range, as CleverTap's `from`/`to` are inclusive."""
    day = from_date
    while day <= to_date:
        yield day
        day += datetime.timedelta(days=1)


class EventStore:
    """A seeded synthetic account: `profiles` users and the events of `EVENTS`.

    Two accounts with the same seed have different data (the account id is part of the draw),
    except that the demo account's data is the seed's alone, as it always was."""

    EVENTS: dict[str, dict[str, str]] = data.EVENTS

    def __init__(
        self, seed: int = 42, profiles: int = 2000, account_id: str = DEMO_ACCOUNT_ID
    ) -> None:
        self.seed = seed
        self.account_id = account_id
        self._data_seed = data.data_seed(seed, account_id, DEMO_ACCOUNT_ID)
        self.profiles = profiles
        self._weights: dict[str, list[float]] = {}
        self._cache: collections.OrderedDict[tuple[datetime.date, str], data.DayEvents] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def _cum_weights(self, event: str) -> list[float]:
        with self._lock:
            weights = self._weights.get(event)
        if weights is None:
            weights = data.profile_weights(self._data_seed, event, self.profiles)
            with self._lock:
                self._weights[event] = weights
        return weights

    def day(self, day: datetime.date, event_name: str) -> data.DayEvents:
        """One day of one event, drawn once and then served from the cache."""
        key = (day, event_name)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        if event_name in data.CATALOGUE:
            drawn = data.draw_day(self._data_seed, day, event_name, self._cum_weights(event_name))
        else:
            drawn = data.DayEvents(profiles=(), columns={})
        with self._lock:
            self._cache[key] = drawn
            while len(self._cache) > _CACHE_DAYS:
                self._cache.popitem(last=False)
        return drawn

    def events_on(self, day: datetime.date, event_name: str) -> list[dict[str, object]]:
        """The raw events of one day, `{"profile": int, "properties": {...}}` each; a property
        an event did not send is absent from its dict."""
        return self.day(day, event_name).as_dicts()

    def validate(self, event_name: str, event_properties: list[dict[str, object]]) -> str | None:
        """The verbatim CleverTap-style error for an invalid filter list, or None."""
        if not isinstance(event_name, str) or not event_name.strip():
            return m.ERR_MISSING_EVENT_NAME if not event_name else m.ERR_INVALID_EVENT_NAME
        try:
            parse_filters(event_properties, self.EVENTS.get(event_name))
        except Rejected as rejected:
            return rejected.error
        return None

    def _filters(self, event_name: str, event_properties: object) -> tuple[Filter, ...]:
        """Checked filters; an invalid list raises `Rejected` (a ValueError) with the words."""
        return parse_filters(event_properties, self.EVENTS.get(event_name))

    def _matching(
        self, day: datetime.date, event_name: str, filters: tuple[Filter, ...]
    ) -> Iterable[int]:
        """Profiles of each matching occurrence on one day (a profile repeats per occurrence)."""
        events = self.day(day, event_name)
        if not filters:
            return events.profiles
        columns = [(f, events.columns.get(f.name, ())) for f in filters]
        return [
            profile
            for i, profile in enumerate(events.profiles)
            if all(f.matches(column[i] if column else None) for f, column in columns)
        ]

    def count_filtered(
        self,
        unique: bool,
        event_name: str,
        filters: tuple[Filter, ...],
        from_date: datetime.date,
        to_date: datetime.date,
    ) -> int:
        """Distinct profiles (`unique`) or occurrences, for filters already checked."""
        if unique:
            seen: set[int] = set()
            for day in days_between(from_date, to_date):
                seen.update(self._matching(day, event_name, filters))
            return len(seen)
        return sum(
            len(list(self._matching(day, event_name, filters)))
            for day in days_between(from_date, to_date)
        )

    def count_profiles(
        self,
        event_name: str,
        event_properties: list[dict[str, object]],
        from_date: datetime.date,
        to_date: datetime.date,
    ) -> int:
        """DISTINCT profiles with at least one matching event on any day of [from, to]:
        a week's count is not the sum of its days, as with CleverTap."""
        filters = self._filters(event_name, event_properties)
        return self.count_filtered(True, event_name, filters, from_date, to_date)

    def count_events(
        self,
        event_name: str,
        event_properties: list[dict[str, object]],
        from_date: datetime.date,
        to_date: datetime.date,
    ) -> int:
        """Total matching occurrences over [from, to] (what `/1/counts/events.json` answers)."""
        filters = self._filters(event_name, event_properties)
        return self.count_filtered(False, event_name, filters, from_date, to_date)
