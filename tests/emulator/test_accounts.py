"""Any account, each with its own data: `--account-id`/`--passcode` make another account, whose
counts differ from the demo's for the same event and day, while the demo account keeps exactly
the numbers it always had (the demo, the README and older tests rely on them)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import requests

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, EventStore
from tests.emulator.test_cli import start

from .conftest import PROFILES, Client

WEEK = [datetime.date(2024, 3, 1) + datetime.timedelta(days=i) for i in range(7)]
OTHER = "ACME-123-0002"


def test_the_demo_account_keeps_the_numbers_it_had() -> None:
    """Measured with `EventStore(seed=42)` before accounts had data of their own (b9d2fd2)."""
    store = EventStore(seed=42)
    assert store.account_id == DEMO_ACCOUNT_ID
    assert store.count_profiles("App Launched", [], WEEK[0], WEEK[-1]) == 1045
    pizza: list[dict[str, object]] = [{"name": "value", "operator": "contains", "value": "piz"}]
    jan = (datetime.date(2025, 1, 1), datetime.date(2025, 1, 31))
    assert store.count_events("choseNewFavoriteFood", pizza, *jan) == 3491
    day = datetime.date(2026, 9, 1)
    assert store.count_profiles("Charged", [], day, day) == 89


def test_each_account_has_its_own_counts_for_the_same_event_and_day() -> None:
    stores = [EventStore(seed=42, account_id=a) for a in (DEMO_ACCOUNT_ID, OTHER, "ACME-123-0003")]
    for event in ("App Launched", "Charged", "choseNewFavoriteFood"):
        daily = [[s.count_profiles(event, [], d, d) for d in WEEK] for s in stores]
        for i, first in enumerate(daily):
            for second in daily[i + 1 :]:
                assert sum(a != b for a, b in zip(first, second, strict=True)) >= 5, event
    # and each account's data is as reproducible as the demo's
    again = EventStore(seed=42, account_id=OTHER)
    assert again.events_on(WEEK[0], "Charged") == stores[1].events_on(WEEK[0], "Charged")


def test_an_account_changed_at_runtime_serves_its_own_data(
    make_emu: Callable[..., Emulator],
) -> None:
    emu = make_emu()
    body = {"event_name": "App Launched", "from": 20240301, "to": 20240307}
    client = Client(emu)
    demo = client.submit(body).json()["count"]
    emu.update(account_id=OTHER)
    headers = {"X-CleverTap-Account-Id": OTHER, "X-CleverTap-Passcode": DEMO_PASSCODE}
    other = client.submit(body, headers=headers).json()["count"]
    client.close()
    assert demo == EventStore(seed=42).count_profiles("App Launched", [], WEEK[0], WEEK[-1])
    assert other == EventStore(seed=42, account_id=OTHER).count_profiles(
        "App Launched", [], WEEK[0], WEEK[-1]
    )
    assert demo != other
    assert emu.store.account_id == OTHER


def test_the_command_serves_the_account_it_is_given() -> None:
    emulator = start(
        "--account-id", OTHER, "--passcode", "acme-passcode-5x", "--partial-share", "0"
    )
    try:
        url = emulator.url + PROFILES
        body = {"event_name": "Charged", "from": 20240301, "to": 20240301}
        own = {"X-CleverTap-Account-Id": OTHER, "X-CleverTap-Passcode": "acme-passcode-5x"}
        answer = requests.post(url, headers=own, json=body, timeout=10)
        demo = {"X-CleverTap-Account-Id": DEMO_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_PASSCODE}
        refused = requests.post(url, headers=demo, json=body, timeout=10)
    finally:
        code, out, err = emulator.stop()
    truth = EventStore(seed=42, account_id=OTHER).count_profiles("Charged", [], WEEK[0], WEEK[0])
    assert answer.json() == {"status": "success", "count": truth}
    assert truth != EventStore(seed=42).count_profiles("Charged", [], WEEK[0], WEEK[0])
    assert refused.status_code == 401, "only the account it serves exists"
    assert OTHER in emulator.first_line
    assert "acme-passcode-5x" not in out + err
    assert code == 0
