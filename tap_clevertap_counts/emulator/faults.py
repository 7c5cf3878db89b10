"""Seeded random faults and forced ("injected") answers, hostile ones included.

Faults come from one seeded generator under a lock, so a run with the same seed and the same
request order meets the same faults. Injected answers are a queue the tests fill explicitly: a
hostile-answer test must know exactly which request gets the HTML page.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from typing import Any

from tap_clevertap_counts.emulator import messages as m

# Forced answers that are well-formed JSON: (HTTP status, answer object).
JSON_KINDS: dict[str, tuple[int, dict[str, Any]]] = {
    "auth_401": (401, m.fail(m.INVALID_CREDENTIALS[1])),
    "credentials_400": (400, m.fail(m.CREDENTIALS_MISSING[1])),
    "account_503": (503, m.fail(m.ACCOUNT_ID_MISSING[1])),
    "payload_400": (400, m.fail(m.PAYLOAD_MANDATORY[1])),
    "rejected_400": (400, m.fail(m.ERR_UNKNOWN_PROPERTY)),
    "invalid_query_400": (400, m.fail(m.INVALID_QUERY[1])),
    "invalid_req_id_400": (400, m.fail(m.INVALID_REQUEST_ID[1])),
    "error_processing_400": (400, m.fail(m.ERROR_PROCESSING[1])),
    "busy_429": (429, m.fail(m.TOO_MANY_CONCURRENT[1])),
    "retries_429": (429, m.fail(m.TOO_MANY_RETRIES[1])),
    "server_500": (500, m.fail(m.SERVER_ERROR[1])),
    "later_503": (503, m.fail(m.COME_BACK_LATER[1])),
    "maintenance_503": (503, m.fail(m.MAINTENANCE[1])),
    "success_no_count": (200, {"status": "success"}),
    "count_string": (200, {"status": "success", "count": "12"}),
    "count_float": (200, {"status": "success", "count": 12.5}),
    "count_negative": (200, {"status": "success", "count": -3}),
    "count_null": (200, {"status": "success", "count": None}),
    "unknown_status": (200, {"status": "weird"}),
    "partial_no_req_id": (200, {"status": "partial"}),
    "req_id_string": (200, {"status": "partial", "req_id": "abc"}),
    "fail_200": (200, m.fail(m.SERVER_ERROR[1])),
}
# Forced answers that are not (whole) JSON, or not an answer at all; see hostile.py.
RAW_KINDS = frozenset(
    {"html_200", "html_502", "truncated_json", "empty_body", "huge_body", "reset", "redirect"}
)
# Delays, then answers normally.
DELAY_KINDS = frozenset({"slow"})
KINDS = frozenset(JSON_KINDS) | RAW_KINDS | DELAY_KINDS
# "trends", "trends_submit", "trends_poll": only requests to /1/counts/trends.json; the others
# match requests to any path.
TARGETS = frozenset({"any", "submit", "poll", "trends", "trends_submit", "trends_poll"})


class Faults:
    """The seeded share of 429/500/503 answers over submits and polls."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(f"{seed}|faults")

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(f"{seed}|faults")

    def draw(self, share_429: float, share_500: float, share_503: float) -> tuple[int, str] | None:
        """One draw per request (always, so the sequence does not depend on the shares' zeros)."""
        with self._lock:
            roll = self._rng.random()
            pick = self._rng.random() < 0.5
        if roll < share_429:
            return m.TOO_MANY_CONCURRENT if pick else m.TOO_MANY_RETRIES
        if roll < share_429 + share_500:
            return m.SERVER_ERROR
        if roll < share_429 + share_500 + share_503:
            return m.COME_BACK_LATER if pick else m.MAINTENANCE
        return None


@dataclasses.dataclass
class _Injection:
    kind: str
    remaining: int
    on: str
    skip: int = 0  # matching requests still to let through before the first forced answer


class InjectQueue:
    """Forced answers for the next matching requests, first come first served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Injection] = []

    def add(self, kind: str, times: int = 1, on: str = "any", after: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown injection kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        if on not in TARGETS:
            raise ValueError(f"on must be one of {', '.join(sorted(TARGETS))}, got {on!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if after < 0:
            raise ValueError("after must not be negative")
        with self._lock:
            self._queue.append(_Injection(kind, times, on, after))

    def take(self, request_kind: str, *, trends: bool = False) -> str | None:
        """The kind forced on this request (and one use of it spent), or None."""
        with self._lock:
            for injection in self._queue:
                on = injection.on
                if on in ("any", request_kind) or (
                    trends and on in ("trends", f"trends_{request_kind}")
                ):
                    if injection.skip:  # not its turn yet: the request goes on
                        injection.skip -= 1
                        continue
                    injection.remaining -= 1
                    if injection.remaining == 0:
                        self._queue.remove(injection)
                    return injection.kind
        return None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(injection.remaining for injection in self._queue)
