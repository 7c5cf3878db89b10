"""Shared fixtures: an in-process emulator on loopback, and ways to run the tap against it.

Every tap test talks real HTTP to the emulator; expected counts come from the emulator's event
store (`store.count_profiles`), never from the tap's code.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tap_clevertap_counts.emulator import (
    DEMO_ACCOUNT_ID,
    DEMO_PASSCODE,
    Emulator,
    EmulatorConfig,
    ManualClock,
)
from tap_clevertap_counts.tap import TapClevertapCounts

REPO = Path(__file__).resolve().parent.parent
TAP_COMMAND = [str(Path(sys.executable).parent / "tap-clevertap-counts")]

PIZZA = {
    "name": "pizza",
    "event_name": "choseNewFavoriteFood",
    "event_properties": [{"name": "value", "operator": "contains", "value": "piz"}],
}
LAUNCHES = {"name": "launches", "event_name": "App Launched"}
# The config table of the contract (shared/CONTRACT.md): every key, settable through Meltano.
CONTRACT_SETTINGS = frozenset(
    {
        "account_id",
        "passcode",
        "region",
        "api_url",
        "start_date",
        "end_date",
        "timezone",
        "queries",
        "lookback_days",
        "poll_interval_seconds",
        "poll_timeout_seconds",
        "max_concurrent_queries",
        "request_timeout_seconds",
        "busy_timeout_seconds",
        "backfill_with_trends",
        "count_events",
    }
)


SECRETS = {DEMO_PASSCODE}  # every passcode a test uses is added here by the runners below


def about() -> dict[str, Any]:
    """What the installed command says of itself (`--about --format=json`)."""
    done = subprocess.run(
        [*TAP_COMMAND, "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    info: dict[str, Any] = json.loads(done.stdout)
    return info


def wait_until(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Wait for something to happen (an event, seen through the emulator or the threads), with
    a deadline of a minute that only a hung test reaches: never a sleep that hopes it is over."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"waited {limit:.0f} s for {what}"
        time.sleep(0.01)


def tap_workers() -> set[threading.Thread]:
    """The job threads of every tap run in this process still alive (scheduler.py names them)."""
    return {
        t for t in threading.enumerate() if t.name.startswith("clevertap-job-") and t.is_alive()
    }


def wait_for_workers_to_end(workers: set[threading.Thread]) -> None:
    """Once a run's workers are gone every request they sent has been answered, so logged: the
    emulator's log is then final for that run."""
    wait_until(lambda: not any(t.is_alive() for t in workers), "the tap's workers to end")


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a passcode leaked into {where}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Fail any test whose captured stdout, stderr or log holds a passcode."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or report.failed:
        return
    captured = report.capstdout + report.capstderr + report.caplog
    for secret in SECRETS:
        if secret in captured:
            report.outcome = "failed"
            report.longrepr = f"a passcode appeared in the captured output of {item.nodeid}"


@pytest.fixture(autouse=True)
def signal_handlers_untouched() -> Iterator[None]:
    """Fail a test that leaves SIGINT or SIGTERM handled otherwise than it found them (and put
    them back): a handler left behind ends a later test, or the whole run, with the tap's exit."""
    watched = (signal.SIGINT, signal.SIGTERM)
    before = {signum: signal.getsignal(signum) for signum in watched}
    yield
    after = {signum: signal.getsignal(signum) for signum in watched}
    changed = [signal.Signals(signum).name for signum in watched if after[signum] != before[signum]]
    for signum in watched:
        signal.signal(signum, before[signum] if before[signum] is not None else signal.SIG_DFL)
    if changed:
        pytest.fail(f"the test left its own handler for {', '.join(changed)}: {after}")


@dataclass
class TapRun:
    """What one tap run wrote: records in order, every STATE, the log, the exit code."""

    records: list[dict[str, Any]] = field(default_factory=list)  # of profile_counts
    event_records: list[dict[str, Any]] = field(default_factory=list)  # of event_counts
    states: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    returncode: int = 0

    @property
    def state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    def periods(self) -> list[tuple[str, str, str]]:
        return [(r["query_name"], r["from_date"], r["to_date"]) for r in self.records]


def parse_output(stdout: str) -> TapRun:
    run = TapRun(stdout=stdout)
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if not isinstance(message, dict):
            continue
        if message.get("type") == "RECORD":
            if message.get("stream") == "event_counts":
                run.event_records.append(message["record"])
            else:
                run.records.append(message["record"])
        elif message.get("type") == "STATE":
            run.states.append(message["value"])
    return run


