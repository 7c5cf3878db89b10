"""A `start_date` moved back, the run stopped after any of its records (issue 28, item 1): the
resume counts exactly the periods not emitted yet, nothing twice, every granularity.

0.2.0 kept the days its emitted periods covered; the windows of a rolling query overlap, so
once the windows before the old start were out, their days joined the days counted before and
"covered" the windows across the old start, never emitted: the resume emitted nothing and said
nothing. Each case here: a first run from the old start, then the start moved back.

- Every record: with a STATE after every record (the pace is a knob, set to 1 here), each STATE
  of one move-back run is the state a SIGTERM after that record writes (its final STATE covers
  every record sent) and the one a SIGKILL then leaves (the last STATE read); each is resumed.
- A failing run: CleverTap rejects the k-th query of the move-back run (a fatal 400).
- Real signals: the command stopped by SIGTERM or SIGKILL after the k-th record.

Expected periods come from tests/oracle.py and counts from the emulator's ground truth.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import io
import json
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, ManualClock
from tap_clevertap_counts.errors import QueryRejectedError
from tap_clevertap_counts.singer import delivery
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import (
    LAUNCHES,
    TapRun,
    assert_exact,
    parse_output,
    run_tap,
    tap_config,
    wait_until,
)
from tests.delivered import Delivered, run_until
from tests.oracle import all_periods, ymd
from tests.singer.test_streams import submitted

Date = datetime.date
Period = tuple[Date, Date]
# granularity: (old start, new start, end). Each moves back over a few periods, some across the
# old start (the week of Monday 03-04, April, the windows ending 02-14..02-19).
SCENARIOS: dict[str, tuple[Date, Date, Date]] = {
    "day": (Date(2024, 3, 11), Date(2024, 3, 1), Date(2024, 3, 20)),
    "week": (Date(2024, 3, 6), Date(2024, 1, 29), Date(2024, 3, 31)),
    "month": (Date(2024, 4, 15), Date(2024, 1, 1), Date(2024, 6, 30)),
    "rolling_7d": (Date(2024, 2, 14), Date(2024, 2, 1), Date(2024, 2, 29)),
}


def periods_of(records: list[dict[str, Any]]) -> list[Period]:
    return [(Date.fromisoformat(r["from_date"]), Date.fromisoformat(r["to_date"])) for r in records]


def asked(emulator: Emulator) -> list[Period]:
    return sorted((ymd(first), ymd(last)) for _, first, last in submitted(emulator))


class MovedBack:
    """A first run from the old start; the config with the start moved back; what it owes."""

    def __init__(self, emulator: Emulator, granularity: str) -> None:
        old, new, end = SCENARIOS[granularity]
        self.emulator = emulator
        self.query = {**LAUNCHES, "granularity": granularity}
        first = run_tap(self.config(old, end))
        assert periods_of(first.records) == all_periods(granularity, old, end)
        assert first.state is not None
        self.state = first.state
        self.owed = [p for p in all_periods(granularity, new, end) if p[0] < old]
        self.config_back = self.config(new, end)
        # the periods ending before the old start: once they were out, 0.2.0's days touched
        # the days counted before (the last but one for days, none of which crosses it)
        self.adversarial = min(sum(1 for p in self.owed if p[1] < old), len(self.owed) - 1)
        assert 0 < self.adversarial < len(self.owed)
        emulator.clear_log()

    def config(self, start: Date, end: Date, **changes: Any) -> dict[str, Any]:
        return tap_config(
            self.emulator,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            queries=[self.query],
            **changes,
        )

    def check_resume(self, state: dict[str, Any] | None, out: list[Period], label: str) -> None:
        """Resumed from `state` (after `out` were emitted, and the state covers them all): the
        run asks for and emits exactly the rest, ascending; a run after it owes nothing."""
        self.emulator.clear_log()
        resumed = run_tap(self.config_back, state=copy.deepcopy(state))
        rest = [p for p in self.owed if p not in out]
        assert periods_of(resumed.records) == rest, label
        assert asked(self.emulator) == rest, label
        assert_exact(self.emulator, self.config_back, resumed)
        self.emulator.clear_log()
        again = run_tap(self.config_back, state=copy.deepcopy(resumed.state))
        assert (again.records, submitted(self.emulator)) == ([], []), label


def states_after_each_record(run: TapRun) -> list[tuple[int, dict[str, Any]]]:
    """(records out before it, the STATE) for every STATE of a run, in order."""
    out: list[tuple[int, dict[str, Any]]] = []
    records = 0
    for line in run.stdout.splitlines():
        message = json.loads(line)
        records += message["type"] == "RECORD"
        if message["type"] == "STATE":
            out.append((records, message["value"]))
    return out


@pytest.mark.parametrize("granularity", SCENARIOS)
def test_a_move_back_stopped_after_any_record_resumes_with_exactly_the_rest(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch, granularity: str
) -> None:
    monkeypatch.setattr(delivery, "STATE_EVERY_RECORDS", 1)
    emulator = make_emulator(partial_share=0.0, job_seconds=0.0)
    case = MovedBack(emulator, granularity)
    full = run_tap(case.config_back, state=copy.deepcopy(case.state))
    assert periods_of(full.records) == case.owed
    stops = states_after_each_record(full)
    # a STATE before the first record (the one given) and after every record
    assert sorted({k for k, _ in stops}) == list(range(len(case.owed) + 1))
    for k, state in stops:
        case.check_resume(state, case.owed[:k], f"{granularity}, stopped after record {k}")


def test_the_issue_case_resumes_the_windows_across_the_old_start(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As reported: rolling_7d counted 03-01..03-31, the start moved to 02-01, stopped once
    the window ending 02-29 was out: the windows ending 03-01..03-06 are owed."""
    monkeypatch.setattr(delivery, "STATE_EVERY_RECORDS", 1)
    emulator = make_emulator(partial_share=0.0, job_seconds=0.0)
    query = {**LAUNCHES, "granularity": "rolling_7d"}
    first = run_tap(
        tap_config(emulator, start_date="2024-03-01", end_date="2024-03-31", queries=[query])
    )
    config = tap_config(emulator, start_date="2024-02-01", end_date="2024-03-31", queries=[query])
    full = run_tap(config, state=copy.deepcopy(first.state))
    out = [to for _, to in periods_of(full.records)]
    state = next(s for k, s in states_after_each_record(full) if out[k - 1] == Date(2024, 2, 29))
    emulator.clear_log()
    resumed = run_tap(config, state=copy.deepcopy(state))
    assert [r["to_date"] for r in resumed.records] == [f"2024-03-0{d}" for d in range(1, 7)]
    assert_exact(emulator, config, resumed)


