"""The budgets a count spends, each on its own clock, and the one clock all of a run's pools share.

A count can wait for three different reasons, and each has its own setting: a free slot (429s
before the job is accepted: `busy_timeout_seconds`), the job's computation (`partial` polls:
`poll_timeout_seconds`) and a failing server (5xx, network: `max_tries` consecutive failures).
Mixing them made a query that waited an hour for a slot fail at its first poll, and 429s add up
to "gave up after 10 tries". So each budget only runs while its own kind of waiting goes on.

The busy clock is the account's, not one request's: the tap's own pools may share one account
limit (CleverTap's per-API limits are documented, not guaranteed), and while any of the run's
jobs is being accepted the account is serving the run, so none of its requests is failed as
"busy". A request fails only after `busy_timeout_seconds` in which CleverTap accepted none of the
run's jobs; and the message blames another client only when the run's own jobs cannot explain
the 429s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# The clock of every run's budgets; a test makes time an input by replacing it (a ManualClock).
CLOCK: Callable[[], float] = time.monotonic


class AccountClock:
    """What the account has done for one run, across its pools: when it last accepted one of the
    run's jobs, and how many of them compute now (and at most, so far)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.now = clock or CLOCK
        self._lock = threading.Lock()
        self._accepted_at = self.now()
        self._computing = 0
        self._most = 0
        self.accepted_jobs = 0  # in all: a test waits for it to match what the API accepted

    def accepted(self) -> None:
        """One of the run's jobs was accepted (a count, or a `partial` job): the account is
        serving the run, so every busy wait of the run starts again from now."""
        with self._lock:
            self._accepted_at = self.now()
            self.accepted_jobs += 1
            self._computing += 1
            self._most = max(self._most, self._computing)

    def ended(self) -> None:
        """An accepted job gave its slot back (counted, failed, or lost by CleverTap)."""
        with self._lock:
            self._computing -= 1

    def busy_for(self, since: float) -> float:
        """Seconds spent waiting for a slot by a request refused since `since`: only the time
        in which none of the run's jobs was accepted."""
        with self._lock:
            return self.now() - max(since, self._accepted_at)

    def own_jobs_explain(self) -> tuple[int, bool]:
        """(the run's jobs computing now, whether they explain the 429s): they do when they
        hold as many slots as the account was ever seen to give the run at once. Fewer, or
        none, and someone else holds the rest."""
        with self._lock:
            return self._computing, self._computing > 0 and self._computing >= self._most


@dataclass
class BusyStreak:
    """A count's 429s since its last accepted job: since when, and its own growing waits."""

    since: float
    waits: Iterator[float]


class PollClock:
    """The seconds a count's accepted jobs have been computing: a job lost by CleverTap and
    submitted again keeps its time, the waits for a slot in between do not count."""

    def __init__(self, account: AccountClock) -> None:
        self._account = account
        self._spent = 0.0
        self._since: float | None = None

    def accepted(self) -> None:
        """A job (or a re-submitted one) was accepted: its computing time starts now."""
        self.ended()
        self._since = self._account.now()
        self._account.accepted()

    def ended(self) -> None:
        """The job is over, or gone: its slot is free and its clock stops."""
        if self._since is None:
            return
        self._spent += self._account.now() - self._since
        self._since = None
        self._account.ended()

    def spent(self) -> float:
        running = 0.0 if self._since is None else self._account.now() - self._since
        return self._spent + running


def busy_message(said: str, what: str, waited: float, account: AccountClock) -> str:
    """The one line a run stops with when 429s outlast busy_timeout_seconds: whose jobs hold
    the slots, as far as the run can tell."""
    head = f"CleverTap answered {said} to {what} for {waited:.0f} s"
    tail = "run again when it is done, or raise busy_timeout_seconds to wait longer"
    if "too many retries" in said.lower():
        return (
            f"{head}: CleverTap blocked the account's queries for retrying too often, and kept "
            f"blocking them; {tail}"
        )
    computing, explained = account.own_jobs_explain()
    if explained:
        return (
            f"{head}, while {computing} of this run's own queries held the account's slots "
            "without finishing (its APIs may share one limit); raise busy_timeout_seconds to "
            "wait longer for them, or lower max_concurrent_queries"
        )
    return (
        f"{head}: the account's concurrent query slots stayed taken, probably by another client "
        f"of the account (this run held {computing}); {tail}"
    )
