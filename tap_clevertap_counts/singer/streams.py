"""The `profile_counts` and `event_counts` streams: one record per (query, period), bookmarked
per query and stream.

Each configured query is a partition keyed by its name; its state holds the last `to_date`
emitted, the day ranges its periods covered (`counted.py`: a `start_date` moved back owes the
periods before them), the query's fingerprint and the account it was counted for. Records
carry the account, part of the primary key, so many accounts (one extractor each) can share
one table, and `counted_by`: the API whose answer the count is (its own endpoint, or Trends).

Counting is the run's job (`run.py`): on the first record asked for, every selected stream's
owed periods are planned once and counted together within the account's limit, and each stream
takes its results partition by partition, in order. A bookmark therefore only passes periods
whose records are out (in BATCH mode: whose batch file was announced). STATE goes out at the
pace `delivery` sets (every partition's worth of records, or every 2 minutes while records
trickle), rather than after each record.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers import types
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, Catalog
from typing_extensions import override

from tap_clevertap_counts.api.request import EVENTS_PATH, PROFILES_PATH, TRENDS_PATH
from tap_clevertap_counts.config.periods import Period, periods_to_count
from tap_clevertap_counts.config.settings import QuerySpec, Settings
from tap_clevertap_counts.errors import ConfigError
from tap_clevertap_counts.planning import counted
from tap_clevertap_counts.planning.plan import Job

from .catalog_check import catalog_problem
from .delivery import DeliveringStream
from .tapbase import SingerTap

FINGERPRINT_KEY = "query_fingerprint"
ACCOUNT_KEY = "account_id"  # in each partition's state: whose data its bookmark describes
# `counted_by`: the endpoint whose answer a record's count is (/1/counts/<name>.json)
COUNTED_BY = {PROFILES_PATH: "profiles", EVENTS_PATH: "events", TRENDS_PATH: "trends"}


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


class ProfileCountsStream(DeliveringStream):
    """How many distinct profiles did an event, per query and period."""

    name = "profile_counts"
    primary_keys = ("account_id", "query_name", "from_date", "to_date")
    replication_key = "to_date"
    is_sorted = True  # ascending to_date per partition: resumable state
    STATE_MSG_FREQUENCY = 2**62  # never by count alone: `delivery` paces STATE
    path = PROFILES_PATH

    schema = th.PropertiesList(
        th.Property(
            "account_id",
            th.StringType,
            required=True,
            description="The CleverTap account counted, as configured",
        ),
        th.Property("query_name", th.StringType, required=True, description="The query's name"),
        th.Property("from_date", th.DateType, required=True, description="First day counted"),
        th.Property("to_date", th.DateType, required=True, description="Last day counted"),
        th.Property("count", th.IntegerType, required=True, description="Profiles counted"),
        th.Property("event_name", th.StringType, description="The CleverTap event"),
        th.Property(
            "event_properties",
            # No `items`: loaders map an array of objects to an array type (Postgres jsonb[]),
            # while the filters are one JSON document to query as such (jsonb).
            th.CustomType({"type": ["array", "null"]}),
            description="The query's filters, as configured: [{name, operator, value}, ...]",
        ),
        th.Property(
            "granularity",
            th.StringType,
            description="day, week, month or rolling_<N>d (from_date..to_date is the window)",
        ),
        th.Property(
            "counted_by",
            th.StringType(allowed_values=sorted(COUNTED_BY.values())),
            description="The CleverTap API that counted it: its own endpoint (profiles or "
            "events) or trends (backfill_with_trends)",
        ),
    ).to_dict()

    def __init__(self, tap: SingerTap) -> None:
        super().__init__(tap)
        self._tap_settings = tap
        self._emitted: dict[str, str] = {}  # query -> to_date of the record just emitted
        self._counted: dict[str, list[counted.Range]] = {}  # query -> ranges counted before

    @property
    def settings(self) -> Settings:
        """Read when syncing, not when built: discovery works without a valid config."""
        return self._tap_settings.settings

    @functools.cached_property
    def _specs(self) -> dict[str, QuerySpec]:
        """Looked up for every record: built once (the settings do not change in a run)."""
        return {spec.name: spec for spec in self.settings.queries}

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        return [{"query_name": spec.name} for spec in self.settings.queries]

    # --- planning (called by run.plan_run) -------------------------------------------------

    def bookmark(self, spec: QuerySpec) -> datetime.date | None:
        """The last period end emitted for this query, unless its definition changed."""
        state = self.get_context_state({"query_name": spec.name})
        value = state.get("replication_key_value")
        if value is None:
            return None
        if self._other_account(state):
            self.logger.info(
                "query '%s': its bookmark %s is of account %s, not %s: counting account %s "
                "again from %s",
                spec.name,
                value,
                state[ACCOUNT_KEY],
                self.settings.account_id,
                self.settings.account_id,
                spec.start_date,
            )
            return None
        if state.get(FINGERPRINT_KEY, spec.fingerprint) != spec.fingerprint:
            self.logger.info(
                "query '%s' changed since its bookmark %s: counting again from %s",
                spec.name,
                value,
                spec.start_date,
            )
            return None
        day = read_bookmark(value)
        if day is None:
            self.logger.warning(
                "query '%s': unreadable bookmark %r, counting again from %s",
                spec.name,
                value,
                spec.start_date,
            )
        return day

    def _other_account(self, state: dict[str, Any]) -> bool:
        """Whether a partition's bookmark was written for another account. A state from before
        accounts were stored (no account in it) counts as this account's: no recount on upgrade."""
        stored: object = state.get(ACCOUNT_KEY, self.settings.account_id)
        return stored != self.settings.account_id

    def owed_periods(self, spec: QuerySpec) -> list[Period]:
        """The periods of `spec` this run counts: after its bookmark (minus the lookback) and
        any no counted range covers (a `start_date` moved back), or all of them when there is
        no bookmark or the catalog asks for a full-table sync."""
        settings = self.settings
        self._counted[spec.name] = []
        if self.replication_method == REPLICATION_FULL_TABLE:
            bookmark = None
            if spec == settings.queries[0]:
                self.logger.info(
                    "%s: the catalog asks for a full-table sync: every period from each "
                    "query's start is counted again (bookmarks are still written)",
                    self.name,
                )
            # every period is a re-count: never one for Trends
            self._counted[spec.name] = [(spec.start_date, settings.end_date)]
        else:
            bookmark = self.bookmark(spec)
        if bookmark is not None and bookmark > settings.end_date:
            self.logger.warning(
                "%s: query '%s' has a bookmark %s after end_date %s: it counts nothing until "
                "end_date passes %s; to count it again, edit or clear that bookmark",
                self.name,
                spec.name,
                bookmark,
                settings.end_date,
                bookmark,
            )
        owed = periods_to_count(
            spec.granularity, spec.start_date, settings.end_date, bookmark, settings.lookback_days
        )
        if bookmark is None:
            return owed
        return self._with_earlier(spec, bookmark, owed)

    def _with_earlier(
        self, spec: QuerySpec, bookmark: datetime.date, owed: list[Period]
    ) -> list[Period]:
        """`owed` and the periods before them that no counted range covers, in order."""
        state = self.get_context_state({"query_name": spec.name})
        ranges, broken = counted.read(state, spec.start_date, bookmark)
        if broken:
            self.logger.warning(
                "%s: query '%s': unreadable '%s' in its state %r: taken as counted from %s "
                "through its bookmark %s",
                self.name,
                spec.name,
                counted.COUNTED_KEY,
                state.get(counted.COUNTED_KEY),
                ranges[0][0],
                bookmark,
            )
        self._counted[spec.name] = counted.ever(state, ranges)
        every = periods_to_count(spec.granularity, spec.start_date, self.settings.end_date, None, 0)
        later = set(owed)
        owed = [p for p in every if p in later or not counted.covers(ranges, p)]
        earlier = len(owed) - len(later)
        if earlier:
            self.logger.info(
                "%s: query '%s' starts %s, before the days counted so far (%s): counting "
                "its %d %s period(s) outside them once",
                self.name,
                spec.name,
                spec.start_date,
                ", ".join(f"{first}..{last}" for first, last in ranges),
                earlier,
                spec.granularity,
            )
        return owed

    def counted(self, spec: QuerySpec) -> list[counted.Range]:
        """The day ranges `spec` was counted over before this run (by `owed_periods`): a
        period inside one is a re-count, which Trends never does."""
        return self._counted.get(spec.name, [])

    def job_limit(self) -> int | None:
        """`--test` caps records: plan no more counts than it will take."""
        return self.ABORT_AT_RECORD_COUNT

    @override
    def apply_catalog(self, catalog: Catalog) -> None:
        """Take the user's catalog, or refuse it in one line (see `catalog_check`)."""
        super().apply_catalog(catalog)
        entry = catalog.get_stream(self.name)
        if entry is None:
            return
        if (
            self.replication_key is None
            and self.forced_replication_method != REPLICATION_FULL_TABLE
        ):
            self.replication_key = type(self).replication_key  # no key given: the only one
        if not self.selected:
            return
        problem = catalog_problem(
            discovered=type(self).schema,
            given=entry.schema.to_dict(),
            replication_key=self.replication_key,
            replication_method=self.forced_replication_method,
            key_properties=self.primary_keys or (),
        )
        if problem:
            raise ConfigError(f"the catalog's stream '{self.name}': {problem}")

    # --- records ---------------------------------------------------------------------------

    @override
    def get_records(self, context: types.Context | None) -> Iterable[dict[str, Any]]:
        names = [context["query_name"]] if context else list(self._specs)
        for name in names:
            for job, count in self._tap_settings.counting_run(self.name, name).results(
                (self.name, name)
            ):
                self._emitted[name] = job.request.to_date.isoformat()
                yield self._record(job, count)

    def _record(self, job: Job, count: int) -> dict[str, Any]:
        request = job.request
        return {
            "account_id": self.settings.account_id,
            "query_name": job.spec.name,
            "from_date": request.from_date.isoformat(),
            "to_date": request.to_date.isoformat(),
            "count": count,
            "event_name": job.spec.event_name,
            "event_properties": list(job.spec.event_properties),
            "granularity": job.spec.granularity,
            "counted_by": COUNTED_BY[TRENDS_PATH if job.by_trends else self.path],
        }

    # --- state -----------------------------------------------------------------------------

    @override
    def _period(self, context: types.Context | None) -> tuple[str, str] | None:
        """The period comes from what `get_records` emitted, not from the record: a catalog
        or a map may have dropped `to_date` from it. (The SDK's own increment either refuses
        a period before the bookmark, is_sorted, or moves the bookmark back to it; neither is
        right for a lookback re-count: `_advance` only moves forward.)"""
        if context is None:
            return None
        name = context["query_name"]
        return name, self._emitted[name]

    @override
    def _advance(self, name: str, to_date: str) -> None:
        """Set query `name`'s bookmark to `to_date` unless it is already later.

        A provisional period (one ending today, not over) moves nothing, not even the account
        or fingerprint: the next run must count it again, from the last whole period's bookmark.
        """
        if to_date >= self.settings.today.isoformat():
            return
        spec = self._specs[name]
        state = self.get_context_state({"query_name": name})
        current = read_bookmark(state.get("replication_key_value"))
        changed = state.get(FINGERPRINT_KEY, spec.fingerprint) != spec.fingerprint
        changed = changed or self._other_account(state)
        ranges: list[counted.Range] = []
        if not changed and current is not None:
            ranges, _ = counted.read(state, spec.start_date, current)
        period = counted.period_ending(spec.granularity, datetime.date.fromisoformat(to_date))
        if changed or current is None or to_date > current.isoformat():
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = to_date
            state[FINGERPRINT_KEY] = spec.fingerprint
        state[counted.COUNTED_KEY] = counted.to_state(counted.add(ranges, period))
        state[ACCOUNT_KEY] = self.settings.account_id


