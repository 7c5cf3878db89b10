"""The jobs of one run: every (stream, query, period) to count, in the order records are emitted.

Streams in the tap's order, queries in config order, periods ascending within each: the order
the SDK syncs streams and partitions and the bookmarks advance. Built on demand from the
periods, so that a many-year backfill of many queries holds two dates per period in memory
rather than a request object.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

from typing_extensions import override

from tap_clevertap_counts.api.request import CountRequest
from tap_clevertap_counts.config.periods import Period
from tap_clevertap_counts.config.queries import QuerySpec

from .counted import Counted

BlockKey = tuple[str, str]  # (stream name, query name): one partition of one stream


@dataclass(frozen=True)
class Job:
    stream: str
    spec: QuerySpec
    request: CountRequest
    by_trends: bool = False  # counted through Trends, not the stream's own endpoint


class Plan(Sequence[Job]):
    """The run's jobs, built when asked for: a 10-year backfill of many queries keeps only
    its periods (two dates each) in memory, not a request object per period."""

    def __init__(
        self,
        blocks: Iterable[tuple[str, QuerySpec, list[Period]]],
        counted: Mapping[BlockKey, Counted] | None = None,
    ) -> None:
        self._blocks = [(stream, spec, periods) for stream, spec, periods in blocks]
        self._starts = list(itertools.accumulate((len(p) for *_, p in self._blocks), initial=0))
        self._counted = dict(counted or {})
        self._by_trends: set[int] = set()

    def counted(self, stream: str, spec: QuerySpec) -> Counted:
        """The periods of (stream, query) emitted before this run: each a re-count
        (lookback_days, a full-table sync)."""
        found = self._counted.get((stream, spec.name))
        return Counted(spec.granularity) if found is None else found

    def mark_trends(self, position: int) -> None:
        """Position `position` was counted through Trends (before its result is put)."""
        self._by_trends.add(position)

    @override
    def __len__(self) -> int:
        return self._starts[-1]

    @overload
    def __getitem__(self, index: int) -> Job: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Job]: ...
    @override
    def __getitem__(self, index: int | slice) -> Job | Sequence[Job]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        block = bisect.bisect_right(self._starts, index) - 1
        # an empty block shares its start with the next one: take the last block starting here
        stream, spec, periods = self._blocks[block]
        first, last = periods[index - self._starts[block]]
        request = CountRequest(spec.name, spec.event_name, spec.event_properties, first, last)
        return Job(stream, spec, request, index in self._by_trends)

    def blocks(self) -> list[tuple[str, QuerySpec, list[Period], int]]:
        """(stream, spec, periods, position of the first period) of every block, in order."""
        return [
            (stream, spec, periods, start)
            for (stream, spec, periods), start in zip(self._blocks, self._starts, strict=False)
        ]

    def duplicates(
        self, paths: dict[str, str], exclude: set[int] | frozenset[int] = frozenset()
    ) -> dict[int, list[int]]:
        """Position -> the later positions that ask the very same question of CleverTap.

        The same endpoint, event, filters and dates are one job whichever queries ask it (a
        `week` and a `rolling_7d` of one event share their Monday-to-Sunday windows; two queries
        may differ only in name). Only blocks that share an endpoint and a definition are
        compared, so a run of distinct queries keeps no per-period index. Positions in
        `exclude` (counted another way: Trends, which shares its days itself) are left out.
        """
        groups: dict[tuple[str, str, str], list[tuple[int, list[Period]]]] = {}
        for stream, spec, periods, start in self.blocks():
            filters = json.dumps(list(spec.event_properties), sort_keys=True)
            groups.setdefault((paths[stream], spec.event_name, filters), []).append(
                (start, periods)
            )
        owners: dict[int, list[int]] = {}
        for blocks in groups.values():
            if len(blocks) < 2:
                continue
            first_asked: dict[Period, int] = {}
            for start, periods in blocks:
                for offset, period in enumerate(periods):
                    if start + offset in exclude:
                        continue
                    owner = first_asked.setdefault(period, start + offset)
                    if owner != start + offset:
                        owners.setdefault(owner, []).append(start + offset)
        return owners

    def spans(self) -> dict[BlockKey, tuple[int, int]]:
        """(stream, query) -> [first, end) job indexes, for every planned block, empty or not."""
        return {
            (stream, spec.name): (start, start + len(periods))
            for (stream, spec, periods), start in zip(self._blocks, self._starts, strict=False)
        }
