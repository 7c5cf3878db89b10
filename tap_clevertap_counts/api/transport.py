"""One HTTP exchange with CleverTap, turned into an `Answer`, with nothing leaking out of it.

Kept apart from the submit/poll loop because this is where the outside world is hostile: it
sends the credentials only to the configured URL (no redirects, no proxy or netrc from the
environment), reads at most 1 MB within the request timeout however the body trickles in or
decompresses, turns every network failure into a transient answer, and quotes unexpected
answers with the passcode taken out (a proxy's error page may echo the request's headers).
"""

from __future__ import annotations

import dataclasses
import http.client
import socket
import threading
import time
from typing import Any

import requests
import urllib3
from typing_extensions import override

from tap_clevertap_counts import __version__

from .answers import Answer, Outcome, classify

MAX_BODY_BYTES = 1_000_000  # a count answer is tens of bytes; anything huge is not one


class UnsendableCredentialsError(Exception):
    """The credentials cannot be put into a header (a line break, a non-Latin-1 character)."""


class Transport:
    """Sends requests to one URL with the account's headers; one session per thread."""

    def __init__(
        self, url: str, *, account_id: str, passcode: str, timeout: float, whole: bool = False
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.whole = whole  # success answers kept whole (Trends), not read as a count
        self._headers = {
            "X-CleverTap-Account-Id": account_id,
            "X-CleverTap-Passcode": passcode,
            "Content-Type": "application/json",
            "User-Agent": f"tap-clevertap-counts/{__version__}",
        }
        self._local = threading.local()
        # The passcode as it may come back in an answer: as sent (Latin-1), and as UTF-8.
        self._secrets = {
            passcode.encode(encoding, errors="ignore") for encoding in ("latin-1", "utf-8")
        } - {b""}

    @override
    def __repr__(self) -> str:
        return f"Transport({self.url!r})"

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no netrc or proxy env may add or see credentials
            self._local.session = session
        return session

    def send(self, method: str, **kwargs: Any) -> Answer:
        """One HTTP exchange, as an `Answer`; network trouble becomes a transient answer."""
        deadline = time.monotonic() + self.timeout
        try:
            with self._session().request(
                method,
                self.url,
                headers=self._headers,
                timeout=self.timeout,
                allow_redirects=False,  # credentials must never follow a redirect
                stream=True,
                **kwargs,
            ) as response:
                body = _read_capped(response.raw, deadline)
                status = response.status_code
                location = response.headers.get("Location")
        except requests.Timeout:
            body = None
        except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
            raise UnsendableCredentialsError from None
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
        ) as exc:
            if (why := _unreachable(exc)) is not None:
                return Answer(Outcome.UNREACHABLE, None, why)
            return Answer(
                Outcome.TRANSIENT,
                None,
                f"network error talking to {self.url} ({type(exc).__name__})",
            )
        if body is None:
            return Answer(
                Outcome.TRANSIENT,
                None,
                f"no answer within request_timeout_seconds={self.timeout:g}",
            )
        if len(body) > MAX_BODY_BYTES:
            return Answer(Outcome.TRANSIENT, status, "an answer over 1 MB, not a count")
        answer = classify(status, body, location, whole=self.whole)
        if answer.outcome in (Outcome.SUCCESS, Outcome.PARTIAL):
            return answer
        # Messages quote unexpected answers: quote them without the passcode (taken out
        # before the quote is cut to length).
        for secret in self._secrets:
            body = body.replace(secret, b"***")
            location = location and location.replace(secret.decode("latin-1"), "***")
        return dataclasses.replace(answer, words=classify(status, body, location).words)


def _unreachable(exc: BaseException) -> str | None:
    """Why no connection could be opened at all (refused, unknown host), else None.

    These say the address is wrong or nothing listens there, unlike a reset or a timeout
    mid-answer; the cause is found down the exception chain requests and urllib3 build.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, urllib3.exceptions.NameResolutionError | socket.gaierror):
            return "its host name does not resolve"
        if isinstance(seen, ConnectionRefusedError):
            return "the connection was refused (nothing listens on that port)"
        if isinstance(seen, urllib3.exceptions.MaxRetryError):
            seen = seen.reason
            continue
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args else None)
        if not isinstance(seen, BaseException):
            return None
    return None


def _read_capped(raw: Any, deadline: float) -> bytes | None:
    """The decoded body, at most one byte over the cap; None if it outlasts `deadline`.

    The request timeout bounds each wait for bytes, not the whole answer: a body that trickles
    in a byte at a time would otherwise hold the run for as long as the server likes. Reading
    one network chunk at a time also bounds what a compressed body may decode to.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY_BYTES:
        chunk = raw.read1(MAX_BODY_BYTES + 1 - size, decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            return None
    return b"".join(chunks)
