"""One sync's count jobs, across every selected stream and query: planned once, run together.

CleverTap allows a few count queries in flight per account and API, and each takes at least a
poll interval, so a run's throughput is decided by keeping every API's slots busy across
everything it owes, whatever stream or query a job belongs to. The SDK, though, syncs streams
one after another and partitions one after another, and a bookmark may only pass a period once
its record is out. So the run is planned once, when the first record is asked for, from every
selected stream's bookmarks; a pool per API (its own limiter and workers, `scheduler.LaneRunner`)
works through that API's jobs from the start of the run; and each (stream, query) block is
handed out in order, its counts read by position. A question two queries share is asked once
(`Plan.duplicates`), and long daily backlogs may be counted through Trends (`trends.py`); either
way each planned period comes out as its own (Job, count) pair, and nothing is ever submitted
twice within a run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from functools import partial
from typing import Any, Protocol

from tap_clevertap_counts.api.budgets import AccountClock
from tap_clevertap_counts.api.client import CleverTapClient, ClientSettings
from tap_clevertap_counts.api.limiter import AdaptiveLimiter
from tap_clevertap_counts.api.request import TRENDS_PATH
from tap_clevertap_counts.api.scheduler import LaneRunner
from tap_clevertap_counts.config.periods import Period
from tap_clevertap_counts.config.queries import QuerySpec
from tap_clevertap_counts.config.settings import Settings
from tap_clevertap_counts.planning.counted import Counted
from tap_clevertap_counts.planning.plan import BlockKey, Job, Plan

from . import trends as trends_path
from . import trends_plan
from .progress import Progress


class CountingStream(Protocol):
    """What the planner needs of a stream: its name, endpoint, and what each query owes."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    def owed_periods(self, spec: QuerySpec) -> list[Period]: ...

    def counted(self, spec: QuerySpec) -> Counted: ...

    def job_limit(self) -> int | None: ...

    @property
    def selected_by_default(self) -> bool: ...


_Block = tuple[str, QuerySpec, list[Period], int]  # stream, query, periods, first position


class Run:
    """The plan of one sync and the workers counting it; hands out results block by block."""

    def __init__(
        self,
        plan: Plan,
        labels: dict[BlockKey, str],
        settings: Settings,
        paths: dict[str, str],
        logger: logging.Logger,
    ) -> None:
        self._plan = plan
        self._spans = plan.spans()
        self._labels = labels
        self._paths = paths
        self.logger = logger
        self._handed: set[BlockKey] = set()
        # each stream reads its stretch of the plan in order: its next position, its end
        self._next = {stream: first for (stream, _), (first, _) in reversed(self._spans.items())}
        self._ends = {stream: end for (stream, _), (_, end) in self._spans.items()}
        self._abandoned = False  # a failure or an early stop: this run hands out nothing more
        self.progress = Progress(
            {labels[key]: end - first for key, (first, end) in self._spans.items()}, logger
        )
        self._runner: LaneRunner[int] | None = None
        self._clients: dict[str, CleverTapClient] = {}
        self._duplicates: dict[int, list[int]] = {}
        if len(plan):
            self._start(settings)
        elif settings.backfill_with_trends:  # the line says why nothing used Trends
            logger.info("%s", trends_plan.choose(plan, paths, settings.today).describe())

    def _start(self, settings: Settings) -> None:
        stop = threading.Event()
        blocks = self._plan.blocks()
        trends = (
            trends_plan.choose(self._plan, self._paths, settings.today)
            if settings.backfill_with_trends
            else None
        )
        by_trends = trends.positions() if trends else set()
        apis = sorted(
            {self._paths[stream] for stream, *_ in blocks} | ({TRENDS_PATH} if by_trends else set())
        )
        # A pool per API: CleverTap's limit is per account and API, and a 429 from one API
        # says nothing of the others. One busy clock for all: should the APIs share one limit,
        # a pool's jobs being accepted shows the account serves the run (budgets.py).
        account = AccountClock()
        self._clients = {
            path: CleverTapClient(
                ClientSettings(
                    base_url=settings.base_url,
                    account_id=settings.account_id,
                    passcode=settings.passcode,
                    request_timeout=settings.request_timeout_seconds,
                    poll_interval=settings.poll_interval_seconds,
                    poll_timeout=settings.poll_timeout_seconds,
                    busy_timeout=settings.busy_timeout_seconds,
                    path=path,
                ),
                limiter=AdaptiveLimiter(settings.max_concurrent_queries),
                stop=stop,
                account=account,
            )
            for path in apis
        }
        # Trends shares its days between queries itself (trends.Group)
        self._duplicates = self._plan.duplicates(self._paths, exclude=by_trends)
        skip = by_trends | {position for later in self._duplicates.values() for position in later}
        feeds = {path: self._feed(path, blocks, skip) for path in apis}
        # Each stream's pool runs ahead of that stream's reader, whatever the other stream
        # does, but only so far: a count waiting for an earlier one of its stream is lost to a
        # SIGKILL (no STATE can cover it before its record is out), so at most `ahead` of a
        # stream's periods are in flight or waiting (the loss bound of docs/state.md).
        self._runner = LaneRunner(
            len(self._plan),
            feeds,
            {path: settings.max_concurrent_queries for path in apis},
            window=run_ahead(settings.max_concurrent_queries),
            stop=stop,
            segments=sorted({first for stream, first in self._next.items()}),
        )
        if trends is not None:
            self.logger.info("%s", trends.describe())
            for group in trends.groups:
                trends_path.TrendsGroup(self, group).queue()
        self._runner.start()

    def _feed(
        self, path: str, blocks: list[_Block], skip: set[int]
    ) -> Iterator[tuple[int, Callable[[], None]]]:
        """The positions this API counts one by one, in order: neither a day Trends counts
        nor a question asked earlier in the plan."""
        for stream, _, periods, start in blocks:
            if self._paths[stream] != path:
                continue
            for position in range(start, start + len(periods)):
                if position not in skip:
                    yield position, partial(self._count_task, position)

    # --- what a Trends block asks of the run (trends.Host) -----------------------------------

    def count_own(self, position: int) -> int:
        """Count one planned period through its stream's endpoint; every query asking the same
        question gets the answer."""
        assert self._runner is not None
        job = self._plan[position]
        value = self._clients[self._paths[job.stream]].count(job.request, priority=position)
        self.put(position, value)
        return value

    def _count_task(self, position: int) -> None:
        self.count_own(position)

    def put(self, position: int, value: int, *, by_trends: bool = False) -> None:
        """A position's count, and the same for every later position asking the same."""
        assert self._runner is not None
        if by_trends:
            self._plan.mark_trends(position)  # before the result: its record says so
        self._runner.put(position, value)
        for later in self._duplicates.get(position, ()):
            self._runner.put(later, value)

    def add(self, lane: str, priority: int, task: Callable[[], None]) -> None:
        assert self._runner is not None
        self._runner.add(lane, priority, task)

    def series(self, request: trends_path.TrendsRequest, priority: int) -> dict[str, Any]:
        return self._clients[TRENDS_PATH].series(request, priority=priority)

    # --- the reader's side -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._plan)

    def limiters(self) -> dict[str, AdaptiveLimiter]:
        """Each API's pool (endpoint path -> its limiter): what it learned, for tests and bench."""
        return {path: client.limiter for path, client in self._clients.items()}

    def serves(self, key: BlockKey) -> bool:
        """Whether this run can still hand out `key`'s block (else the caller plans anew)."""
        return not self._abandoned and key in self._spans and key not in self._handed

    def results(self, key: BlockKey) -> Generator[tuple[Job, int], None, None]:
        """The block's (job, count) pairs in period order; nothing for a block that owes none.

        The progress line advances once the caller has taken a result, which is when its
        record goes out. If the caller stops early or a job fails, the run is given up: its
        workers send nothing more.
        """
        self._handed.add(key)
        first, end = self._spans[key]
        finished = False
        try:
            for index in range(first, end):
                assert self._runner is not None
                value = self._runner.result(index)
                self._next[key[0]] = index + 1
                yield self._plan[index], value
                self.progress.advance(self._labels[key])
            finished = True
        finally:
            if not finished:
                self.close()

    def ready(self, stream: str) -> bool:
        """Whether `stream`'s next record would come without waiting for a count."""
        position = self._next.get(stream, 0)
        if self._runner is None or self._abandoned or position >= self._ends.get(stream, 0):
            return True
        return self._runner.ready(position)

    def wait(self, streams: Sequence[str], timeout: float) -> None:
        """Until one of `streams` is `ready`, or `timeout` seconds passed."""
        if self._runner is None or any(self.ready(stream) for stream in streams):
            return
        self._runner.wait_any([self._next[stream] for stream in streams], timeout)

    def close(self) -> None:
        """Give the run up: no job starts, jobs in flight stop at their next request.

        A run that handed out every job needs no closing: its workers have ended.
        """
        self._abandoned = True
        if self._runner is not None:
            self._runner.close()


