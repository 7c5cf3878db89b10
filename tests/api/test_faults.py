"""Faults at scale: a concurrent backfill through a quarter of 429/500/503 answers and lost jobs.

Every count must equal the emulator's ground truth, no (query, period) may come twice, and the
state must never move backwards nor claim a period whose record has not been written yet.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import LAUNCHES, PIZZA, assert_exact, bookmarks, run_tap, tap_config

START, END = datetime.date(2024, 1, 1), datetime.date(2024, 2, 29)  # 60 days


def days(first: datetime.date, last: datetime.date) -> list[str]:
    return [
        (first + datetime.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)
    ]


def messages(stdout: str) -> Iterator[dict[str, Any]]:
    """Singer messages in the order written; a line cut short (by a kill) is not one."""
    for line in stdout.split("\n")[:-1]:  # the text after the last newline is incomplete
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and "type" in message:
            yield message


def check_state_follows_records(
    stdout: str,
    start: datetime.date = START,
    emitted_before: set[tuple[str, str]] | None = None,
    previous: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every STATE only covers written records, and no bookmark ever moves back.

    Daily periods from `start`: a bookmark B of query Q claims every day of Q up to B.
    `emitted_before` holds the (query, day) records and `previous` the bookmarks of earlier
    runs; the last bookmarks are returned.
    """
    emitted = set(emitted_before or ())
    seen: dict[str, str] = dict(previous or {})
    for message in messages(stdout):
        if message["type"] == "RECORD":
            record = message["record"]
            assert record["from_date"] == record["to_date"]
            emitted.add((record["query_name"], record["to_date"]))
        elif message["type"] == "STATE":
            for query, mark in bookmarks(message["value"]).items():
                assert mark >= seen.get(query, ""), f"{query}'s bookmark moved back to {mark}"
                seen[query] = mark
                claimed = days(start, datetime.date.fromisoformat(mark))
                missing = [day for day in claimed if (query, day) not in emitted]
                assert not missing, f"state claims {query} {missing} before their records"
    return seen


@pytest.mark.parametrize("seed", [11, 29])
def test_a_backfill_through_faults_is_exact_and_complete(
    make_emulator: Callable[..., Emulator], seed: int
) -> None:
    emulator = make_emulator(
        seed=seed,
        partial_share=0.5,
        job_seconds=0.01,
        fault_429=0.09,
        fault_500=0.08,
        fault_503=0.08,
        expire_share=0.1,
    )
    config = tap_config(
        emulator,
        start_date=START.isoformat(),
        end_date=END.isoformat(),
        queries=[PIZZA, LAUNCHES],
        max_concurrent_queries=3,
    )
    run = run_tap(config)

    expected = [(name, day, day) for name in ("pizza", "launches") for day in days(START, END)]
    assert Counter(run.periods()) == Counter(expected)  # each once, none missing
    assert run.periods() == expected  # ascending to_date per query
    assert_exact(emulator, config, run)
    final = check_state_follows_records(run.stdout)
    assert final == {"pizza": END.isoformat(), "launches": END.isoformat()}

    # The faults really happened, of every kind, at about the configured shares.
    log = emulator.requests()
    answers = Counter(
        (entry["status"], (entry["answer"] or {}).get("error"))
        for entry in log
        if isinstance(entry["answer"], dict)
    )
    statuses = Counter(entry["status"] for entry in log)
    assert statuses[429] and statuses[500] and statuses[503], statuses
    assert answers[(400, "Invalid request ID")] > 0, answers
    faulty = statuses[429] + statuses[500] + statuses[503]
    assert faulty >= 0.15 * len(log), statuses
    # Never more in flight than allowed, however the 429s came.
    assert emulator.inflight_peak() <= 3
