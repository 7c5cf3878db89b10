"""The state's record of emitted periods (`counted_to_dates`), as users and old versions wrote it.

- Hand-edited (issue 28, item 2): an empty or out-of-range value counts nothing there, so the
  periods up to the bookmark are counted again (never taken as all counted); a malformed value
  stops the run in one line naming the state key and the query, saying how to fix it, before
  any request.
- Older states, as literal JSON: 0.1.0 (no ranges) and 0.2.0 (`counted`, day ranges) count
  nothing again on upgrade, and a start moved back from them owes exactly the periods 0.2.0
  had not emitted.
- Size (item 5): a state of 10,000 ranges costs a 30-record run no more than twice what one
  range does (the relative bound the issue sets; absolute figures: benchmarks/counted.py).

Expected periods come from tests/oracle.py, counts from the emulator's ground truth.
"""

from __future__ import annotations

import copy
import datetime
import json
import resource
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, Emulator
from tap_clevertap_counts.errors import ConfigError
from tests.conftest import LAUNCHES, TAP_COMMAND, assert_exact, run_cli, run_tap, tap_config
from tests.oracle import all_periods, ymd
from tests.singer.test_streams import submitted

Date = datetime.date
# LAUNCHES' fingerprints as every version wrote them (event, filters, granularity)
FINGERPRINTS = {
    "day": "56d63d6fa168b387",
    "week": "e37e8c50efd11907",
    "rolling_7d": "4947c332e72baa26",
}


def state_of(granularity: str, bookmark: str, **extra: Any) -> dict[str, Any]:
    """One partition for 'launches', as a run up to `bookmark` wrote it, with `extra` keys."""
    partition = {
        "context": {"query_name": "launches"},
        "replication_key": "to_date",
        "replication_key_value": bookmark,
        "query_fingerprint": FINGERPRINTS[granularity],
        "account_id": DEMO_ACCOUNT_ID,
        **extra,
    }
    return {"bookmarks": {"profile_counts": {"partitions": [partition]}}}


def config_for(emulator: Emulator, granularity: str, start: str, end: str) -> dict[str, Any]:
    query = {**LAUNCHES, "granularity": granularity}
    return tap_config(emulator, start_date=start, end_date=end, queries=[query])


def to_dates(run: Any) -> list[str]:
    return [r["to_date"] for r in run.records]


def asked(emulator: Emulator) -> list[str]:
    return sorted(ymd(last).isoformat() for _, _, last in submitted(emulator))


def days(first: str, last: str) -> list[str]:
    return [to.isoformat() for _, to in all_periods("day", ymd(first), ymd(last))]


# --- hand-edited ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("counted_to_dates", []),
        ("counted", []),  # 0.2.0's key
        ("counted_to_dates", [["2024-04-01", "2024-04-30"]]),  # all after the bookmark
        ("counted", [["2024-04-01", "2024-04-30"]]),
    ],
    ids=["empty", "empty 0.2.0", "after the bookmark", "after the bookmark 0.2.0"],
)
def test_an_empty_or_out_of_range_value_counts_nothing_there(
    emulator: Emulator, key: str, value: list[Any]
) -> None:
    """The start moved back to 03-01 under a bookmark of 03-20: every day up to the bookmark
    is owed (nothing says it was emitted), once, and the next run owes nothing."""
    state = state_of("day", "2024-03-20", **{key: value})
    config = config_for(emulator, "day", "2024-03-01", "2024-03-20")
    run = run_tap(config, state=state)
    assert to_dates(run) == days("20240301", "20240320")
    assert asked(emulator) == to_dates(run)
    assert_exact(emulator, config, run)
    emulator.clear_log()
    again = run_tap(config, state=copy.deepcopy(run.state))
    assert (again.records, submitted(emulator)) == ([], [])


def test_a_hand_edited_range_counts_exactly_its_periods(emulator: Emulator) -> None:
    """Windows ending 03-07..03-10 and 03-15..03-20 emitted (the last range ends on the
    bookmark): the run owes the windows ending 03-11..03-14 and nothing else."""
    value = [["2024-03-07", "2024-03-10"], ["2024-03-15", "2024-03-20"]]
    state = state_of("rolling_7d", "2024-03-20", counted_to_dates=value)
    config = config_for(emulator, "rolling_7d", "2024-03-01", "2024-03-20")
    run = run_tap(config, state=state)
    assert to_dates(run) == days("20240311", "20240314")
    assert_exact(emulator, config, run)


MALFORMED: list[tuple[str, Any]] = [
    ("counted_to_dates", "2024-03-01..2024-03-20"),
    ("counted_to_dates", [["2024-03-01"]]),
    ("counted_to_dates", [["2024-03-20", "2024-03-01"]]),  # first after last
    ("counted_to_dates", [["2024-3-1", "2024-03-20"]]),
    ("counted_to_dates", [[20240301, 20240320]]),
    ("counted_to_dates", None),
    ("counted", {"from": "2024-03-01"}),
    ("counted", [["2024-03-01", "not a day"]]),
]


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_a_malformed_value_stops_the_run_before_any_request(
    emulator: Emulator, key: str, value: Any
) -> None:
    state = state_of("day", "2024-03-20", **{key: value})
    config = config_for(emulator, "day", "2024-03-01", "2024-03-20")
    with pytest.raises(ConfigError) as error:
        run_tap(config, state=state)
    message = str(error.value)
    assert "\n" not in message
    assert f"'{key}'" in message and "query 'launches'" in message, message
    assert "remove" in message and "[]" in message, message  # how to fix it
    assert emulator.requests() == []