def bookmarks(state: dict[str, Any] | None, stream: str = "profile_counts") -> dict[str, str]:
    """query name -> bookmark (last to_date emitted) from a STATE value."""
    if not state:
        return {}
    partitions = state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
    return {
        p["context"]["query_name"]: p["replication_key_value"]
        for p in partitions
        if "replication_key_value" in p
    }


def truth(emulator: Emulator, query: dict[str, Any], first: str, last: str) -> int:
    return emulator.store.count_profiles(
        query["event_name"],
        query.get("event_properties", []),
        datetime.date.fromisoformat(first),
        datetime.date.fromisoformat(last),
    )


def event_truth(emulator: Emulator, query: dict[str, Any], first: str, last: str) -> int:
    return emulator.store.count_events(
        query["event_name"],
        query.get("event_properties", []),
        datetime.date.fromisoformat(first),
        datetime.date.fromisoformat(last),
    )


def assert_exact(emulator: Emulator, config: dict[str, Any], run: TapRun) -> None:
    """Every record of both streams equals the emulator's ground truth."""
    queries = {q["name"]: q for q in config["queries"]}
    for records, oracle in ((run.records, truth), (run.event_records, event_truth)):
        for record in records:
            expected = oracle(
                emulator, queries[record["query_name"]], record["from_date"], record["to_date"]
            )
            assert record["count"] == expected, record


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def make(clock: Callable[[], float] = time.monotonic, **changes: Any) -> Emulator:
        """An emulator with `changes` over these defaults; a `ManualClock` as `clock` makes its
        jobs end only when the test advances it."""
        settings: dict[str, Any] = {"seed": 7, "partial_share": 0.5, "job_seconds": 0.02}
        settings.update(changes)
        emulator = Emulator(EmulatorConfig(**settings), clock=clock).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def clock() -> ManualClock:
    """Time as a test input: jobs of an emulator made with it end when the test says."""
    return ManualClock()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


def tap_config(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "account_id": DEMO_ACCOUNT_ID,
        "passcode": DEMO_PASSCODE,
        "api_url": emulator.url,
        "start_date": "2024-03-01",
        "end_date": "2024-03-10",
        "queries": [PIZZA, LAUNCHES],
        "poll_interval_seconds": 0.01,
        "request_timeout_seconds": 5,
    }
    config.update(overrides)
    return config


def run_tap(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    now: datetime.datetime | None = None,
) -> TapRun:
    """Run the tap in this process (fast), capturing what it writes to stdout; `now` pins the
    instant it takes as the present ("today" in its time zone), else it reads the clock."""
    if isinstance(config.get("passcode"), str) and len(config["passcode"]) >= 8:
        SECRETS.add(config["passcode"])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap = TapClevertapCounts(config=config, state=state, catalog=catalog, now=now)
        tap.sync_all()
    assert_no_secret(buffer.getvalue(), "the tap's stdout")
    return parse_output(buffer.getvalue())


ROUND_SECONDS = 3600.0  # how far `in_rounds` moves the clock: make jobs this long
T = TypeVar("T")


def in_rounds(work: Callable[[], T], clock: ManualClock, round_over: Callable[[], bool]) -> T:
    """`work()` with its emulator jobs on the test's clock: whenever `round_over()` says the
    jobs running now are all the round should have (an event the emulator shows, not a wait),
    the clock jumps `ROUND_SECONDS` and every one of them ends. A machine's speed cannot change
    a round. (Give the emulator a long `req_id_ttl_seconds` when a job may see several jumps
    before its poll.)"""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    thread = threading.Thread(target=run, name="work-in-rounds", daemon=True)
    thread.start()
    while thread.is_alive():
        wait_until(lambda: not thread.is_alive() or round_over(), "the round's jobs to run")
        if thread.is_alive():
            clock.advance(ROUND_SECONDS)
    if errors:
        raise errors[0]
    return results[0]


def run_tap_in_rounds(
    config: dict[str, Any],
    clock: ManualClock,
    round_over: Callable[[], bool],
    *,
    catalog: dict[str, Any] | None = None,
) -> TapRun:
    """`run_tap` `in_rounds`."""
    return in_rounds(lambda: run_tap(config, catalog=catalog), clock, round_over)


def run_cli(
    args: list[str],
    config: dict[str, Any] | None,
    tmp_path: Path,
    *,
    state: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> TapRun:
    """Run the installed command as a user would, with files for config and state."""
    command = [*TAP_COMMAND, *args]
    if config is not None:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        command += ["--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    process = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if config and isinstance(config.get("passcode"), str) and len(config["passcode"]) >= 8:
        SECRETS.add(config["passcode"])
    assert_no_secret(process.stdout, "the tap's stdout")
    assert_no_secret(process.stderr, "the tap's log")
    run = parse_output(process.stdout)
    run.stderr = process.stderr
    run.returncode = process.returncode
    return run