def run_ahead(max_concurrent_queries: int) -> int:
    """How many of a stream's periods, from the next one its records need, may be in flight
    or counted and waiting: twice its pool, so that one slow job lets the others go on."""
    return 2 * max_concurrent_queries


def plan_run(
    streams: Sequence[CountingStream],
    settings: Settings,
    logger: logging.Logger,
) -> Run:
    """Plan every selected stream's owed periods, in the order the SDK will sync them."""
    blocks: list[tuple[str, QuerySpec, list[Period]]] = []
    counted: dict[BlockKey, Counted] = {}
    labels: dict[BlockKey, str] = {}
    # --test selects every stream and takes one record of each: one count proves the
    # connection, so the run plans that many, for the streams a plain sync would run first
    # (the SDK syncs streams by name, and would spend it on an opt-in one).
    limits = [limit for stream in streams if (limit := stream.job_limit()) is not None]
    allowed: dict[BlockKey, int] = {}
    if limits:
        left = min(limits)
        for stream in sorted(streams, key=lambda s: not s.selected_by_default):
            for spec in settings.queries:
                take = min(left, len(stream.owed_periods(spec)))
                allowed[stream.name, spec.name], left = take, left - take
    for stream in streams:
        for spec in settings.queries:
            periods = stream.owed_periods(spec)
            if limits:
                periods = periods[: allowed[stream.name, spec.name]]
            blocks.append((stream.name, spec, periods))
            counted[stream.name, spec.name] = stream.counted(spec)
            suffix = "" if len(streams) == 1 else f" ({stream.name})"
            labels[stream.name, spec.name] = f"{spec.name}{suffix}"
    plan = Plan(blocks, counted)
    logger.info(
        "counting %d periods for %d queries of %s up to %s with CleverTap at %s (account %s), "
        "up to %d queries in flight per API",
        len(plan),
        len(settings.queries),
        " and ".join(stream.name for stream in streams),
        settings.end_date,
        settings.base_url,
        settings.account_id,
        settings.max_concurrent_queries,
    )
    paths = {stream.name: stream.path for stream in streams}
    return Run(plan, labels, settings, paths, logger)
