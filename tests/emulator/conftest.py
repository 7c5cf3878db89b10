"""Fixtures for the emulator's own tests: in-process emulators on port 0 and a thin client.

These tests pin the emulator to CleverTap's reference page, so they speak raw HTTP through
`requests` and never use the tap's client.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator

TODAY = datetime.date(2024, 6, 30)
PROFILES = "/1/counts/profiles.json"
EVENTS = "/1/counts/events.json"
HEADERS = {
    "X-CleverTap-Account-Id": DEMO_ACCOUNT_ID,
    "X-CleverTap-Passcode": DEMO_PASSCODE,
    "Content-Type": "application/json",
}
PIZZA_BODY: dict[str, Any] = {
    "event_name": "choseNewFavoriteFood",
    "event_properties": [{"name": "value", "operator": "contains", "value": "piz"}],
    "from": 20240101,
    "to": 20240107,
}


class Client:
    """A keep-alive session against one emulator, with the demo credentials by default."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.session = requests.Session()

    def submit(
        self,
        body: Any = PIZZA_BODY,
        path: str = PROFILES,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        sent = HEADERS if headers is None else headers
        kwargs.setdefault("timeout", 10)
        if isinstance(body, str | bytes) or body is None:
            return self.session.post(self.emulator.url + path, data=body, headers=sent, **kwargs)
        return self.session.post(self.emulator.url + path, json=body, headers=sent, **kwargs)

    def poll(
        self,
        req_id: object,
        path: str = PROFILES,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        sent = HEADERS if headers is None else headers
        params = None if req_id is None else {"req_id": str(req_id)}
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.emulator.url + path, params=params, headers=sent, **kwargs)

    def close(self) -> None:
        self.session.close()


def fail(error: str) -> dict[str, str]:
    return {"status": "fail", "error": error}


@pytest.fixture
def make_emu(make_emulator: Callable[..., Emulator]) -> Callable[..., Emulator]:
    """Start emulators with settings over test defaults: a fixed today, synchronous answers."""

    def make(**changes: Any) -> Emulator:
        defaults: dict[str, Any] = {
            "seed": 42,
            "today": TODAY,
            "partial_share": 0.0,
            "job_seconds": 0.05,
        }
        return make_emulator(**{**defaults, **changes})

    return make


@pytest.fixture
def emu(make_emu: Callable[..., Emulator]) -> Emulator:
    return make_emu()


@pytest.fixture
def client(emu: Emulator) -> Iterator[Client]:
    c = Client(emu)
    yield c
    c.close()
