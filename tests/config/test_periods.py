"""Period arithmetic, checked against calendar facts rather than the code's own formulas."""

from __future__ import annotations

import datetime

import pytest

from tap_clevertap_counts.config.periods import iter_periods, periods_to_count

D = datetime.date


def test_days_include_both_ends() -> None:
    assert list(iter_periods("day", D(2024, 2, 28), D(2024, 3, 1))) == [
        (D(2024, 2, 28), D(2024, 2, 28)),
        (D(2024, 2, 29), D(2024, 2, 29)),  # leap day
        (D(2024, 3, 1), D(2024, 3, 1)),
    ]


def test_iso_weeks_across_a_year_boundary() -> None:
    # 2020 has 53 ISO weeks; week 53 runs Mon 2020-12-28 to Sun 2021-01-03.
    weeks = list(iter_periods("week", D(2020, 12, 24), D(2021, 1, 12)))
    assert weeks == [
        (D(2020, 12, 28), D(2021, 1, 3)),
        (D(2021, 1, 4), D(2021, 1, 10)),
    ]
    for first, last in weeks:
        assert first.isoweekday() == 1
        assert last.isoweekday() == 7


def test_a_week_starting_on_the_start_date_is_whole() -> None:
    assert list(iter_periods("week", D(2024, 1, 1), D(2024, 1, 7))) == [
        (D(2024, 1, 1), D(2024, 1, 7))
    ]
    assert list(iter_periods("week", D(2024, 1, 2), D(2024, 1, 7))) == []


def test_calendar_months_only_whole() -> None:
    months = list(iter_periods("month", D(2023, 12, 1), D(2024, 3, 30)))
    assert months == [
        (D(2023, 12, 1), D(2023, 12, 31)),
        (D(2024, 1, 1), D(2024, 1, 31)),
        (D(2024, 2, 1), D(2024, 2, 29)),
    ]
    assert list(iter_periods("month", D(2023, 2, 1), D(2023, 2, 28))) == [
        (D(2023, 2, 1), D(2023, 2, 28))
    ]


def test_unknown_granularity_is_refused() -> None:
    with pytest.raises(ValueError, match="granularity"):
        list(iter_periods("year", D(2024, 1, 1), D(2024, 12, 31)))


def test_without_a_bookmark_everything_is_counted() -> None:
    assert len(periods_to_count("day", D(2024, 1, 1), D(2024, 1, 31), None, 5)) == 31


def test_after_a_bookmark_only_new_days_plus_lookback() -> None:
    new = periods_to_count("day", D(2024, 1, 1), D(2024, 1, 12), D(2024, 1, 10), 0)
    assert [first for first, _ in new] == [D(2024, 1, 11), D(2024, 1, 12)]
    with_lookback = periods_to_count("day", D(2024, 1, 1), D(2024, 1, 12), D(2024, 1, 10), 2)
    assert [first for first, _ in with_lookback] == [
        D(2024, 1, 9),
        D(2024, 1, 10),
        D(2024, 1, 11),
        D(2024, 1, 12),
    ]


def test_lookback_on_months_reaches_back_a_month_only_when_it_covers_its_days() -> None:
    bookmark = D(2024, 2, 29)
    short = periods_to_count("month", D(2024, 1, 1), D(2024, 3, 31), bookmark, 10)
    assert short == [(D(2024, 2, 1), D(2024, 2, 29)), (D(2024, 3, 1), D(2024, 3, 31))]
    none = periods_to_count("month", D(2024, 1, 1), D(2024, 3, 31), bookmark, 0)
    assert none == [(D(2024, 3, 1), D(2024, 3, 31))]
