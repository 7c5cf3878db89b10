"""The `profile_counts` stream: one record per (query, period), bookmarked per query.

Each configured query is a partition keyed by its name. Its state holds the last `to_date`
emitted and the query's fingerprint. The SDK syncs partitions one after another, but CleverTap
is slow and allows several queries in flight, so on the first partition the stream plans every
(query, period) job of the run, in the order the SDK will ask for them, and an `OrderedRunner`
keeps up to `max_concurrent_queries` of them in flight across partitions while records are
emitted strictly in that order. A bookmark therefore only passes periods whose records are out.
"""

from __future__ import annotations

import datetime
import functools
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.helpers import types

from .client import PROFILES_PATH, CleverTapClient, ClientSettings
from .limiter import AdaptiveLimiter
from .periods import periods_to_count
from .plan import Job, Plan
from .progress import Progress
from .scheduler import OrderedRunner
from .settings import QuerySpec, Settings

if TYPE_CHECKING:
    from .tap import TapClevertapCounts

FINGERPRINT_KEY = "query_fingerprint"
_FILTER_VALUE = th.CustomType(
    {"type": ["string", "number", "boolean", "array", "null"], "items": {}}
)


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


class ProfileCountsStream(Stream):
    """How many distinct profiles did an event, per query and period."""

    name = "profile_counts"
    primary_keys = ("query_name", "from_date", "to_date")
    replication_key = "to_date"
    is_sorted = True  # ascending to_date per partition: resumable state
    STATE_MSG_FREQUENCY = 1  # a STATE after every record: a killed run loses nothing
    path = PROFILES_PATH

    schema = th.PropertiesList(
        th.Property("query_name", th.StringType, required=True, description="The query's name"),
        th.Property("from_date", th.DateType, required=True, description="First day counted"),
        th.Property("to_date", th.DateType, required=True, description="Last day counted"),
        th.Property("count", th.IntegerType, required=True, description="Profiles counted"),
        th.Property("event_name", th.StringType, description="The CleverTap event"),
        th.Property(
            "event_properties",
            th.ArrayType(
                th.ObjectType(
                    th.Property("name", th.StringType),
                    th.Property("operator", th.StringType),
                    th.Property("value", _FILTER_VALUE),
                )
            ),
            description="The query's filters, as configured",
        ),
        th.Property("granularity", th.StringType, description="day, week or month"),
    ).to_dict()

    def __init__(self, tap: TapClevertapCounts) -> None:
        super().__init__(tap)
        self._tap_settings = tap
        self._runner: OrderedRunner[Job, int] | None = None
        self._results: Iterator[tuple[Job, int]] | None = None
        self._blocks: dict[str, tuple[int, int]] = {}
        self._position = 0
        self._progress: Progress | None = None

    @property
    def settings(self) -> Settings:
        """Read when syncing, not when built: discovery works without a valid config."""
        return self._tap_settings.settings

    @functools.cached_property
    def _specs(self) -> dict[str, QuerySpec]:
        """Looked up for every record: built once (the settings do not change in a run)."""
        return {spec.name: spec for spec in self.settings.queries}

    @property
    def partitions(self) -> list[dict[str, Any]]:
        return [{"query_name": spec.name} for spec in self.settings.queries]

    # --- planning --------------------------------------------------------------------------

    def bookmark(self, spec: QuerySpec) -> datetime.date | None:
        """The last period end emitted for this query, unless its definition changed."""
        state = self.get_context_state({"query_name": spec.name})
        value = state.get("replication_key_value")
        if value is None:
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

    def plan(self, specs: Iterable[QuerySpec]) -> Plan:
        """Every (query, period) this run counts, in emission order."""
        settings = self.settings
        return Plan(
            (
                spec,
                periods_to_count(
                    spec.granularity,
                    spec.start_date,
                    settings.end_date,
                    self.bookmark(spec),
                    settings.lookback_days,
                ),
            )
            for spec in specs
        )

    def _start(self, specs: list[QuerySpec]) -> None:
        jobs = self.plan(specs)
        self._blocks = jobs.spans()
        for spec in specs:
            self._blocks.setdefault(spec.name, (len(jobs), len(jobs)))
        totals = {name: end - first for name, (first, end) in self._blocks.items()}
        self._progress = Progress(totals, self.logger)
        self._position = 0
        settings = self.settings
        self.logger.info(
            "counting %d periods for %d queries up to %s with CleverTap at %s (account %s), "
            "up to %d queries in flight",
            len(jobs),
            len(specs),
            settings.end_date,
            settings.base_url,
            settings.account_id,
            settings.max_concurrent_queries,
        )
        if settings.end_date >= settings.today and settings.lookback_days < 1:
            self.logger.warning(
                "end_date %s is today in %s, which is not over: its counts will still grow; "
                "set lookback_days to 1 or more so that the next run counts it again",
                settings.end_date,
                settings.timezone,
            )
        if not jobs:
            self._runner, self._results = None, iter(())
            return
        stop = threading.Event()
        client = CleverTapClient(
            ClientSettings(
                base_url=settings.base_url,
                account_id=settings.account_id,
                passcode=settings.passcode,
                request_timeout=settings.request_timeout_seconds,
                poll_interval=settings.poll_interval_seconds,
                poll_timeout=settings.poll_timeout_seconds,
                path=self.path,
            ),
            limiter=AdaptiveLimiter(settings.max_concurrent_queries),
            stop=stop,
        )
        self._runner = OrderedRunner(
            jobs,
            lambda job, index: client.count(job.request, priority=index),
            workers=settings.max_concurrent_queries,
            window=max(64, 16 * settings.max_concurrent_queries),
            stop=stop,
        )
        self._results = iter(self._runner)

    def _close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        self._runner, self._results = None, None

    # --- records ---------------------------------------------------------------------------

    def get_records(self, context: types.Context | None) -> Iterable[dict[str, Any]]:
        names = [context["query_name"]] if context else list(self._specs)
        for name in names:
            yield from self._records_for(self._specs[name])

    def _records_for(self, spec: QuerySpec) -> Iterator[dict[str, Any]]:
        block = self._blocks.get(spec.name)
        if (
            block is None  # the first partition of the run
            or block[0] != self._position  # the SDK asks out of the planned order
            or (block[0] < block[1] and self._results is None)  # an earlier sync was abandoned
        ):
            self._close()
            order = [s for s in self.settings.queries if s.name != spec.name]
            self._start([spec, *order])
            block = self._blocks[spec.name]
        if block[0] == block[1]:
            return  # nothing new for this query: no request
        assert self._results is not None and self._progress is not None
        finished = False
        try:
            for _ in range(block[0], block[1]):
                job, count = next(self._results)
                self._position += 1
                yield self._record(job, count)
                self._progress.advance(spec.name)
            finished = True
        finally:
            if not finished or self._position >= self._total_jobs():
                self._close()

    def _total_jobs(self) -> int:
        return max((end for _, end in self._blocks.values()), default=0)

    @staticmethod
    def _record(job: Job, count: int) -> dict[str, Any]:
        request = job.request
        return {
            "query_name": job.spec.name,
            "from_date": request.from_date.isoformat(),
            "to_date": request.to_date.isoformat(),
            "count": count,
            "event_name": job.spec.event_name,
            "event_properties": list(job.spec.event_properties),
            "granularity": job.spec.granularity,
        }

    # --- state -----------------------------------------------------------------------------

    def _increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        """Move the bookmark forward only: a re-counted (lookback) period never moves it back.

        The SDK's own increment either refuses a period before the bookmark (is_sorted) or
        moves the bookmark back to it; neither is right for a lookback re-count.
        """
        if context is None:
            return
        spec = self._specs[context["query_name"]]
        state = self.get_context_state(context)
        new_value = latest_record["to_date"]
        current = read_bookmark(state.get("replication_key_value"))
        changed = state.get(FINGERPRINT_KEY, spec.fingerprint) != spec.fingerprint
        if changed or current is None or new_value > current.isoformat():
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = new_value
            state[FINGERPRINT_KEY] = spec.fingerprint
