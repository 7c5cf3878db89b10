"""A real CleverTap host is polled at most every 30 s: a shorter poll_interval_seconds against
anything but loopback (the emulator) draws one warning naming the setting and CleverTap's 30 s."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.tap import TapClevertapCounts

from .conftest import run_cli, tap_config

UNRESOLVABLE = "https://clevertap-counts-test.invalid"  # .invalid never resolves (RFC 6761)


def warnings_about_polls(log: str) -> list[str]:
    return [line for line in log.splitlines() if "WARNING" in line and "poll_interval" in line]


def test_a_short_poll_interval_against_a_real_host_is_warned_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator, api_url=UNRESOLVABLE, poll_interval_seconds=0.01)
    run = run_cli([], config, tmp_path)
    assert run.returncode == 1  # the host does not resolve: the run fails, after the warning
    (line,) = warnings_about_polls(run.stderr)
    assert "poll_interval_seconds is 0.01 s" in line
    assert "30 s CleverTap asks" in line
    assert "clevertap-counts-test.invalid" in line


def test_the_emulator_on_loopback_may_be_polled_fast(emulator: Emulator, tmp_path: Path) -> None:
    run = run_cli([], tap_config(emulator, end_date="2024-03-01"), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert warnings_about_polls(run.stderr) == []


@pytest.mark.parametrize(
    ("region", "seconds", "warned"),
    [("us1", 29.5, True), ("us1", 30, False), ("eu1", 60, False), ("in1", 1, True)],
)
def test_which_settings_are_warned(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, region: str, seconds: float, warned: bool
) -> None:
    config = tap_config(emulator, region=region, poll_interval_seconds=seconds)
    del config["api_url"]  # the region's real host
    tap = TapClevertapCounts(config=config)
    with caplog.at_level(logging.WARNING):
        tap._warn_fast_polls()
    said = [r.getMessage() for r in caplog.records if "poll_interval_seconds" in r.getMessage()]
    assert len(said) == warned
