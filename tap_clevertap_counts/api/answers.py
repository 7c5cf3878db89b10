"""What one HTTP answer from the counts endpoint means, decided once and in one place.

CleverTap signals everything through a JSON body (`status`, `count`, `req_id`, `error`) and an
HTTP status; proxies and outages add HTML pages, empty bodies and truncated JSON. Each answer is
turned into exactly one `Outcome`, so the client's retry loop never inspects raw responses and
no malformed answer can turn into a record.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, TypeGuard


class Outcome(enum.Enum):
    """What the client must do next."""

    SUCCESS = "success"  # the count is known
    PARTIAL = "partial"  # pending: poll this req_id after the poll interval
    AUTH = "auth"  # credentials wrong or missing: stop the whole run, send nothing more
    REJECTED = "rejected"  # the query itself is invalid: stop, naming the query
    RESUBMIT = "resubmit"  # the pending job is gone: submit the same query again now
    RESUBMIT_LATER = "resubmit_later"  # processing failed: submit again after a backoff wait
    THROTTLED = "throttled"  # too many queries in flight: fewer in flight, then retry
    RATE_LIMITED = "rate_limited"  # blocked for retrying too much: back off, then retry
    TRANSIENT = "transient"  # 5xx, network, malformed answer: back off, then retry
    UNREACHABLE = "unreachable"  # connection refused, host unknown: retried briefly at first
    ENDPOINT = "endpoint"  # 404/redirect/...: the URL is wrong, retrying cannot help


@dataclass(frozen=True)
class Answer:
    """One classified answer; `words` is what CleverTap (or the proxy) said, for messages."""

    outcome: Outcome
    http_status: int | None
    words: str
    count: int | None = None
    req_id: int | None = None
    body: dict[str, Any] | None = None  # a whole success answer (a Trends series), when asked


# CleverTap's error strings (reference page's error table), lower-cased and without a final
# period, mapped to what they mean. The words decide before the HTTP status does: a `fail`
# body arrives with 200 from some proxies, and the same status carries different meanings.
_KNOWN_ERRORS: dict[str, Outcome] = {
    "invalid credentials": Outcome.AUTH,
    "account credentials missing": Outcome.AUTH,
    "12 digit account id mandatory": Outcome.AUTH,
    "payload is mandatory": Outcome.REJECTED,
    "invalid request id": Outcome.RESUBMIT,
    "invalid query": Outcome.RESUBMIT_LATER,
    "error processing, please try again later": Outcome.RESUBMIT_LATER,
    "too many concurrent requests": Outcome.THROTTLED,
    "invalid query blocking this because of too many retries": Outcome.RATE_LIMITED,
    "server error": Outcome.TRANSIENT,
    "please come back later": Outcome.TRANSIENT,
    "system under maintenance. please retry later": Outcome.TRANSIENT,
}

MAX_WORDS = 200  # how much of an unexpected body a message quotes


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_WORDS else flat[:MAX_WORDS] + "..."


def _by_status(http_status: int, words: str) -> Answer:
    """Classify a failure whose words CleverTap never documented."""
    if http_status == 429:
        return Answer(Outcome.THROTTLED, http_status, words)
    if http_status >= 500 or http_status in (408, 425):
        return Answer(Outcome.TRANSIENT, http_status, words)
    if http_status in (401, 403):
        return Answer(Outcome.AUTH, http_status, words)
    if http_status == 400:
        return Answer(Outcome.REJECTED, http_status, words)
    if 300 <= http_status < 400:
        return Answer(Outcome.ENDPOINT, http_status, words)
    if http_status >= 400:
        return Answer(Outcome.ENDPOINT, http_status, words)
    # 2xx with an undocumented failure: treat as a passing fault, never as data.
    return Answer(Outcome.TRANSIENT, http_status, words)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _success(http_status: int, data: dict[str, Any], *, whole: bool) -> Answer:
    if whole and http_status == 200:
        return Answer(Outcome.SUCCESS, http_status, "success", body=data)
    count = data.get("count")
    if http_status == 200 and _is_int(count) and count >= 0:
        return Answer(Outcome.SUCCESS, http_status, "success", count=count)
    return Answer(
        Outcome.TRANSIENT, http_status, f"a success answer without a valid count: {count!r}"
    )


def classify(
    http_status: int, body: bytes, location: str | None = None, *, whole: bool = False
) -> Answer:
    """Turn one HTTP answer into an `Answer`; never raises on any input.

    `whole`: a success answer is kept as it came (Trends answers a series, not a count); its
    shape is for the caller to judge, since a wrong shape there means "do not trust", not
    "retry".
    """
    if 300 <= http_status < 400:
        target = location or "an unnamed location"
        return Answer(Outcome.ENDPOINT, http_status, f"redirected to {target}")
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        described = "an empty body" if not text.strip() else f"a non-JSON body: {_snippet(text)}"
        if http_status == 404:
            return Answer(Outcome.ENDPOINT, http_status, f"not found ({described})")
        # HTML error pages, truncated JSON, empty answers: a proxy or an outage; retry.
        return Answer(Outcome.TRANSIENT, http_status, described)

    status = data.get("status")
    if status == "success":
        return _success(http_status, data, whole=whole)
    if status == "partial":
        req_id = data.get("req_id")
        if http_status == 200 and _is_int(req_id) and req_id > 0:
            return Answer(Outcome.PARTIAL, http_status, "partial", req_id=req_id)
        return Answer(
            Outcome.TRANSIENT, http_status, f"a partial answer without a valid req_id: {req_id!r}"
        )
    if status == "fail":
        error = data.get("error")
        words = error if isinstance(error, str) else _snippet(json.dumps(error))
        key = words.strip().rstrip(".").lower()
        known = _KNOWN_ERRORS.get(key)
        if known is not None:
            return Answer(known, http_status, words)
        if key.startswith("[") and key.endswith("]") and http_status < 500:
            # CleverTap's query validation errors are bracketed ("[unknown event property]"):
            # the query is wrong whatever status a proxy put on the answer.
            return Answer(Outcome.REJECTED, http_status, words)
        return _by_status(http_status, words)
    if http_status >= 300:
        return _by_status(http_status, _snippet(text))
    return Answer(Outcome.TRANSIENT, http_status, f"an unknown status {status!r}")
