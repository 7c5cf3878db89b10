"""What a SIGKILL loses (issue 28, item 4), measured at every moment of runs of both streams,
against the bound docs/state.md states: the counts CleverTap had answered that no STATE
written so far covers are at most a STATE's worth of records, plus for each stream twice
`max_concurrent_queries` (counts in flight, or answered and waiting for an earlier period of
their stream), plus in BATCH mode for each stream a batch file not yet full (`batch_size` - 1).

A SIGKILL loses exactly what the tap had not written to stdout (it flushes every message), so
the tap runs in this process and its stdout is read as it is written: what a target would have
at a kill at that moment. Between two STATEs the loss only grows (answers come, the coverage
stays), so its worst is just before each STATE and at the end; each of those kill points is
measured, with the emulator's log (logged before the answer is sent, so an answer on its way
counts as lost). Seeded lost jobs (submitted again) and the first poll answered 2 s late let
counts finish long before an earlier one of their stream: those are the answers the tap holds,
and what the bound's per-stream part is for. (Before the bound, the pools ran ahead as far as
the plan went: 31, 33 and 40 answered counts lost here, over bounds of 22, 22 and 34.)
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typing_extensions import override

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import LAUNCHES, PIZZA, tap_config
from tests.delivered import Delivered, batch_config, check_exact, loss_bound, uncovered

from .test_event_counts import catalog_selecting
from .test_interleave import BOTH, finished

IN_FLIGHT = 3  # max_concurrent_queries, per API: per stream here
BATCH_SIZE = 7
DAYS = 15  # 2 queries: 30 records per stream


class KillPoints(io.StringIO):
    """The tap's stdout: before each STATE goes out, the answered counts a kill would lose."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator
        self.delivered = Delivered()
        self.losses: list[int] = []

    @override
    def write(self, text: str) -> int:
        for line in text.splitlines():
            if not line.strip():
                continue
            if json.loads(line).get("type") == "STATE":
                self.measure()
            self.delivered.take(line)
        return super().write(text)

    def measure(self) -> None:
        done = finished(self.emulator.requests())
        self.losses.append(len(set(uncovered(done, self.delivered.state))))


@pytest.mark.parametrize(("mode", "seed"), [("records", 3), ("records", 8), ("batch", 8)])
def test_a_kill_at_any_moment_loses_at_most_the_documented_bound(
    make_emulator: Callable[..., Emulator], tmp_path: Path, mode: str, seed: int
) -> None:
    emulator = make_emulator(seed=seed, partial_share=0.7, job_seconds=0.02, expire_share=0.1)
    batch_size = BATCH_SIZE if mode == "batch" else None
    extra: dict[str, Any] = (
        {"batch_config": batch_config(tmp_path, BATCH_SIZE)} if batch_size else {}
    )
    config = tap_config(
        emulator,
        start_date="2024-01-01",
        end_date=f"2024-01-{DAYS:02d}",
        queries=[PIZZA, LAUNCHES],
        max_concurrent_queries=IN_FLIGHT,
        count_events=True,
        **extra,
    )
    emulator.inject("slow", on="poll")  # the first poll: its job's stream waits 2 s for it
    out = KillPoints(emulator)
    with contextlib.redirect_stdout(out):
        TapClevertapCounts(config=config, catalog=catalog_selecting(*BOTH)).sync_all()
    out.measure()  # after the last STATE: nothing may be left uncovered
    delivered: Delivered = out.delivered
    check_exact(emulator, delivered, [PIZZA, LAUNCHES])
    assert len(delivered.periods) == len(set(delivered.periods)) == 2 * 2 * DAYS
    bound = loss_bound(len(BOTH), IN_FLIGHT, batch_size)
    worst = max(out.losses)
    print(f"{mode}, seed {seed}: {len(out.losses)} kill points, worst loss {worst} (bound {bound})")
    assert out.losses[-1] == 0, "the final STATE covers every count"
    assert len(out.losses) >= 6, "a STATE every few records: many kill points"
    assert 0 < worst <= bound, out.losses
