"""A local emulator of CleverTap's counts API (Get Profile Count, Get Event Count).

It follows CleverTap's documented behaviour, not any client's needs: the tap's tests, `make demo`
and users' own pipeline tests all measure against it. See README.md in this folder.
"""

from tap_clevertap_counts.emulator.clock import ManualClock
from tap_clevertap_counts.emulator.config import (
    DEFAULT_PORT,
    DEMO_ACCOUNT_ID,
    DEMO_PASSCODE,
    EmulatorConfig,
)
from tap_clevertap_counts.emulator.server import Emulator
from tap_clevertap_counts.emulator.store import EventStore

__all__ = [
    "DEFAULT_PORT",
    "DEMO_ACCOUNT_ID",
    "DEMO_PASSCODE",
    "Emulator",
    "EmulatorConfig",
    "EventStore",
    "ManualClock",
]
