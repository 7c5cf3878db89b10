"""The jobs of one run: every (query, period) to count, in the order records are emitted.

Queries in config order, periods ascending within each: the order the SDK syncs partitions and
the bookmark advances. Built on demand from the periods, so that a many-year backfill of many
queries holds two dates per period in memory rather than a request object.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import overload

from typing_extensions import override

from .client import CountRequest
from .periods import Period
from .queries import QuerySpec


@dataclass(frozen=True)
class Job:
    spec: QuerySpec
    request: CountRequest


class Plan(Sequence[Job]):
    """The run's jobs, built when asked for: a 10-year backfill of many queries keeps only
    its periods (two dates each) in memory, not a request object per period."""

    def __init__(self, blocks: Iterable[tuple[QuerySpec, list[Period]]]) -> None:
        self._blocks = [(spec, periods) for spec, periods in blocks if periods]
        self._starts = list(itertools.accumulate((len(p) for _, p in self._blocks), initial=0))

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
        spec, periods = self._blocks[block]
        first, last = periods[index - self._starts[block]]
        request = CountRequest(spec.name, spec.event_name, spec.event_properties, first, last)
        return Job(spec, request)

    def spans(self) -> dict[str, tuple[int, int]]:
        """query name -> [first, end) job indexes, for the queries that have jobs."""
        return {
            spec.name: (start, start + len(periods))
            for (spec, periods), start in zip(self._blocks, self._starts, strict=False)
        }
