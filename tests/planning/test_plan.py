"""The run's job list: emission order across queries, built on demand."""

from __future__ import annotations

import datetime

import pytest

from tap_clevertap_counts.config.queries import QuerySpec
from tap_clevertap_counts.planning.plan import Plan

D = datetime.date


def spec(name: str) -> QuerySpec:
    return QuerySpec(name, "App Launched", (), "day", D(2024, 1, 1))


def days(first: int, last: int) -> list[tuple[datetime.date, datetime.date]]:
    return [(D(2024, 1, d), D(2024, 1, d)) for d in range(first, last + 1)]


P, E = "profile_counts", "event_counts"


def test_jobs_follow_config_order_then_ascending_periods() -> None:
    plan = Plan([(P, spec("a"), days(1, 3)), (P, spec("empty"), []), (P, spec("b"), days(5, 6))])
    assert len(plan) == 5
    assert [(job.spec.name, job.request.from_date.day) for job in plan] == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("b", 5),
        ("b", 6),
    ]
    # every planned block has a span, an empty one too: the run knows it owes nothing
    assert plan.spans() == {(P, "a"): (0, 3), (P, "empty"): (3, 3), (P, "b"): (3, 5)}
    assert plan[-1 + len(plan)].request.describe() == "query 'b' (2024-01-06..2024-01-06)"
    assert [job.request.to_date.day for job in plan[1:4]] == [2, 3, 5]
    with pytest.raises(IndexError):
        plan[5]


def test_an_empty_plan() -> None:
    plan = Plan([(P, spec("a"), [])])
    assert len(plan) == 0
    assert plan.spans() == {(P, "a"): (0, 0)}


def test_blocks_of_two_streams_and_empty_ones_between_them() -> None:
    plan = Plan(
        [
            (P, spec("a"), days(1, 2)),
            (P, spec("b"), []),
            (E, spec("a"), []),
            (E, spec("b"), days(3, 3)),
        ]
    )
    assert [(job.stream, job.spec.name, job.request.to_date.day) for job in plan] == [
        (P, "a", 1),
        (P, "a", 2),
        (E, "b", 3),
    ]
    assert plan.spans()[E, "a"] == (2, 2)
    assert plan.spans()[E, "b"] == (2, 3)


def test_positions_counted_by_trends_are_left_out_of_the_shared_questions() -> None:
    """Two queries asking the same days: positions Trends serves neither own nor repeat a
    question; the rest still share theirs, and a job knows whether Trends counted it."""
    plan = Plan([(P, spec("a"), days(1, 3)), (P, spec("b"), days(1, 3))])
    paths = {P: "/1/counts/profiles.json"}
    assert plan.duplicates(paths) == {0: [3], 1: [4], 2: [5]}
    assert plan.duplicates(paths, exclude={0, 3, 1}) == {2: [5]}
    plan.mark_trends(4)
    assert [job.by_trends for job in plan] == [False, False, False, False, True, False]
