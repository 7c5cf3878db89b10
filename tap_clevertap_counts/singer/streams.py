"""The `profile_counts` and `event_counts` streams: one record per (query, period), bookmarked
per query and stream.

Each configured query is a partition keyed by its name; its state (the last `to_date` emitted,
the periods emitted, the query's fingerprint and the account it was counted for) is read and
moved by one `QueryState` per run (`planning.query_state`: what holds, what is owed, what a
record moves). Records carry the account, part of the primary key, so many accounts (one
extractor each) can share one table, and `counted_by`: the API whose answer the count is (its
own endpoint, or Trends).

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
from tap_clevertap_counts.config.periods import Period
from tap_clevertap_counts.config.settings import QuerySpec, Settings
from tap_clevertap_counts.errors import ConfigError
from tap_clevertap_counts.planning import counted
from tap_clevertap_counts.planning.plan import Job
from tap_clevertap_counts.planning.query_state import QueryState

from .catalog_check import catalog_problem
from .delivery import DeliveringStream
from .tapbase import SingerTap

# `counted_by`: the endpoint whose answer a record's count is (/1/counts/<name>.json)
COUNTED_BY = {PROFILES_PATH: "profiles", EVENTS_PATH: "events", TRENDS_PATH: "trends"}


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
        self._queries: dict[str, QueryState] = {}  # query -> its state, as the run planned it

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

    def owed_periods(self, spec: QuerySpec) -> list[Period]:
        """The periods of `spec` this run counts (`QueryState.owed`), its state read anew."""
        full_table = self.replication_method == REPLICATION_FULL_TABLE
        if full_table and spec == self.settings.queries[0]:
            self.logger.info(
                "%s: the catalog asks for a full-table sync: every period from each "
                "query's start is counted again (bookmarks are still written)",
                self.name,
            )
        query = QueryState(
            self.get_context_state({"query_name": spec.name}),
            spec,
            self.settings,
            stream=self.name,
            logger=self.logger,
            full_table=full_table,
        )
        self._queries[spec.name] = query
        return query.owed()

    def counted(self, spec: QuerySpec) -> counted.Counted:
        """The periods of `spec` emitted before this run (read by `owed_periods`)."""
        query = self._queries.get(spec.name)
        return counted.Counted(spec.granularity) if query is None else query.counted()

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
        """Query `name`'s period ending on `to_date` is out (`QueryState.advance`)."""
        self._queries[name].advance(datetime.date.fromisoformat(to_date), self.replication_key)


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
        self.refresh_mask()
