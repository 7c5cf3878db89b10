"""The run's job list: emission order across queries, built on demand."""

from __future__ import annotations

import datetime

import pytest

from tap_clevertap_counts.plan import Plan
from tap_clevertap_counts.queries import QuerySpec

D = datetime.date


def spec(name: str) -> QuerySpec:
    return QuerySpec(name, "App Launched", (), "day", D(2024, 1, 1))


def days(first: int, last: int) -> list[tuple[datetime.date, datetime.date]]:
    return [(D(2024, 1, d), D(2024, 1, d)) for d in range(first, last + 1)]


def test_jobs_follow_config_order_then_ascending_periods() -> None:
    plan = Plan([(spec("a"), days(1, 3)), (spec("empty"), []), (spec("b"), days(5, 6))])
    assert len(plan) == 5
    assert [(job.spec.name, job.request.from_date.day) for job in plan] == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("b", 5),
        ("b", 6),
    ]
    assert plan.spans() == {"a": (0, 3), "b": (3, 5)}
    assert plan[-1 + len(plan)].request.describe() == "query 'b' (2024-01-06..2024-01-06)"
    assert [job.request.to_date.day for job in plan[1:4]] == [2, 3, 5]
    with pytest.raises(IndexError):
        plan[5]


def test_an_empty_plan() -> None:
    plan = Plan([(spec("a"), [])])
    assert len(plan) == 0
    assert plan.spans() == {}
