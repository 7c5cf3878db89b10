"""What the API saw, from the emulator's request log, and the physical bound to compare with.

Time "as the API sees it" runs from the first request's arrival to the last one's (the last
answer follows within a millisecond on loopback). A job is one (endpoint, submit body) pair,
i.e. one (stream, query, period): requests are attributed to jobs through the submit's path and
body and the `req_id` its `partial` answer carried, so requests per job are counted, not
estimated.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ApiView:
    """One run as the emulator logged it."""

    requests: int
    submits: int
    polls: int
    throttled: int  # HTTP 429 answers
    throttled_polls: int  # of which to polls (a finished job's poll needs a free slot)
    jobs_answered: int  # (query, period) pairs that got their count
    api_seconds: float
    max_requests_per_job: int
    max_accepted_requests_per_job: int  # the same, not counting requests answered 429
    peak_inflight: int  # the most slots the account held, as logged on arrival
    jobs_submitted: int  # distinct jobs with at least one accepted (not 429) submit
    max_accepted_submits_per_job: int  # 1 when nothing was submitted twice
    jobs_by_endpoint: dict[str, int] = field(default_factory=dict)  # answered, by path
    # Each answered job's time at the API, its accepted submit's arrival to the arrival of the
    # request that got its count: the slot-seconds the account was busy with it.
    busy_seconds: float = 0.0

    @property
    def mean_job_seconds(self) -> float:
        return self.busy_seconds / self.jobs_answered if self.jobs_answered else 0.0

    def occupancy(self, slots: int) -> float:
        """The share of the slots' time, over the API time, that jobs held them."""
        return self.busy_seconds / (slots * self.api_seconds) if self.api_seconds else 0.0

    @property
    def requests_per_job(self) -> float:
        return self.requests / self.jobs_answered if self.jobs_answered else 0.0

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0


def endpoint(entry: dict[str, Any]) -> str:
    """The request's path without its query string: `/1/counts/profiles.json`, ..."""
    return urlsplit(str(entry.get("path") or "")).path


def _job_key(entry: dict[str, Any]) -> str:
    return f"{endpoint(entry)} {json.dumps(entry['body'], sort_keys=True)}"


def api_view(entries: list[dict[str, Any]]) -> ApiView:
    """Summarise a request log (the emulator's JSON lines, parsed)."""
    per_job: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    accepted_submits: Counter[str] = Counter()
    job_of_req: dict[int, str] = {}
    answered: set[str] = set()
    submitted_at: dict[str, float] = {}
    busy = 0.0
    for entry in entries:
        if entry["kind"] == "submit":
            key = _job_key(entry)
            if entry["status"] != 429:
                accepted_submits[key] += 1
                submitted_at[key] = float(entry["t"])
        else:
            key = job_of_req.get(entry["req_id"], f"unknown req_id {entry['req_id']}")
        per_job[key] += 1
        if entry["status"] != 429:
            accepted[key] += 1
        answer = entry.get("answer") or {}
        if isinstance(answer, dict) and answer.get("status") == "partial":
            job_of_req[int(answer["req_id"])] = key
        if isinstance(answer, dict) and answer.get("status") == "success":
            answered.add(key)
            busy += float(entry["t"]) - submitted_at.get(key, float(entry["t"]))
    times = [float(entry["t"]) for entry in entries]
    return ApiView(
        requests=len(entries),
        submits=sum(1 for e in entries if e["kind"] == "submit"),
        polls=sum(1 for e in entries if e["kind"] == "poll"),
        throttled=sum(1 for e in entries if e["status"] == 429),
        throttled_polls=sum(1 for e in entries if e["status"] == 429 and e["kind"] == "poll"),
        jobs_answered=len(answered),
        api_seconds=max(times) - min(times) if times else 0.0,
        max_requests_per_job=max(per_job.values(), default=0),
        max_accepted_requests_per_job=max(accepted.values(), default=0),
        peak_inflight=max((int(e.get("inflight") or 0) for e in entries), default=0),
        jobs_submitted=len(accepted_submits),
        max_accepted_submits_per_job=max(accepted_submits.values(), default=0),
        jobs_by_endpoint=dict(Counter(key.split(" ", 1)[0] for key in answered)),
        busy_seconds=busy,
    )


def job_time_in_polls(job_seconds: float, poll_interval: float) -> float:
    """A job's time as a polling client can observe it: whole poll intervals, rounded up."""
    return math.ceil(job_seconds / poll_interval - 1e-9) * poll_interval


def lower_bound(jobs: int, slots: int, job_seconds: float, poll_interval: float) -> float:
    """No client can finish sooner: ceil(jobs / slots) rounds of one observed job time."""
    return math.ceil(jobs / slots) * job_time_in_polls(job_seconds, poll_interval)


def max_requests_per_job(job_seconds: float, poll_interval: float) -> int:
    """One submit plus one poll per interval until the job is done."""
    return 1 + math.ceil(job_seconds / poll_interval - 1e-9)
