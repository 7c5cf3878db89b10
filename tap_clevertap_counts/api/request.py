"""What one count asks of CleverTap, and how a client talks to it: plain data, no I/O.

Kept apart from the submit/poll loop (`client.py`) so that planning (`plan.py`) and the loop
share one definition of a request, and the waits between tries are set in one place.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import backoff

PROFILES_PATH = "/1/counts/profiles.json"
EVENTS_PATH = "/1/counts/events.json"
TRENDS_PATH = "/1/counts/trends.json"
# Tries in a row that fail (5xx, network, malformed answers) before giving up: CleverTap's 503s
# come in bursts, so at least 8. A 429 is not one: it spends busy_timeout_seconds instead, and
# ends the streak like an accepted job (budgets.py).
DEFAULT_MAX_TRIES = 10


class Question(Protocol):
    """Anything the client can ask: a count, or a Trends series."""

    def payload(self) -> dict[str, Any]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class CountRequest:
    """One count: a query over one date range (a period)."""

    query_name: str
    event_name: str
    event_properties: tuple[dict[str, Any], ...] | list[dict[str, Any]]
    from_date: datetime.date
    to_date: datetime.date

    def payload(self) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "event_properties": list(self.event_properties),
            "from": int(self.from_date.strftime("%Y%m%d")),
            "to": int(self.to_date.strftime("%Y%m%d")),
        }

    def describe(self) -> str:
        return f"query '{self.query_name}' ({self.from_date}..{self.to_date})"


@dataclass
class ClientSettings:
    """Everything a client needs; the passcode is kept out of repr on purpose."""

    base_url: str
    account_id: str
    passcode: str = field(repr=False)
    request_timeout: float = 60.0
    poll_interval: float = 30.0
    poll_timeout: float = 3600.0
    max_tries: int = DEFAULT_MAX_TRIES
    path: str = PROFILES_PATH
    busy_timeout: float = 7200.0

    def backoff_waits(self) -> Iterator[float]:
        """Waits between tries: exponential, with jitter, capped.

        Measured in the poll interval's scale so that a time-scaled run (tests, demo, an
        emulator) backs off in the same proportion as CleverTap's real 30 s: from 1 s up to
        60 s between tries at the default interval.
        """
        first = min(1.0, self.poll_interval)
        cap = min(60.0, max(1.0, 2 * self.poll_interval))
        waits = backoff.expo(base=2, factor=first, max_value=cap)
        next(waits)  # the generator's priming value
        for wait in waits:
            yield wait / 2 + random.uniform(0, wait / 2)
