"""The run's plan across streams (run.py): blocks asked for in any order, each counted once.

The SDK visits streams and partitions in the planned order; these tests ask out of that order
on purpose (a later query first, the same block twice, an abandoned block) to check that the
run never submits a (stream, query, period) twice and re-plans only when it must.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import LAUNCHES, PIZZA, tap_config, truth


def submits(emulator: Emulator) -> Counter[tuple[str, int]]:
    return Counter(
        (entry["body"]["event_name"], entry["body"]["to"])
        for entry in emulator.requests()
        if entry["kind"] == "submit"
    )


def counts(tap: TapClevertapCounts, query: str) -> list[tuple[str, int]]:
    run = tap.counting_run("profile_counts", query)
    return [
        (job.request.to_date.isoformat(), count)
        for job, count in run.results(("profile_counts", query))
    ]


def tap_for(emulator: Emulator, **overrides: Any) -> TapClevertapCounts:
    return TapClevertapCounts(config=tap_config(emulator, end_date="2024-03-04", **overrides))


def test_a_later_block_first_reads_through_and_keeps_the_earlier_ones(emulator: Emulator) -> None:
    tap = tap_for(emulator)
    launches = counts(tap, "launches")  # planned second
    pizza = counts(tap, "pizza")
    assert [day for day, _ in pizza] == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    assert [day for day, _ in launches] == [day for day, _ in pizza]
    for day, count in pizza:
        assert count == truth(emulator, PIZZA, day, day)
    for day, count in launches:
        assert count == truth(emulator, LAUNCHES, day, day)
    assert set(submits(emulator).values()) == {1}  # each period asked once
    assert len(submits(emulator)) == 8


def test_a_block_asked_again_is_planned_anew_from_the_state(emulator: Emulator) -> None:
    tap = tap_for(emulator)
    first = tap.counting_run("profile_counts", "pizza")
    assert len(counts(tap, "pizza")) == 4
    again = tap.counting_run("profile_counts", "pizza")
    assert again is not first  # a block is handed out once per run: a new sync plans anew
    assert len(again) == 8  # no state was written by this bare iteration: all owed again
    again.close()


def test_an_abandoned_block_gives_the_run_up(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.02)
    tap = tap_for(emulator)
    run = tap.counting_run("profile_counts", "pizza")
    results = run.results(("profile_counts", "pizza"))
    next(results)
    results.close()  # the reader went away: an error in the SDK, a broken pipe
    assert not run.serves(("profile_counts", "launches"))
    replanned = tap.counting_run("profile_counts", "launches")
    assert replanned is not run
    replanned.close()


def test_a_query_owing_nothing_is_served_empty_without_a_new_plan(emulator: Emulator) -> None:
    state = {
        "bookmarks": {
            "profile_counts": {
                "partitions": [
                    {
                        "context": {"query_name": "pizza"},
                        "replication_key": "to_date",
                        "replication_key_value": "2024-03-04",
                    }
                ]
            }
        }
    }
    tap = TapClevertapCounts(config=tap_config(emulator, end_date="2024-03-04"), state=state)
    run = tap.counting_run("profile_counts", "pizza")
    assert counts(tap, "pizza") == []
    assert tap.counting_run("profile_counts", "launches") is run
    assert len(counts(tap, "launches")) == 4
    assert sum(submits(emulator).values()) == 4
