"""SIGTERM and SIGINT at random moments: the final STATE covers every record already written, so
the resumed run sends nothing twice and loses nothing (RECORD and BATCH modes, one stream or
both).

The signal is sent once the test has read the k-th RECORD or BATCH (k drawn from a seeded
generator) and lands wherever the tap then is: writing a record, moving a bookmark, announcing
a file, waiting for a count. The SDK wrote a record and moved its bookmark as two steps; a
signal between them (7 of 15 stops in RECORD mode) left the final bookmark a period behind the
last record, and a resume sent that record again: a duplicate row for an append-only target.
"""

from __future__ import annotations

import random
import signal
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, ManualClock
from tests import oracle
from tests.conftest import LAUNCHES, PIZZA, run_tap, tap_config, wait_until
from tests.delivered import Delivered, Period, batch_config, check_exact, read, run_until, uncovered

from .test_event_counts import catalog_selecting, submits

START, END = "2024-03-01", "2024-03-06"
QUERIES: list[dict[str, Any]] = [PIZZA, LAUNCHES]
BATCH_SIZE = 4
JOBS = 12  # of each stream: 2 queries, 6 days
TRIALS = 20


def everything(streams: tuple[str, ...]) -> set[Period]:
    days = oracle.all_periods(
        "day", oracle.Date.fromisoformat(START), oracle.Date.fromisoformat(END)
    )
    return {(s, q["name"], last.isoformat()) for s in streams for q in QUERIES for _, last in days}


def scenario(trial: int) -> tuple[str, signal.Signals, tuple[str, ...], int]:
    """Mode, signal, streams and k (the delivery after which to stop) of one trial."""
    rng = random.Random(f"stops|{trial}")
    mode = ("records", "batch")[trial % 2]
    sig = rng.choice([signal.SIGTERM, signal.SIGTERM, signal.SIGINT])
    streams = rng.choice([("profile_counts",), ("event_counts", "profile_counts")])
    per_stream = len(everything(("s",)))
    deliveries = per_stream if mode == "records" else -(-per_stream // BATCH_SIZE)
    return mode, sig, streams, rng.randint(1, deliveries * len(streams))


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_stop_at_a_random_moment_then_resume_sends_nothing_twice(
    make_emulator: Callable[..., Emulator], tmp_path: Path, trial: int
) -> None:
    mode, sig, streams, k = scenario(trial)
    # Every job of a stream in flight at once, all ending when the clock moves: the tap then
    # writes in one burst, and the signal lands in the middle of its writing, not in a wait.
    clock = ManualClock()
    emulator = make_emulator(
        clock=clock, seed=200 + trial, partial_share=1.0, job_seconds=1.0, concurrency_limit=JOBS
    )
    extra = {"batch_config": batch_config(tmp_path, BATCH_SIZE)} if mode == "batch" else {}
    config = tap_config(
        emulator,
        start_date=START,
        end_date=END,
        queries=QUERIES,
        max_concurrent_queries=JOBS,
        poll_interval_seconds=0.02,
        count_events=True,
        **extra,
    )
    catalog = catalog_selecting(*streams)
    seen = Counter[str]()

    def kth_delivery(_: Delivered, message: dict[str, Any]) -> bool:
        seen[message["type"]] += message["type"] in ("RECORD", "BATCH")
        return seen["RECORD"] + seen["BATCH"] == k

    def end_the_jobs_at_once() -> None:
        submitted = len(streams) * JOBS
        wait_until(lambda: submits(emulator).total() >= submitted, "every job submitted")
        clock.advance(10)

    threading.Thread(target=end_the_jobs_at_once, daemon=True).start()
    stopped = run_until(tmp_path / "stopped", config, kth_delivery, sig, catalog=catalog)
    out = stopped.delivered
    print(
        f"trial {trial}: {mode}, {sig.name} after delivery {k} of {streams}: exit "
        f"{stopped.returncode}, {len(out.periods)} records out"
    )
    assert "Traceback" not in stopped.stderr
    assert out.cut == 0  # a signal never cuts a message
    finished = set(out.periods) == everything(streams)
    if stopped.returncode == 0:
        assert finished  # it ended on its own before the signal came
    else:
        # -sig: the signal came as the command left, after its handlers were put back
        assert stopped.returncode in (128 + sig, -sig), stopped.stderr[-2000:]
    if stopped.returncode == 128 + sig:
        assert "Gracefully shutting down" in stopped.stderr
    assert out.last == "STATE"
    # the point: the final STATE covers every record already written
    assert uncovered(out.periods, out.state) == []
    check_exact(emulator, out, QUERIES)

    # resumed against an emulator of the same seed (the same truth) on the real clock
    again = make_emulator(seed=200 + trial, partial_share=0.5, job_seconds=0.01)
    resumed_run = run_tap({**config, "api_url": again.url}, state=out.state, catalog=catalog)
    resumed = read(resumed_run.stdout.splitlines())
    check_exact(again, resumed, QUERIES)
    assert not set(out.periods) & set(resumed.periods)  # nothing twice
    for run in (out, resumed):
        assert [p for p, n in Counter(run.periods).items() if n > 1] == []
    assert set(out.periods) | set(resumed.periods) == everything(streams)  # nothing lost
