"""The `profile_counts` and `event_counts` streams: one record per (query, period), bookmarked
per query and stream.

Each configured query is a partition keyed by its name; its state holds the last `to_date`
emitted, the query's fingerprint and the account it was counted for. Records carry the account,
part of the primary key, so many accounts (one extractor each) can share one table.

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
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.helpers import types
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, Catalog
from typing_extensions import override

from .catalog_check import catalog_problem
from .delivery import DeliveringStream
from .errors import ConfigError
from .periods import Period, periods_to_count
from .plan import Job
from .request import EVENTS_PATH, PROFILES_PATH
from .settings import QuerySpec, Settings

if TYPE_CHECKING:
    from .tap import TapClevertapCounts

FINGERPRINT_KEY = "query_fingerprint"
ACCOUNT_KEY = "account_id"  # in each partition's state: whose data its bookmark describes


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
    ).to_dict()

    def __init__(self, tap: TapClevertapCounts) -> None:
        super().__init__(tap)
        self._tap_settings = tap
        self._emitted: dict[str, str] = {}  # query -> to_date of the record just emitted

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
        """The periods of `spec` this run counts: after its bookmark (minus the lookback), or
        all of them when there is none or the catalog asks for a full-table sync."""
        settings = self.settings
        if self.replication_method == REPLICATION_FULL_TABLE:
            bookmark = None
            if spec == settings.queries[0]:
                self.logger.info(
                    "%s: the catalog asks for a full-table sync: every period from each "
                    "query's start is counted again (bookmarks are still written)",
                    self.name,
                )
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
        return periods_to_count(
            spec.granularity, spec.start_date, settings.end_date, bookmark, settings.lookback_days
        )

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
        if changed or current is None or to_date > current.isoformat():
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = to_date
            state[FINGERPRINT_KEY] = spec.fingerprint
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