def test_a_malformed_value_through_the_command_is_one_error_line(
    emulator: Emulator, tmp_path: Path
) -> None:
    state = state_of("day", "2024-03-20", counted_to_dates=[["2024-03-20", "2024-03-01"]])
    run = run_cli(
        [], config_for(emulator, "day", "2024-03-01", "2024-03-20"), tmp_path, state=state
    )
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    (line,) = [line for line in errors if line.startswith("tap-clevertap-counts: error:")]
    assert "'counted_to_dates'" in line and "'launches'" in line, line
    assert run.records == [] and emulator.requests() == []


# --- older states -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granularity", "written_by", "extra"),
    [
        ("day", "0.1.0", {}),
        ("week", "0.2.0", {"counted": [["2024-03-04", "2024-03-31"]]}),
        ("rolling_7d", "0.2.0", {"counted": [["2024-03-01", "2024-03-31"]]}),
    ],
)
def test_an_older_state_upgrades_without_counting_again(
    emulator: Emulator, granularity: str, written_by: str, extra: dict[str, Any]
) -> None:
    """As the version wrote it, up to 03-31 from a start of 03-01 (03-04 for the week): a run
    to 04-14 asks only for the periods after 03-31; its state keeps the new key only."""
    state = state_of(granularity, "2024-03-31", **extra)
    if written_by == "0.1.0":
        del state["bookmarks"]["profile_counts"]["partitions"][0]["account_id"]
    start = "2024-03-04" if granularity == "week" else "2024-03-01"
    config = config_for(emulator, granularity, start, "2024-04-14")
    run = run_tap(config, state=state)
    expected = [
        to.isoformat()
        for _, to in all_periods(granularity, ymd(start.replace("-", "")), Date(2024, 4, 14))
        if to > Date(2024, 3, 31)
    ]
    assert to_dates(run) == expected and asked(emulator) == expected
    assert_exact(emulator, config, run)
    assert run.state is not None
    (partition,) = run.state["bookmarks"]["profile_counts"]["partitions"]
    assert "counted" not in partition and partition["replication_key_value"] == "2024-04-14"


def test_a_start_moved_back_from_a_0_2_0_state_owes_what_0_2_0_had_not_emitted(
    emulator: Emulator,
) -> None:
    """0.2.0 counted rolling_7d from 03-01 to 03-31: the windows ending 03-07..03-31. From
    02-20, the windows ending 02-26..03-06 are owed, and nothing after them."""
    state = state_of("rolling_7d", "2024-03-31", counted=[["2024-03-01", "2024-03-31"]])
    config = config_for(emulator, "rolling_7d", "2024-02-20", "2024-03-31")
    run = run_tap(config, state=state)
    assert to_dates(run) == days("20240226", "20240306")
    assert_exact(emulator, config, run)


# --- size -------------------------------------------------------------------------------------


def many_ranges(count: int) -> list[list[str]]:
    """`count` ranges, one day each a day apart, all before 2024, then 2024-01-01..01-31."""
    first = Date(1969, 1, 1)
    single = [(first + datetime.timedelta(days=2 * n)).isoformat() for n in range(count - 1)]
    return [[day, day] for day in single] + [["2024-01-01", "2024-01-31"]]


def cpu_of_run(folder: Path, config: dict[str, Any], state: dict[str, Any], limit: float) -> float:
    """CPU seconds the command spent counting from `state` (inf if it outlived `limit` seconds):
    the tap's own work, which other processes on a busy machine leave alone, unlike its time."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "state.json").write_text(json.dumps(state))
    command = [*TAP_COMMAND, "--config", str(folder / "config.json")]
    command += ["--state", str(folder / "state.json")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return float("inf")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count('"type":"RECORD"') == 30
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_ten_thousand_ranges_cost_a_run_no_more_than_twice_one_range(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """The same 30-record run (02-01..03-01 after a bookmark of 01-31) from a state of one
    range and from one of 10,000: the CPU time of the command, the least of three runs each.
    0.2.0 parsed and sorted every range for every record: 2,000 ranges took 20.8 s, not 1.0 s."""
    emulator = make_emulator(partial_share=0.0, job_seconds=0.0)
    config = config_for(emulator, "day", "2024-01-01", "2024-03-01")
    # as 0.2.0 wrote them (day ranges: the same for days), which runs both shapes: the run
    # reads them once, and from its first record on its state holds `counted_to_dates`
    one = state_of("day", "2024-01-31", counted=[["2024-01-01", "2024-01-31"]])
    many = state_of("day", "2024-01-31", counted=many_ranges(10_000))
    small: list[float] = []
    large: list[float] = []
    for trial in range(3):  # a run 0.2.0 would make of it is stopped at 10 times one range's
        small.append(cpu_of_run(tmp_path / f"one-{trial}", config, one, 120))
        large.append(cpu_of_run(tmp_path / f"many-{trial}", config, many, 10 * min(small) + 5))
    print(f"CPU: one range {min(small):.2f} s; 10,000 ranges {min(large):.2f} s")
    assert min(large) <= 2 * min(small)