class EventCountsStream(ProfileCountsStream):
    """How many times an event happened (not by how many profiles), per query and period.

    Same queries, records and bookmarks (its own) as `profile_counts`; opt-in, because
    selecting it doubles the API calls of a run.
    """

    name = "event_counts"
    path = EVENTS_PATH
    selected_by_default = False
    schema = {  # noqa: RUF012 (the SDK declares it so)
        **ProfileCountsStream.schema,
        "properties": {
            **ProfileCountsStream.schema["properties"],
            "count": {"type": ["integer"], "description": "Events counted"},
        },
    }
    _said_off = False

    # mypy reports a getter-and-setter override as missing @override whatever is marked
    # (python/mypy#15900): the getter carries it.
    @property  # type: ignore[explicit-override]
    @override
    def selected(self) -> bool:
        """Selected by the catalog *and* opted into by `count_events`: a Meltano project that
        added the tap from its definition file selects `*.*` (Meltano drops the definition's
        `select:`), and that alone must not double the account's API calls."""
        chosen = bool(self.mask.get((), True))
        if chosen and not self.settings.count_events:
            if not self._said_off:
                self._said_off = True
                self.logger.info(
                    "event_counts is selected but count_events is false: not counted (set "
                    "count_events to true to count events; it doubles the API calls)"
                )
            return False
        return chosen

    @selected.setter
    def selected(self, value: bool | None) -> None:
        self.metadata.root.selected = value
        self._mask = self.metadata.resolve_selection()
