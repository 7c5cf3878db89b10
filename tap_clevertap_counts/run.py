"""One sync's count jobs, across every selected stream and query: planned once, run together.

CleverTap allows a few count queries in flight per account, and each takes at least a poll
interval, so a run's throughput is decided by keeping those slots busy across everything it
owes, whatever stream or query a job belongs to. The SDK, though, syncs streams one after
another and partitions one after another, and a bookmark may only pass a period once its record
is out. So the run is planned once, when the first record is asked for, from every selected
stream's bookmarks; one `OrderedRunner` works through the whole plan in the order the SDK will
ask for it; and each (stream, query) block is handed out in order. A block the SDK asks for
ahead of the plan is reached by reading through the ones before it and keeping their results
for later: nothing is ever submitted twice within a run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import Protocol

from .client import CleverTapClient, ClientSettings
from .limiter import AdaptiveLimiter
from .periods import Period
from .plan import BlockKey, Job, Plan
from .progress import Progress
from .queries import QuerySpec
from .scheduler import OrderedRunner
from .settings import Settings


class CountingStream(Protocol):
    """What the planner needs of a stream: its name, endpoint, and what each query owes."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    def owed_periods(self, spec: QuerySpec) -> list[Period]: ...

    def job_limit(self) -> int | None: ...

    @property
    def selected_by_default(self) -> bool: ...


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
        self._handed: set[BlockKey] = set()
        self._buffer: dict[int, tuple[Job, int]] = {}
        self._position = 0
        self._abandoned = False  # a failure or an early stop: this run hands out nothing more
        self.progress = Progress(
            {labels[key]: end - first for key, (first, end) in self._spans.items()}, logger
        )
        self._runner: OrderedRunner[Job, int] | None = None
        self._results: Iterator[tuple[Job, int]] = iter(())
        if len(plan):
            self._start(settings, paths)

    def _start(self, settings: Settings, paths: dict[str, str]) -> None:
        stop = threading.Event()
        limiter = AdaptiveLimiter(settings.max_concurrent_queries)  # one account, one limit
        clients = {
            stream: CleverTapClient(
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
                limiter=limiter,
                stop=stop,
            )
            for stream, path in paths.items()
        }
        self._runner = OrderedRunner(
            self._plan,
            lambda job, index: clients[job.stream].count(job.request, priority=index),
            workers=settings.max_concurrent_queries,
            window=max(64, 16 * settings.max_concurrent_queries),
            stop=stop,
        )
        self._results = iter(self._runner)

    def __len__(self) -> int:
        return len(self._plan)

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
                yield self._result(index)
                self.progress.advance(self._labels[key])
            finished = True
        finally:
            if not finished:
                self.close()

    def _result(self, index: int) -> tuple[Job, int]:
        while self._position <= index:
            self._buffer[self._position] = next(self._results)
            self._position += 1
        return self._buffer.pop(index)

    def close(self) -> None:
        """Give the run up: no job starts, jobs in flight stop at their next request.

        A run that handed out every job needs no closing: its workers have ended.
        """
        self._abandoned = True
        if self._runner is not None:
            self._runner.close()


def plan_run(
    streams: Sequence[CountingStream],
    settings: Settings,
    logger: logging.Logger,
) -> Run:
    """Plan every selected stream's owed periods, in the order the SDK will sync them."""
    blocks: list[tuple[str, QuerySpec, list[Period]]] = []
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
            suffix = "" if len(streams) == 1 else f" ({stream.name})"
            labels[stream.name, spec.name] = f"{spec.name}{suffix}"
    plan = Plan(blocks)
    logger.info(
        "counting %d periods for %d queries of %s up to %s with CleverTap at %s (account %s), "
        "up to %d queries in flight",
        len(plan),
        len(settings.queries),
        " and ".join(stream.name for stream in streams),
        settings.end_date,
        settings.base_url,
        settings.account_id,
        settings.max_concurrent_queries,
    )
    if settings.end_date >= settings.today and settings.lookback_days < 1:
        logger.warning(
            "end_date %s is today in %s, which is not over: its counts will still grow; "
            "set lookback_days to 1 or more so that the next run counts it again",
            settings.end_date,
            settings.timezone,
        )
    paths = {stream.name: stream.path for stream in streams}
    return Run(plan, labels, settings, paths, logger)
