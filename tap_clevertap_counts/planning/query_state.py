"""One query's state in one stream, read once when a run is planned and moved by its records.

The SDK keeps a partition per (stream, query) in the tap's state; its keys are this module's:
- `replication_key_value`, the bookmark: the last whole period's `to_date` emitted (written
  `YYYY-MM-DD`; a hand-edited `YYYYMMDD`, text or number, is read too);
- `query_fingerprint`, of the definition the bookmark describes, and `account_id`, the account
  it was counted for: when either differs from the config, the bookmark describes other numbers
  and the query counts again from its start (a state without them, from 0.1.0, is this
  definition's and this account's: an upgrade counts nothing again);
- `counted_to_dates`, the periods emitted (`counted`).

The rules that decide a run from them (which bookmark holds, what is owed, what a record moves)
live here once, for the stream to ask: `QueryState.owed` when the run is planned,
`QueryState.advance` for every record out. A period ending today is provisional (`today`): it
moves nothing, so the next run counts it again. The state's JSON is what it was before this
module; only its reading moved here.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from tap_clevertap_counts.config.periods import Period, periods_to_count
from tap_clevertap_counts.config.queries import QuerySpec
from tap_clevertap_counts.config.settings import Settings
from tap_clevertap_counts.errors import ConfigError

from .counted import COUNTED_KEY, DAYS_KEY, BadCounted, Counted, read
from .today import is_provisional

BOOKMARK_KEY = "replication_key_value"
FINGERPRINT_KEY = "query_fingerprint"
ACCOUNT_KEY = "account_id"  # whose data the bookmark describes


def read_bookmark(value: Any) -> datetime.date | None:
    """A bookmark as a date: `YYYY-MM-DD` as written, or a hand-edited `YYYYMMDD` (text or int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) not in (8, 10):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


class QueryState:
    """The partition `state` of query `spec` in stream `stream`, for one run.

    Built when the run is planned (it logs, once, why a stored bookmark does not hold, and stops
    the run on a malformed `counted_to_dates`); `advance` then moves it record by record. With
    `full_table` (the catalog's choice) every period is owed again and the bookmark still moves
    forward only.
    """

    def __init__(
        self,
        state: dict[str, Any],
        spec: QuerySpec,
        settings: Settings,
        *,
        stream: str,
        logger: logging.Logger,
        full_table: bool = False,
    ) -> None:
        self._state = state
        self._spec = spec
        self._settings = settings
        self._stream = stream
        self._logger = logger
        self._full_table = full_table
        self.bookmark = self._holding_bookmark()  # None: there is none, or it does not hold
        self._replace = self.bookmark is None  # the stored bookmark goes at the first advance
        self._emitted, self._ever = self._read_counted()
        self._written = False  # the state holds `self._emitted.stored` (from the first advance)

    # --- planning ------------------------------------------------------------------------------

    def owed(self) -> list[Period]:
        """The periods this run counts: after the bookmark (minus `lookback_days`) and any before
        it never emitted (a `start_date` moved back, a run stopped midway through those), or
        all of them without a bookmark or in a full-table sync."""
        spec, settings = self._spec, self._settings
        bookmark = None if self._full_table else self.bookmark
        if bookmark is not None and bookmark > settings.end_date:
            self._logger.warning(
                "%s: query '%s' has a bookmark %s after end_date %s: it counts nothing until "
                "end_date passes %s; to count it again, edit or clear that bookmark",
                self._stream,
                spec.name,
                bookmark,
                settings.end_date,
                bookmark,
            )
        after = periods_to_count(
            spec.granularity, spec.start_date, settings.end_date, bookmark, settings.lookback_days
        )
        if bookmark is None:
            return after
        every = periods_to_count(spec.granularity, spec.start_date, settings.end_date, None, 0)
        later = set(after)
        owed = [p for p in every if p in later or not self._emitted.covers(p)]
        if earlier := len(owed) - len(later):
            self._logger.info(
                "%s: query '%s': %d %s period(s) from its start %s up to its bookmark %s were "
                "never emitted (emitted so far: to_dates %s): counting them once",
                self._stream,
                spec.name,
                earlier,
                spec.granularity,
                spec.start_date,
                bookmark,
                self._emitted.describe(),
            )
        return owed

    def counted(self) -> Counted:
        """The periods emitted before this run: one of them is a re-count, which Trends never
        does (in a full-table sync, every one is)."""
        if self._full_table:
            whole = [(self._spec.start_date, self._settings.end_date)]
            return Counted(self._spec.granularity, whole)
        return self._ever

    # --- records -------------------------------------------------------------------------------

    def advance(self, to_date: datetime.date, replication_key: str | None) -> None:
        """The period ending on `to_date` is out: the bookmark moves to it unless it is already
        later, and the period counts as emitted. A provisional period moves nothing, not even
        the account or fingerprint."""
        if is_provisional((to_date, to_date), self._settings.today):
            return
        state = self._state
        if not self._written:  # the very list `add` keeps up to date, put there once
            state[COUNTED_KEY] = self._emitted.stored
            state.pop(DAYS_KEY, None)
            self._written = True
        self._emitted.add(to_date)
        current = read_bookmark(state.get(BOOKMARK_KEY))
        if self._replace or current is None or to_date > current:
            state["replication_key"] = replication_key
            state[BOOKMARK_KEY] = to_date.isoformat()
            state[FINGERPRINT_KEY] = self._spec.fingerprint
            self._replace = False
        state[ACCOUNT_KEY] = self._settings.account_id

    # --- reading -------------------------------------------------------------------------------

    def _holding_bookmark(self) -> datetime.date | None:
        """The stored bookmark, if it describes this definition and account and reads as a
        date; otherwise None, said in one line."""
        state, spec, account = self._state, self._spec, self._settings.account_id
        value = state.get(BOOKMARK_KEY)
        if value is None:
            return None
        if state.get(ACCOUNT_KEY, account) != account:
            self._logger.info(
                "query '%s': its bookmark %s is of account %s, not %s: counting account %s "
                "again from %s",
                spec.name,
                value,
                state[ACCOUNT_KEY],
                account,
                account,
                spec.start_date,
            )
            return None
        if state.get(FINGERPRINT_KEY, spec.fingerprint) != spec.fingerprint:
            self._logger.info(
                "query '%s' changed since its bookmark %s: counting again from %s",
                spec.name,
                value,
                spec.start_date,
            )
            return None
        day = read_bookmark(value)
        if day is None:
            self._logger.warning(
                "query '%s': unreadable bookmark %r, counting again from %s",
                spec.name,
                value,
                spec.start_date,
            )
        return day

    def _read_counted(self) -> tuple[Counted, Counted]:
        """What the state counts as emitted up to the bookmark, and ever (`counted.read`);
        nothing without a bookmark that holds. A malformed value stops the run in one line."""
        spec, mark = self._spec, self.bookmark
        if mark is None:
            return Counted(spec.granularity), Counted(spec.granularity)
        try:
            return read(self._state, spec.granularity, spec.start_date, mark)
        except BadCounted as exc:
            raise ConfigError(
                f"the state of {self._stream} query '{spec.name}': {exc}; write it as the "
                f'to_date ranges of the periods emitted ([["YYYY-MM-DD", "YYYY-MM-DD"], ...]), '
                f"as [] to count every period up to its bookmark {mark} again, or remove "
                f"'{exc.key}' to take every period from its start_date {spec.start_date} "
                "through the bookmark as counted"
            ) from None
