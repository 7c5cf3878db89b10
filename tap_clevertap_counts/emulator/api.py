"""The counts API itself: from one parsed HTTP request to CleverTap's answer.

Kept apart from socket handling so the order of checks (credentials, forced answers, maintenance,
random faults, payload, validation, concurrency) reads top to bottom in one place.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tap_clevertap_counts.emulator import auth, hostile, trends
from tap_clevertap_counts.emulator import messages as m
from tap_clevertap_counts.emulator.config import EmulatorConfig, changed
from tap_clevertap_counts.emulator.exchange import (
    APIS,
    ROUTES,
    Incoming,
    Outgoing,
    failure,
    log_entry,
    parse_json,
)
from tap_clevertap_counts.emulator.faults import JSON_KINDS, Faults, InjectQueue
from tap_clevertap_counts.emulator.jobs import JobBook
from tap_clevertap_counts.emulator.query import Rejected, parse_query
from tap_clevertap_counts.emulator.reqlog import RequestLog
from tap_clevertap_counts.emulator.store import EventStore

SLOW_DEFAULT_SECONDS = 2.0


class CountsAPI:
    """All of the emulator's state, and the request logic that reads and changes it."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._config = config
        self.store = EventStore(config.seed, account_id=config.account_id)
        self.jobs = JobBook(config.seed, clock)
        self.faults = Faults(config.seed)
        self.injections = InjectQueue()
        self.log = RequestLog(config.log_path, config.passcode)
        self.redirect = hostile.RedirectTarget()

    @property
    def config(self) -> EmulatorConfig:
        """A snapshot: one request sees one consistent configuration."""
        with self._lock:
            return self._config

    def update(self, **changes: object) -> None:
        with self._lock:
            old, new = self._config, changed(self._config, changes)
            if (new.seed, new.account_id) != (old.seed, old.account_id):
                self.store = EventStore(new.seed, account_id=new.account_id)
            if new.seed != old.seed:
                self.jobs.reseed(new.seed)
                self.faults.reseed(new.seed)
            self.log.reopen(new.log_path, new.passcode)
            self._config = new

    def handle(self, request: Incoming) -> Outgoing:
        """Answer one request, log it, and hold the account's slot for as long as it runs."""
        config = self.config
        entry = log_entry(request)
        path = urlsplit(request.target).path
        # One limit per API (CleverTap's "API Request Limit" page), or one for the whole
        # account when `shared_limit` says so: the slot key is what the limit is counted on.
        account = config.account_id
        slots = account
        if not config.shared_limit and path in APIS:
            slots = f"{account}|{APIS[path]}"
        holds_slot = False
        try:
            if entry["kind"] == "other" or (path == trends.PATH and config.trends_off):
                known_path = path in ROUTES and entry["kind"] == "other"
                out = failure(m.METHOD_NOT_ALLOWED if known_path else m.NOT_FOUND)
            elif (denied := auth.check(request.headers, account, config.passcode)) is not None:
                out = failure(denied)
            else:
                req_id = entry["req_id"]
                job_id = req_id if isinstance(req_id, int) else None
                if entry["kind"] == "poll" and self.jobs.is_pending(job_id, slots):
                    entry["inflight"] = self.jobs.load(slots)
                else:
                    entry["inflight"] = self.jobs.arrive(slots)
                    holds_slot = True
                out, holds_slot = self._answer(request, config, entry, slots, holds_slot=holds_slot)
            entry["status"] = out.status
            if entry["answer"] is None:
                entry["answer"] = out.payload
            self.log.append(entry)
            delay = config.slow_seconds
            if entry["injected"] == "slow":
                delay = delay or SLOW_DEFAULT_SECONDS
            if delay:
                time.sleep(delay)
            return out
        finally:
            if holds_slot:
                self.jobs.leave(slots)

    def _answer(
        self,
        request: Incoming,
        config: EmulatorConfig,
        entry: dict[str, Any],
        slots: str,
        *,
        holds_slot: bool,
    ) -> tuple[Outgoing, bool]:
        """The answer of an authenticated request, and whether it still holds its slot (a
        partial job takes the slot over)."""
        kind = entry["kind"]
        path = urlsplit(request.target).path
        forced = self.injections.take(kind, trends=path == trends.PATH)
        if forced is not None:
            entry["injected"] = forced
            if forced != "slow":
                entry["answer"] = forced
                return self._forced(forced, request), holds_slot
        if config.maintenance:
            return failure(m.MAINTENANCE), holds_slot
        fault = self.faults.draw(config.fault_429, config.fault_500, config.fault_503)
        if fault is not None:
            return failure(fault), holds_slot
        unique = ROUTES[path]
        over_limit = entry["inflight"] > config.concurrency_limit
        if kind == "poll":
            over_limit = over_limit and holds_slot  # a running job's poll has its slot already
            return self._poll(entry["req_id"], config, path, slots, over_limit), holds_slot
        if unique is None:
            return self._submit_trends(request.body, config, slots, over_limit)
        return self._submit(request.body, config, unique, slots, over_limit)

    def _forced(self, forced: str, request: Incoming) -> Outgoing:
        if forced in JSON_KINDS:
            status, payload = JSON_KINDS[forced]
            return Outgoing(status, dict(payload))
        if forced == "reset":
            return Outgoing(200, action="reset")
        if forced == "redirect":
            location = self.redirect.start() + request.target
            return Outgoing(302, m.fail("Moved"), action="redirect", location=location)
        raw = hostile.raw_answer(forced)
        return Outgoing(raw.status, raw=raw)

    def _submit(
        self,
        raw_body: bytes | None,
        config: EmulatorConfig,
        unique: bool,
        slots: str,
        over_limit: bool,
    ) -> tuple[Outgoing, bool]:
        body, is_json = parse_json(raw_body)
        if not is_json or body is None:
            return failure(m.PAYLOAD_MANDATORY), True
        try:
            query = parse_query(body, config.current_day(), self.store.EVENTS)
        except Rejected as rejected:
            return Outgoing(400, m.fail(rejected.error)), True
        if over_limit:
            return failure(m.TOO_MANY_CONCURRENT), True
        count = self.store.count_filtered(
            unique, query.event_name, query.filters, query.from_date, query.to_date
        )
        return self._start(config, slots, _endpoint(unique), count, None)

    def _submit_trends(
        self, raw_body: bytes | None, config: EmulatorConfig, slots: str, over_limit: bool
    ) -> tuple[Outgoing, bool]:
        body, is_json = parse_json(raw_body)
        if not is_json or body is None:
            return failure(m.PAYLOAD_MANDATORY), True
        try:
            query = trends.parse_trends(body, config.current_day())
        except Rejected as rejected:
            return Outgoing(400, m.fail(rejected.error)), True
        if over_limit:
            return failure(m.TOO_MANY_CONCURRENT), True
        answer = trends.series(
            self.store,
            query,
            disagree=config.trends_disagree,
            wrong_days=config.trends_wrong_days,
        )
        return self._start(config, slots, "trends", 0, answer)

    def _start(
        self,
        config: EmulatorConfig,
        slots: str,
        endpoint: str,
        count: int,
        payload: dict[str, Any] | None,
    ) -> tuple[Outgoing, bool]:
        """Answer at once, or start a `partial` job that takes the request's slot over."""
        partial, fails, expires = self.jobs.decide(
            config.partial_share, config.async_fail_share, config.expire_share
        )
        if not partial:
            return Outgoing(200, payload or m.success(count)), True
        req_id = self.jobs.start_job(
            account=slots,
            endpoint=endpoint,
            count=count,
            job_seconds=config.job_seconds,
            fails=fails,
            expires=expires,
            ttl=config.req_id_ttl_seconds,
            payload=payload,
        )
        return Outgoing(200, m.partial(req_id)), False

    def _poll(
        self,
        req_id: int | str | None,
        config: EmulatorConfig,
        path: str,
        slots: str,
        over_limit: bool,
    ) -> Outgoing:
        if req_id is None:
            return failure(m.INVALID_QUERY)
        job = None
        if isinstance(req_id, int):
            ttl = config.req_id_ttl_seconds
            job = self.jobs.poll(req_id, slots, APIS[path], ttl)
        if job is None:
            return failure(m.INVALID_REQUEST_ID)
        if not self.jobs.finished(job):
            return Outgoing(200, m.partial(job.req_id))
        if over_limit:
            return failure(m.TOO_MANY_CONCURRENT)
        if job.fails:
            return failure(m.ERROR_PROCESSING)
        return Outgoing(200, dict(job.payload) if job.payload else m.success(job.count))


def _endpoint(unique: bool) -> str:
    return "profiles" if unique else "events"
