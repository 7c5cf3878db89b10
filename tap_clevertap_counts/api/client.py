"""CleverTap's counts API: submit a query, poll until it is counted, survive everything else.

Usable without the SDK: `CleverTapClient(...).count(CountRequest(...))` returns one exact
count or raises one of `errors`' exceptions. Which answers are fatal, which are retried and which
resubmit the query is decided by `answers.classify`; this module only carries it out: waits
(exponential with jitter, capped), the poll loop, the concurrency slot, and the stop signal that
makes every worker send nothing more once the run is failing. Each kind of waiting spends only
its own budget (`budgets.py`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from typing_extensions import override

from tap_clevertap_counts.errors import (
    AccountBusyError,
    AuthError,
    EndpointError,
    PollTimeoutError,
    QueryRejectedError,
    RetriesExhaustedError,
    StoppedError,
    UnreachableError,
)

from .answers import Answer, Outcome
from .budgets import AccountClock, CountClocks, Wait, busy_message
from .limiter import AdaptiveLimiter
from .request import (
    DEFAULT_MAX_TRIES,
    EVENTS_PATH,
    PROFILES_PATH,
    TRENDS_PATH,
    ClientSettings,
    CountRequest,
    Question,
)
from .transport import Transport, UnsendableCredentialsError

logger = logging.getLogger("tap_clevertap_counts.client")

UNREACHABLE_TRIES = 3  # a host that never answered: a few quick tries, then say so
__all__ = [
    "DEFAULT_MAX_TRIES",
    "EVENTS_PATH",
    "PROFILES_PATH",
    "TRENDS_PATH",
    "CleverTapClient",
    "ClientSettings",
    "CountRequest",
]


class CleverTapClient:
    """Counts one query at a time per calling thread; safe to share across threads."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        limiter: AdaptiveLimiter | None = None,
        stop: threading.Event | None = None,
        account: AccountClock | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or AdaptiveLimiter(1)
        self.stop = stop or threading.Event()
        # Shared by the run's pools: a job accepted by any of them restarts every busy wait.
        self.account = account or AccountClock(clock)
        self._clock = self.account.now
        self._answered = False  # any HTTP answer yet: a refused connection is then a blip
        self._url = settings.base_url.rstrip("/") + settings.path
        # Trends is an optional fast path: its refusals (a 404, a 400) mean "count the other
        # way", so they end that one series, never the run.
        self._optional = settings.path == TRENDS_PATH
        self._transport = Transport(
            self._url,
            account_id=settings.account_id,
            passcode=settings.passcode,
            timeout=settings.request_timeout,
            whole=self._optional,
        )

    @override
    def __repr__(self) -> str:
        return f"CleverTapClient({self._url!r}, account_id={self.settings.account_id!r})"

    def count(self, request: CountRequest, priority: int = 0) -> int:
        """The exact count for `request`, holding one concurrency slot while it runs."""
        answer = self._ask(request, priority)
        assert answer.count is not None
        return answer.count

    def series(self, request: Question, priority: int = 0) -> dict[str, Any]:
        """The whole success answer of a Trends request (its shape is the caller's to judge)."""
        answer = self._ask(request, priority)
        assert answer.body is not None
        return answer.body

    def _ask(self, request: Question, priority: int) -> Answer:
        self.limiter.acquire(priority, self.stop)
        clean = False
        try:
            answer = self._count(request, priority)
            clean = True
            return answer
        finally:
            self.limiter.release(clean=clean)

    def _stop_run(self) -> None:
        """A failure no retry fixes: nothing more is sent by the run (but Trends' own
        failures only end that series)."""
        if not self._optional:
            self.stop.set()

    def _count(self, request: Question, priority: int) -> Answer:
        clocks = CountClocks(self.account)
        try:
            return self._submit_and_poll(request, priority, clocks)
        finally:
            clocks.ended()

    def _submit_and_poll(self, request: Question, priority: int, clocks: CountClocks) -> Answer:
        settings = self.settings
        waits = settings.backoff_waits()
        failures = 0  # in a row: a 429 or an accepted job ends the streak
        req_id: int | None = None
        while True:
            sent = self._clock()
            answer = self._exchange(request, req_id)
            outcome = answer.outcome
            if answer.http_status is not None:
                self._answered = True
            if outcome is Outcome.SUCCESS:
                clocks.answered(None)
                if req_id is None:
                    clocks.accepted()  # counted at once: accepted, and over (in `_count`)
                return answer
            if outcome is Outcome.PARTIAL:
                clocks.answered(Wait.POLL)  # until the next answer, the job computes
                now = self._clock()
                new_job = answer.req_id != req_id
                if new_job:
                    clocks.accepted()
                # A poll every poll_interval, not every interval plus a round trip: the first
                # one an interval after the job was accepted, each next one an interval after
                # the previous poll went out.
                poll_due = (now if new_job else sent) + settings.poll_interval
                req_id = answer.req_id
                failures = 0
                self._still_computing(request, clocks, req_id)
                self._wait(max(0.0, poll_due - now))
                continue
            self._raise_if_fatal(request, answer)

            if outcome in (Outcome.THROTTLED, Outcome.RATE_LIMITED):
                clocks.answered(Wait.SLOT)  # until the next answer, it waits for a slot
                failures = 0  # a busy account is capacity, not a failing server
                self._wait_while_busy(
                    request, answer, clocks, submitting=req_id is None, priority=priority
                )
                continue

            clocks.answered(Wait.RETRY)  # counted in tries: no seconds of any budget
            failures += 1
            # A host that never answered is likely a wrong address: say so after a few tries.
            # Once it has answered, a refusal is a blip (a restart) and gets every try.
            unreachable = outcome is Outcome.UNREACHABLE and not self._answered
            tries = UNREACHABLE_TRIES if unreachable else settings.max_tries
            if failures >= tries and unreachable:
                self._stop_run()
                raise UnreachableError(
                    f"cannot reach {self._url}: {answer.words} ({failures} tries). Check "
                    "api_url (or region), and that the server or emulator is running"
                )
            if failures >= tries:
                raise RetriesExhaustedError(
                    f"Gave up on {request.describe()} after {failures} tries; CleverTap's last "
                    f"answer: {_said(answer)}. It may be overloaded or down: run again later"
                )
            if outcome in (Outcome.RESUBMIT, Outcome.RESUBMIT_LATER):
                clocks.ended()  # the job is gone: its slot is free
                req_id = None
            if outcome is Outcome.RESUBMIT:
                logger.info("%s: %s; submitting it again", request.describe(), _said(answer))
                continue
            wait = next(waits)
            logger.warning(
                "%s: %s; try %d of %d in %.2f s",
                request.describe(),
                _said(answer),
                failures + 1,
                tries,
                wait,
            )
            self._wait(wait)

    def _still_computing(self, request: Question, clocks: CountClocks, req_id: int | None) -> None:
        """A `partial`: the count no longer waits for a slot; its polls go on while the poll
        budget lasts."""
        clocks.computing()
        if clocks.polled() >= self.settings.poll_timeout:
            raise PollTimeoutError(
                f"CleverTap was still computing {request.describe()} after "
                f"{self.settings.poll_timeout:g} s (req_id {req_id}); raise "
                "poll_timeout_seconds or count shorter periods"
            )

    def _wait_while_busy(
        self,
        request: Question,
        answer: Answer,
        clocks: CountClocks,
        *,
        submitting: bool,
        priority: int,
    ) -> None:
        """A 429: the account's slots are taken (perhaps by another client). That is
        capacity, not failure: wait for a slot for as long as busy_timeout allows, counting
        only the waits that followed 429s, since the run's last accepted job."""
        settings = self.settings
        waited = clocks.waited_for_slot()
        if waited >= settings.busy_timeout:
            self._stop_run()
            said, what = _said(answer), request.describe()
            raise AccountBusyError(
                busy_message(said, what, waited, self.account, holding=clocks.holds_slot)
            )
        if submitting and answer.outcome is Outcome.THROTTLED and self.limiter.throttled():
            self.limiter.yield_slot(priority, self.stop)  # a slot frees when one of ours ends
            return
        if answer.outcome is Outcome.RATE_LIMITED:
            self.limiter.throttled()
        if clocks.slot_waits is None:
            clocks.slot_waits = settings.backoff_waits()
        wait = next(clocks.slot_waits)
        logger.info(
            "%s: %s; the account is busy, waiting %.2f s for a slot (%.0f s of "
            "busy_timeout_seconds=%g spent)",
            request.describe(),
            _said(answer),
            wait,
            waited,
            settings.busy_timeout,
        )
        self._wait(wait)

    def _exchange(self, request: Question, req_id: int | None) -> Answer:
        """Submit the query, or poll its pending job; nothing once the run is stopping."""
        if self.stop.is_set():
            raise StoppedError("stopping")
        try:
            if req_id is None:
                return self._transport.send("POST", data=json.dumps(request.payload()))
            return self._transport.send("GET", params={"req_id": str(req_id)})
        except UnsendableCredentialsError:
            self._stop_run()
            raise AuthError(
                "account_id or passcode holds a line break or a character outside Latin-1, "
                "which cannot be sent to CleverTap; check both in the config"
            ) from None

    def _raise_if_fatal(self, request: Question, answer: Answer) -> None:
        """Stop the run on answers that no retry can fix; nothing more is sent after them."""
        outcome = answer.outcome
        if outcome not in (Outcome.AUTH, Outcome.REJECTED, Outcome.ENDPOINT):
            return
        if self._optional:
            raise QueryRejectedError(_said(answer))  # quoted in the fallback's warning
        self._stop_run()
        if outcome is Outcome.AUTH:
            raise AuthError(
                f"CleverTap refused the credentials: {_said(answer)}. Check account_id and "
                "passcode, and that region (or api_url) is the account's region"
            )
        if outcome is Outcome.REJECTED and _about_dates(answer.words):
            raise QueryRejectedError(
                f"CleverTap refused the dates of {request.describe()}: {_said(answer)}. Its "
                "'today' comes before the last day asked for: set timezone to the account's "
                "time zone, or end_date to a day CleverTap has finished"
            )
        if outcome is Outcome.REJECTED:
            raise QueryRejectedError(
                f"CleverTap rejected {request.describe()}: {_said(answer)}. Fix that query's "
                "event_name or event_properties in the config"
            )
        raise EndpointError(
            f"{self.settings.base_url} does not answer like CleverTap's counts API: "
            f"{_said(answer)}. Check region or api_url"
        )

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise StoppedError("stopping")


def _about_dates(words: str) -> bool:
    """A validation error about the range (`[to date in the future]`), not the query."""
    lowered = words.lower()
    return "date" in lowered or "future" in lowered


def _said(answer: Answer) -> str:
    if answer.http_status is None:
        return answer.words
    return f"HTTP {answer.http_status} '{answer.words}'"
