"""One HTTP exchange with the emulator: the request the socket layer read, the answer to send
back, and the request's entry in the log.

Kept apart from `api`, whose `CountsAPI` decides the answers, so that what a request and an
answer are (and what the log keeps of a request: what was asked, never by whom) is read in one
place by both the socket layer (`handler`) and the API.
"""

from __future__ import annotations

import dataclasses
import json
import time
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tap_clevertap_counts.emulator import hostile, trends
from tap_clevertap_counts.emulator import messages as m

# Path -> whether it counts distinct profiles (True) or occurrences (False); None: Trends,
# whose body says which (`unique`).
ROUTES: dict[str, bool | None] = {
    "/1/counts/profiles.json": True,
    "/1/counts/events.json": False,
    trends.PATH: None,
}
# Path -> the API whose concurrency limit a request counts against (CleverTap: 3 per API).
APIS = {
    "/1/counts/profiles.json": "profiles",
    "/1/counts/events.json": "events",
    trends.PATH: "trends",
}
_RESET_BODY = b'{"status":"success","count":7138}'


@dataclasses.dataclass(frozen=True)
class Incoming:
    """What the socket layer read: the body is None when the request had none."""

    method: str
    target: str
    headers: Message
    body: bytes | None


@dataclasses.dataclass
class Outgoing:
    """What to send back. `action` is "normal", "reset" (cut mid-body) or "redirect"."""

    status: int
    payload: dict[str, Any] | None = None
    raw: hostile.RawAnswer | None = None
    action: str = "normal"
    location: str | None = None

    def body(self) -> bytes:
        if self.action == "reset":
            return _RESET_BODY
        if self.raw is not None:
            return self.raw.body
        return json.dumps(self.payload).encode() if self.payload is not None else b""

    def content_type(self) -> str | None:
        if self.raw is not None:
            return self.raw.content_type
        return "application/json"


def failure(pair: tuple[int, str]) -> Outgoing:
    return Outgoing(pair[0], m.fail(pair[1]))


def parse_json(body: bytes | None) -> tuple[object, bool]:
    """(parsed body, whether it is JSON); CleverTap reads the body whatever the Content-Type."""
    if not body:
        return None, False
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=_no_constants), True
    except (UnicodeDecodeError, ValueError):
        return body.decode("utf-8", errors="replace"), False


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def log_entry(request: Incoming) -> dict[str, Any]:
    """The log entry of a request, before it is answered: what was asked, never by whom."""
    url = urlsplit(request.target)
    kind = {"POST": "submit", "GET": "poll"}.get(request.method, "other")
    if url.path not in ROUTES:
        kind = "other"
    body: object = None
    if request.method == "POST":
        body, _ = parse_json(request.body)
    req_id: int | str | None = None
    if kind == "poll":
        raw_id = (parse_qs(url.query).get("req_id") or [""])[0]
        if raw_id:
            req_id = int(raw_id) if raw_id.isdigit() and raw_id.isascii() else raw_id
    return {
        "t": time.time(),
        "method": request.method,
        "path": request.target,
        "kind": kind,
        "body": body,
        "req_id": req_id,
        "status": 0,
        "answer": None,
        "inflight": 0,
        "injected": None,
    }
