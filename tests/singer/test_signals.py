"""A tap's SIGINT/SIGTERM handlers live as long as its command, never longer (signals.py).

A tap once left its handler in the pytest process: a SIGTERM to pytest then raised
`SystemExit(143)` inside unrelated fixtures. The autouse `signal_handlers_untouched` fixture in
conftest.py fails any test that leaves a changed handler; these tests pin the rule itself. That
the command still handles SIGTERM (final STATE, exit 143) is test_resume.py's.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.singer import signals
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import run_tap, tap_config

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def host_handler(signum: int, frame: FrameType | None) -> None:
    """What the host process had installed before any tap: must be there after each one."""


@pytest.fixture
def host_handlers() -> Iterator[None]:
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, host_handler)
    yield
    for signum, old in before.items():
        signal.signal(signum, old)


def handlers() -> dict[int, Any]:
    return {signum: signal.getsignal(signum) for signum in SIGNALS}


@pytest.mark.usefixtures("host_handlers")
def test_a_tap_built_and_synced_in_process_leaves_the_hosts_handlers(
    emulator: Emulator,
) -> None:
    run = run_tap(tap_config(emulator))
    assert run.records, "the sync did run"
    TapClevertapCounts(config=tap_config(emulator))  # built, never synced
    assert handlers() == {signum: host_handler for signum in SIGNALS}


@pytest.mark.usefixtures("host_handlers")
def test_the_command_s_tap_handles_signals_until_the_command_ends(emulator: Emulator) -> None:
    seen: list[dict[int, Any]] = []
    with pytest.raises(SystemExit), signals.command():
        tap = TapClevertapCounts(config=tap_config(emulator))
        seen.append(handlers())
        raise SystemExit(143)  # as the handler itself leaves the command
    mine: Callable[..., Any] = tap._handle_termination
    assert seen == [{signum: mine for signum in SIGNALS}]
    assert handlers() == {signum: host_handler for signum in SIGNALS}
