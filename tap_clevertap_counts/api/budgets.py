"""The budgets a count spends, each on its own clock, and the one clock all of a run's pools share.

A count can wait for three different reasons, and each has its own setting: a free slot (429s:
`busy_timeout_seconds`), the job's computation (`partial` polls: `poll_timeout_seconds`) and a
failing server (5xx, network: `max_tries` failures in a row). Mixing them made a query that
waited an hour for a slot fail at its first poll, 429s add up to "gave up after 10 tries", and
the backoff waits of a burst of 503s between two 429s stop a run as "busy". So every stretch of
a count's time is charged to one budget only, the one of the answer that began it: from a
`partial` to the next answer the job computes, from a 429 to the next answer the count waits
for a slot, and from a failure to the next answer it waits out a failing server, which is
counted in tries, not seconds (`CountClocks`).

The busy clock is also the account's, not one request's: the tap's own pools may share one
account limit (CleverTap's per-API limits are documented, not guaranteed), and while any of the
run's jobs is being accepted the account is serving the run, so none of its requests is failed
as "busy". A request fails only after `busy_timeout_seconds` of waiting for a slot in which
CleverTap accepted none of the run's jobs; and the message blames another client only when the
run's own jobs cannot explain the 429s.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterator

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

    @property
    def computing(self) -> int:
        """The run's jobs accepted and not yet over: the slots the run holds now."""
        with self._lock:
            return self._computing

    def since_accepted(self, stretches: list[tuple[float, float]]) -> float:
        """The seconds of `stretches` after the run's last accepted job."""
        with self._lock:
            accepted_at = self._accepted_at
        return sum(max(0.0, end - max(start, accepted_at)) for start, end in stretches)

    def own_jobs_explain(self, *, holding: bool) -> tuple[int, bool]:
        """(the run's jobs computing now, whether they explain the 429s). They do when the
        refused request is itself a poll of one of them (`holding`: its job has its slot, so
        the run holds slots, whoever holds the others), or when they hold as many slots as the
        account was ever seen to give the run at once. Fewer, or none, and someone else holds
        the rest."""
        with self._lock:
            computing = self._computing
            return computing, computing > 0 and (holding or computing >= self._most)


class Wait(enum.Enum):
    """What a count does until its next answer, decided by its last answer."""

    POLL = "poll"  # its job computes (`partial`): the poll budget
    SLOT = "slot"  # it waits for a slot (429): the busy budget
    RETRY = "retry"  # it waits out a failure (5xx, network): counted in tries, not seconds


class CountClocks:
    """One count's time, each stretch charged to the budget of the answer that began it.

    Also the count's place in the account's computing jobs: from its job's acceptance until
    the job is over or lost (a job CleverTap lost and that was submitted again keeps its poll
    time; the waits for a slot in between do not count).
    """

    def __init__(self, account: AccountClock) -> None:
        self._account = account
        self._doing: Wait | None = None  # sending its first request: no budget
        self._since = account.now()
        self._polled = 0.0
        self._refused: list[tuple[float, float]] = []  # waits for a slot since the last partial
        self._holds_slot = False
        self.slot_waits: Iterator[float] | None = None  # growing waits between 429s

    @property
    def holds_slot(self) -> bool:
        """Whether the count's job is accepted and still computing (its polls go on)."""
        return self._holds_slot

    def answered(self, doing: Wait | None) -> None:
        """An answer came: the stretch since the last one goes to its budget, and the next
        stretch to `doing`'s."""
        now = self._account.now()
        self._charge(now)
        self._doing, self._since = doing, now

    def _charge(self, now: float) -> None:
        if self._doing is Wait.POLL:
            self._polled += now - self._since
        elif self._doing is Wait.SLOT:
            self._refused.append((self._since, now))

    def accepted(self) -> None:
        """A job (or a re-submitted one) was accepted: it holds a slot of the account."""
        self.ended()
        self._holds_slot = True
        self._account.accepted()

    def ended(self) -> None:
        """The job is over, or gone: its slot is free."""
        if self._holds_slot:
            self._holds_slot = False
            self._account.ended()

    def computing(self) -> None:
        """A `partial` answer: the job computes, so the count is no longer waiting for a slot."""
        self._refused.clear()
        self.slot_waits = None

    def polled(self) -> float:
        """Seconds spent on the poll budget: the stretches that began with a `partial`."""
        running = self._account.now() - self._since if self._doing is Wait.POLL else 0.0
        return self._polled + running

    def waited_for_slot(self) -> float:
        """Seconds spent on the busy budget: the stretches that began with a 429 since the
        last `partial`, counted only after the run's last accepted job."""
        stretches = list(self._refused)
        if self._doing is Wait.SLOT:
            stretches.append((self._since, self._account.now()))
        return self._account.since_accepted(stretches)


def busy_message(
    said: str, what: str, waited: float, account: AccountClock, *, holding: bool
) -> str:
    """The one line a run stops with when 429s outlast busy_timeout_seconds: whose jobs hold
    the slots, as far as the run can tell (`holding`: the refused request polls a job of its
    own, which has its slot)."""
    head = f"CleverTap answered {said} to {what} for {waited:.0f} s"
    tail = "run again when it is done, or raise busy_timeout_seconds to wait longer"
    if "too many retries" in said.lower():
        return (
            f"{head}: CleverTap blocked the account's queries for retrying too often, and kept "
            f"blocking them; {tail}"
        )
    computing, explained = account.own_jobs_explain(holding=holding)
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
