"""BATCH mode, stopped right after each STATE it writes and resumed: nothing lost, nothing twice.

A target loads a batch file when its BATCH message arrives and saves a STATE once what came
before it is loaded. So a kill must never find a STATE whose bookmarks pass a period whose
record is in no announced file (lost on resume), and a resumed run must not deliver again a
period its state already covers (lookback_days is 0). What the killed run announced after its
last STATE is delivered again by the resumed run: that is what a STATE that had not caught up
means, and the primary key makes it an upsert. SIGTERM and SIGINT announce what the tap has
read first, then write the final STATE: after them nothing at all is delivered twice
(test_stops.py, at random moments, both modes).

Every check holds whenever the signal lands; the emulator's jobs take 0.15 s, so the
signal normally lands midway (the test prints how many did).
"""

from __future__ import annotations

import datetime
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests import oracle
from tests.conftest import LAUNCHES, PIZZA, TapRun, assert_exact, bookmarks, tap_config
from tests.delivered import Delivered, batch_config, run_until

START, END = datetime.date(2024, 2, 1), datetime.date(2024, 2, 15)
QUERIES: list[dict[str, Any]] = [PIZZA, LAUNCHES]
Period = tuple[str, str, str]  # query, from_date, to_date
# 30 records, 4 per file; a STATE once 10 records are announced since the last: after the
# 3rd, 6th and last file, then the final one at the end of the stream (3 STATEs, 8 BATCHes)
STATES_IN_A_FULL_RUN = 3


def expected() -> list[Period]:
    return [
        (query["name"], first.isoformat(), last.isoformat())
        for query in QUERIES
        for first, last in oracle.all_periods("day", START, END)
    ]


@dataclass
class BatchRun:
    """What one run delivered: the records of its announced files, its STATEs, in order."""

    returncode: int
    stderr: str
    killed: bool
    records: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    last_message: str = ""

    def periods(self) -> list[Period]:
        return [(r["query_name"], r["from_date"], r["to_date"]) for r in self.records]


def run_batch(
    emulator: Emulator, folder: Path, state: dict[str, Any] | None, stop: tuple[int, int] | None
) -> BatchRun:
    """Run the command in BATCH mode from `state`; with `stop` = (k, signal), send the signal
    as soon as the k-th STATE has been read. Checks, message by message, that no STATE passes
    a period whose record is not in a file announced before it."""
    config = tap_config(
        emulator,
        start_date=START.isoformat(),
        end_date=END.isoformat(),
        queries=QUERIES,
        batch_config=batch_config(folder, 4),
    )
    given = bookmarks(state)

    def watch(out: Delivered, message: dict[str, Any]) -> bool:
        assert message["type"] != "RECORD"
        if message["type"] != "STATE":
            return False
        covered = dict(given)  # what the target has, per query: the given state, then files
        for _, name, to_date in out.periods:
            covered[name] = max(covered.get(name, ""), to_date)
        for name, bookmark in bookmarks(message["value"]).items():
            assert bookmark <= covered.get(name, ""), (name, bookmark, covered)
        return stop is not None and len(out.states) == stop[0]

    signal_ = signal.Signals(stop[1]) if stop is not None else signal.SIGTERM
    done = run_until(folder, config, watch, signal_, state=state)
    out = done.delivered
    assert out.cut == 0 or signal_ == signal.SIGKILL  # a line cut by a kill, never whole
    run = BatchRun(done.returncode, done.stderr, done.signalled, out.records, out.states, out.last)
    assert "Traceback" not in run.stderr
    assert_exact(emulator, config, TapRun(records=run.records))
    return run


def check_resumed(emulator: Emulator, tmp_path: Path, stopped: BatchRun) -> BatchRun:
    """Resume from the stopped run's last STATE; the two together deliver every period once,
    except what the stopped run announced after its last STATE."""
    assert stopped.states
    state = stopped.states[-1]
    resumed = run_batch(emulator, tmp_path / "resumed", state, None)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    if resumed.records:
        assert resumed.last_message == "STATE"
    # nothing lost
    assert set(stopped.periods()) | set(resumed.periods()) == set(expected())
    # nothing twice within a run, nor anything the given state covers again
    for run in (stopped, resumed):
        assert not [p for p, n in Counter(run.periods()).items() if n > 1]
    given = bookmarks(state)
    assert [p for p in resumed.periods() if p[2] <= given.get(p[0], "")] == []
    assert bookmarks(resumed.states[-1]) == {q["name"]: END.isoformat() for q in QUERIES}
    return resumed


def test_a_full_batch_run_states_and_files(emulator: Emulator, tmp_path: Path) -> None:
    """The uninterrupted run the others are cut from: every period once, ending with STATE."""
    run = run_batch(emulator, tmp_path / "full", None, None)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(run.periods()) == sorted(expected())
    assert len(run.states) == STATES_IN_A_FULL_RUN
    assert run.last_message == "STATE"
    assert bookmarks(run.states[-1]) == {q["name"]: END.isoformat() for q in QUERIES}


@pytest.mark.parametrize("k", range(1, STATES_IN_A_FULL_RUN + 1))
def test_sigkill_right_after_each_state_then_resume(
    make_emulator: Callable[..., Emulator], tmp_path: Path, k: int
) -> None:
    emulator = make_emulator(seed=3, job_seconds=0.15)
    stopped = run_batch(emulator, tmp_path / "killed", None, (k, signal.SIGKILL))
    assert stopped.returncode in (0, -signal.SIGKILL)
    print(f"SIGKILL after STATE {k}: landed {stopped.returncode != 0}")
    emulator.clear_log()
    check_resumed(emulator, tmp_path, stopped)
