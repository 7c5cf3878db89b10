"""A clock that moves only when told, for tests that make time an input.

With the real clock a test that wants "the job is still running" or "the req_id has expired"
races the machine: a 30 ms job is over before a loaded machine sends its first poll. Given a
`ManualClock` (`Emulator(config, clock=clock)`), a job ends, and a req_id expires, exactly when
the test calls `advance`. Only the job book reads it; the request log keeps wall-clock times.
"""

from __future__ import annotations

import threading


class ManualClock:
    """Monotonic seconds that stand still until `advance` (thread-safe: the server reads it)."""

    def __init__(self, start: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._now = start

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
