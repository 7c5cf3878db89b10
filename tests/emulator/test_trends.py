"""The emulator's per-API concurrency limit (and its shared-limit switch) and its Trends API:
daily series equal to its own per-day counts, the refusals, and the two switches that make
Trends untrustworthy (`trends_disagree`) or absent (`trends_off`).

Jobs that must stay running are given minutes (`job_seconds=600`), so nothing here races a
clock.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.emulator import __main__ as emulator_main
from tests.emulator.conftest import EVENTS, PIZZA_BODY, PROFILES, Client, fail

TRENDS = "/1/counts/trends.json"
LAUNCHES_BODY: dict[str, Any] = {"event_name": "App Launched", "from": 20240101, "to": 20240107}


def trends_body(first: int = 20240101, last: int = 20240131, **extra: Any) -> dict[str, Any]:
    return {
        "event_name": "App Launched",
        "from": first,
        "to": last,
        "groups": {"d": {"trend_type": "daily"}},
        **extra,
    }


def days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def test_each_api_has_its_own_limit(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=600)
    client = Client(emu)
    for _ in range(3):
        assert client.submit(LAUNCHES_BODY).json()["status"] == "partial"
    refused = client.submit(LAUNCHES_BODY)
    assert (refused.status_code, refused.json()) == (429, fail("Too many concurrent requests"))
    # the other two APIs still have their 3 slots each
    for path, body in ((EVENTS, LAUNCHES_BODY), (TRENDS, trends_body())):
        for _ in range(3):
            assert client.submit(body, path=path).json()["status"] == "partial"
        assert client.submit(body, path=path).status_code == 429
    client.close()


def test_one_shared_limit_counts_every_api_together(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=600, shared_limit=True)
    client = Client(emu)
    client.submit(LAUNCHES_BODY)
    client.submit(LAUNCHES_BODY, path=EVENTS)
    client.submit(trends_body(), path=TRENDS)
    for path, body in ((PROFILES, LAUNCHES_BODY), (EVENTS, LAUNCHES_BODY), (TRENDS, trends_body())):
        assert client.submit(body, path=path).status_code == 429, path
    assert [e["inflight"] for e in emu.requests()] == [1, 2, 3, 4, 4, 4]
    client.close()


def test_a_daily_series_equals_the_per_day_counts(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu()
    client = Client(emu)
    first, last = datetime.date(2024, 1, 1), datetime.date(2024, 1, 31)
    for unique, count in ((True, emu.store.count_profiles), (False, emu.store.count_events)):
        answer = client.submit(trends_body(unique=unique), path=TRENDS).json()
        expected = {
            d.strftime("%Y%m%d"): count("App Launched", [], d, d) for d in days(first, last)
        }
        assert answer == {"status": "success", "d": expected}
        assert len(set(expected.values())) > 1  # real data, not a constant
    # each per-day count is also what the query's own endpoint answers for that day
    day = client.submit({**LAUNCHES_BODY, "from": 20240115, "to": 20240115}).json()
    assert day["count"] == emu.store.count_profiles(
        "App Launched", [], first.replace(day=15), first.replace(day=15)
    )
    client.close()


def test_a_partial_series_is_polled_like_a_count(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=0.0)  # finished by its first poll
    client = Client(emu)
    submitted = client.submit(trends_body(unique=True), path=TRENDS).json()
    assert submitted["status"] == "partial"
    assert client.poll(submitted["req_id"], path=PROFILES).json() == fail("Invalid request ID")
    answer = client.poll(submitted["req_id"], path=TRENDS).json()
    assert answer["status"] == "success"
    day = datetime.date(2024, 1, 9)
    assert answer["d"]["20240109"] == emu.store.count_profiles("App Launched", [], day, day)
    client.close()


def test_what_trends_refuses(emu: Emulator, client: Client) -> None:
    cases = [
        (
            trends_body(event_properties=PIZZA_BODY["event_properties"]),
            "[event_properties not supported by trends]",
        ),
        (trends_body(20230101, 20240102), "[date range over a year]"),
        (trends_body(groups={"w": {"trend_type": "weekly"}}), "[only daily trends are emulated]"),
        (trends_body(groups={}), "[missing or invalid groups]"),
        ({**trends_body(), "groups": None}, "[missing or invalid groups]"),
        (trends_body(unique="yes"), "[invalid unique]"),
        (trends_body(20240101, 20991231), "[to date in the future]"),
    ]
    for body, error in cases:
        answer = client.submit(body, path=TRENDS)
        assert (answer.status_code, answer.json()) == (400, fail(error)), body
    # a year holding a 29 February has 366 days: the longest span allowed
    leap_year = client.submit(trends_body(20230701, 20240630), path=TRENDS)
    assert leap_year.status_code == 200
    assert len(leap_year.json()["d"]) == 366
    too_long = client.submit(trends_body(20230630, 20240630), path=TRENDS)
    assert too_long.json() == fail("[date range over a year]")


def test_the_disagree_switch_moves_only_the_unique_series(
    make_emu: Callable[..., Emulator],
) -> None:
    emu = make_emu(trends_disagree=True)
    client = Client(emu)
    unique = client.submit(trends_body(unique=True), path=TRENDS).json()["d"]
    events = client.submit(trends_body(unique=False), path=TRENDS).json()["d"]
    day = datetime.date(2024, 1, 5)
    assert unique["20240105"] == emu.store.count_profiles("App Launched", [], day, day) + 1
    assert events["20240105"] == emu.store.count_events("App Launched", [], day, day)
    client.close()


def test_the_off_switch_makes_trends_unknown(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(trends_off=True)
    client = Client(emu)
    answer = client.submit(trends_body(), path=TRENDS)
    assert (answer.status_code, answer.json()) == (404, fail("Not found"))
    assert client.submit(LAUNCHES_BODY).status_code == 200  # the other APIs answer as ever
    client.close()


def test_an_answer_forced_on_trends_spares_the_other_apis(emu: Emulator, client: Client) -> None:
    emu.inject("server_500", on="trends")
    assert client.submit(LAUNCHES_BODY).status_code == 200
    assert client.submit(trends_body(), path=TRENDS).status_code == 500
    assert client.submit(trends_body(), path=TRENDS).status_code == 200


def test_the_command_line_switches_reach_the_config() -> None:
    parser = emulator_main._parser()
    config = emulator_main.config_from_args(
        parser.parse_args(["--shared-limit", "--trends-off", "--trends-disagree"])
    )
    assert (config.shared_limit, config.trends_off, config.trends_disagree) == (True, True, True)
    default = emulator_main.config_from_args(parser.parse_args([]))
    assert (default.shared_limit, default.trends_off, default.trends_disagree) == (False,) * 3
