"""Emulator settings and the documented demo credentials.

Every knob lives in one dataclass so the CLI, the in-process test fixture and `Emulator.update`
share a single definition of what can be changed and what it means.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib

DEFAULT_PORT = 8765
# Documented demo credentials: the demo and users' pipeline tests need a known pair. The passcode
# is distinctive on purpose, so tests can grep every output for it and prove it never leaks.
DEMO_ACCOUNT_ID = "DEMO-000-0001"
DEMO_PASSCODE = "demo-passcode-7f3k"


@dataclasses.dataclass
class EmulatorConfig:
    """How the emulated account behaves; see emulator/README.md for each field."""

    seed: int = 42
    today: datetime.date | None = None
    account_id: str = DEMO_ACCOUNT_ID
    passcode: str = dataclasses.field(default=DEMO_PASSCODE, repr=False)
    partial_share: float = 0.5
    job_seconds: float = 0.5
    req_id_ttl_seconds: float = 600.0
    concurrency_limit: int = 3
    shared_limit: bool = False
    fault_429: float = 0.0
    fault_500: float = 0.0
    fault_503: float = 0.0
    expire_share: float = 0.0
    async_fail_share: float = 0.0
    maintenance: bool = False
    slow_seconds: float = 0.0
    log_path: pathlib.Path | None = None
    trends_off: bool = False
    trends_disagree: bool = False
    trends_wrong_days: tuple[datetime.date, ...] = ()  # the unique series one higher on these

    def __post_init__(self) -> None:
        check_config(self)

    def current_day(self) -> datetime.date:
        """The emulator's "today": a fixed day lets demos and tests move the clock."""
        if self.today is not None:
            return self.today
        return datetime.datetime.now(datetime.UTC).date()


_SHARES = (
    "partial_share",
    "fault_429",
    "fault_500",
    "fault_503",
    "expire_share",
    "async_fail_share",
)
_DURATIONS = ("job_seconds", "req_id_ttl_seconds", "slow_seconds")


def check_config(config: EmulatorConfig) -> None:
    """Refuse impossible settings early, instead of failing oddly mid-request."""
    for name in _SHARES:
        value = getattr(config, name)
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    if config.fault_429 + config.fault_500 + config.fault_503 > 1.0:
        raise ValueError("fault_429 + fault_500 + fault_503 must not exceed 1")
    for name in _DURATIONS:
        if float(getattr(config, name)) < 0:
            raise ValueError(f"{name} must not be negative")
    if config.concurrency_limit < 1:
        raise ValueError("concurrency_limit must be at least 1")
    if not config.account_id or not config.passcode:
        raise ValueError("account_id and passcode must not be empty")


def changed(config: EmulatorConfig, changes: dict[str, object]) -> EmulatorConfig:
    """A checked copy with `changes` applied; unknown names are a caller bug, so they raise."""
    names = {field.name for field in dataclasses.fields(EmulatorConfig)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise TypeError(f"unknown EmulatorConfig field(s): {', '.join(unknown)}")
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]