def run_failing(config: dict[str, Any], state: dict[str, Any]) -> tuple[TapRun, Exception]:
    """The tap in this process until CleverTap's fatal answer stops it: what it wrote."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(QueryRejectedError) as failure:
        TapClevertapCounts(config=config, state=state).sync_all()
    return parse_output(buffer.getvalue()), failure.value


@pytest.mark.parametrize("granularity", SCENARIOS)
def test_a_move_back_failing_at_a_record_resumes_with_exactly_the_rest(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch, granularity: str
) -> None:
    """CleverTap rejects the k-th query (one query at a time: the k-th period), at the
    adversarial record and at the last: the run stops in error after at most k - 1 records,
    and its last STATE (one after every record) is resumed."""
    monkeypatch.setattr(delivery, "STATE_EVERY_RECORDS", 1)
    emulator = make_emulator(partial_share=0.0, job_seconds=0.0)
    case = MovedBack(emulator, granularity)
    for k in sorted({case.adversarial + 1, len(case.owed)}):
        emulator.inject("rejected_400", on="submit", after=k - 1)
        config = {**case.config_back, "max_concurrent_queries": 1}
        failed, error = run_failing(config, copy.deepcopy(case.state))
        assert "launches" in str(error)
        out = periods_of(failed.records)
        assert out == case.owed[: k - 1]  # the counts before the rejected one
        assert failed.state is not None
        case.check_resume(failed.state, out, f"{granularity}, failed at query {k}")


def end_jobs_one_by_one(
    emulator: Emulator, clock: ManualClock, jobs: int, done: threading.Event
) -> threading.Thread:
    """End the first `jobs` jobs, each once it runs (one query at a time); the next one then
    runs until the test is done: the command is waiting for it when the signal comes."""

    def run() -> None:
        for n in range(1, jobs + 1):
            wait_until(
                lambda n=n: (
                    done.is_set()  # type: ignore[misc]
                    or (len(submitted(emulator)) >= n and emulator.running_jobs() == 1)
                ),
                f"job {n} to run",
            )
            if done.is_set():
                return
            clock.advance(10)

    thread = threading.Thread(target=run, name="end-jobs-one-by-one", daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("granularity", "sig"),
    [(g, signal.SIGTERM) for g in SCENARIOS] + [("rolling_7d", signal.SIGKILL)],
)
def test_the_command_stopped_midway_through_a_move_back_resumes_with_exactly_the_rest(
    make_emulator: Callable[..., Emulator],
    clock: ManualClock,
    tmp_path: Path,
    granularity: str,
    sig: signal.Signals,
) -> None:
    """The installed command, stopped by a real signal while it waits for the next count:
    SIGTERM right after the adversarial record (its final STATE covers every record sent);
    SIGKILL after the last but one (what survives is the last STATE it wrote at its usual
    pace, every 10 records: across the old start)."""
    emulator = make_emulator(clock=clock, partial_share=0.0, job_seconds=1.0)
    case = MovedBack(emulator, granularity)
    k = case.adversarial if sig == signal.SIGTERM else len(case.owed) - 1
    at_states: list[int] = []  # records out when each STATE was read

    def kth_record(out: Delivered, message: dict[str, Any]) -> bool:
        if message["type"] == "STATE":
            at_states.append(len(out.records))
        return message["type"] == "RECORD" and len(out.records) == k

    emulator.update(partial_share=1.0)  # every job waits for the clock
    done = threading.Event()
    gate = end_jobs_one_by_one(emulator, clock, k, done)
    config = {**case.config_back, "max_concurrent_queries": 1}
    try:
        stopped = run_until(tmp_path, config, kth_record, sig, state=copy.deepcopy(case.state))
    finally:
        done.set()
        gate.join()
    assert stopped.signalled and stopped.returncode in (128 + sig, -sig), stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr
    out = periods_of(stopped.delivered.records)
    assert out == case.owed[:k]
    if sig == signal.SIGTERM:
        assert at_states[-1] == k  # the final STATE came after every record
    else:
        assert case.adversarial < at_states[-1] < k, at_states
    emulator.update(partial_share=0.0)
    case.check_resume(stopped.delivered.state, out[: at_states[-1]], f"{granularity} {sig.name}")
