"""Progress of a long backfill, in the log: periods done and left, rate, elapsed and ETA.

A two-year daily backfill of ten queries takes most of a day against CleverTap, so the person
watching a Meltano log must see that it moves and when it will end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """Counts emitted periods per query and logs a line at most every `every` seconds."""

    def __init__(
        self,
        totals: Mapping[str, int],
        logger: logging.Logger,
        *,
        every: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._totals = dict(totals)
        self._done = dict.fromkeys(totals, 0)
        self._logger = logger
        self._every = every
        self._clock = clock
        self._started = clock()
        self._last_log = self._started

    @property
    def total(self) -> int:
        return sum(self._totals.values())

    @property
    def done(self) -> int:
        return sum(self._done.values())

    def advance(self, query: str) -> None:
        self._done[query] += 1
        now = self._clock()
        if self._done[query] == self._totals[query] or now - self._last_log >= self._every:
            self._last_log = now
            self._logger.info("%s", self.line(query, now))

    def line(self, query: str, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = max(now - self._started, 1e-9)
        done, total = self.done, self.total
        rate = done / elapsed
        eta = _duration((total - done) / rate) if rate > 0 else "unknown"
        return (
            f"progress: query '{query}' {self._done[query]}/{self._totals[query]} periods; "
            f"all queries {done}/{total} ({100 * done / max(total, 1):.1f}%); "
            f"{rate:.2f} periods/s; elapsed {_duration(elapsed)}; ETA {eta}"
        )
