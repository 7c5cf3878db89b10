"""Kill-and-resume: the installed command killed at random moments of a concurrent backfill.

Each trial runs `tap-clevertap-counts` as a user's scheduler would, kills it (SIGKILL, so nothing
gets to clean up) after a random number of output lines, and resumes from the last STATE it
emitted (its last complete line), until a run finishes. Whatever the moment, the records of all
runs together must hold every period with the right count, no state may claim a period whose
record was not written, and a resumed run must ask CleverTap only for periods after the state
it was given. SIGTERM gets the SDK's graceful path: a final state that is valid to resume from.
"""

from __future__ import annotations

import datetime
import json
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.api.test_faults import check_state_follows_records, days, messages
from tests.conftest import (
    LAUNCHES,
    PIZZA,
    TAP_COMMAND,
    assert_no_secret,
    bookmarks,
    tap_config,
    truth,
)

START, END = datetime.date(2024, 1, 1), datetime.date(2024, 1, 30)
QUERIES: dict[str, dict[str, Any]] = {"pizza": PIZZA, "launches": LAUNCHES}
EVENT_QUERY = {query["event_name"]: name for name, query in QUERIES.items()}
# SCHEMA, a RECORD per (query, day), and a STATE every few records (about 68 lines in all)
FULL_RUN_LINES = 1 + 2 * 30 + 2 * 30 // 10 + 1
TRIALS = 20


@dataclass
class Run:
    stdout: str
    stderr: str
    returncode: int
    killed_after: int | None  # output lines read before the kill; None if not killed
    submits: list[dict[str, Any]] = field(default_factory=list)  # what the emulator was asked

    def last_state(self) -> dict[str, Any] | None:
        states = [m["value"] for m in messages(self.stdout) if m["type"] == "STATE"]
        return states[-1] if states else None

    def records(self) -> list[dict[str, Any]]:
        return [m["record"] for m in messages(self.stdout) if m["type"] == "RECORD"]


def run_cli_until(
    emulator: Emulator,
    folder: Path,
    state: dict[str, Any] | None,
    *,
    stop_after: int | None,
    jitter: float = 0.0,
    sig: signal.Signals = signal.SIGKILL,
) -> Run:
    """Run the command from `state`; send `sig` once `stop_after` lines are out, if ever."""
    folder.mkdir(parents=True, exist_ok=True)
    config = tap_config(
        emulator,
        start_date=START.isoformat(),
        end_date=END.isoformat(),
        queries=list(QUERIES.values()),
        max_concurrent_queries=3,
    )
    (folder / "config.json").write_text(json.dumps(config))
    command = [*TAP_COMMAND, "--config", str(folder / "config.json")]
    if state is not None:
        (folder / "state.json").write_text(json.dumps(state))
        command += ["--state", str(folder / "state.json")]
    with (folder / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert process.stdout is not None
        lines: list[str] = []
        killed_after = None
        try:
            if stop_after is not None:
                while len(lines) < stop_after and (line := process.stdout.readline()):
                    lines.append(line)
                # a moment between two lines, not only right after one
                time.sleep(jitter)
                if process.poll() is None:
                    process.send_signal(sig)
                    killed_after = len(lines)
            lines.append(process.stdout.read())
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()  # else a ResourceWarning, an error under filterwarnings
    log = (folder / "stderr.txt").read_text()
    if process.returncode == 0:
        killed_after = None  # it finished on its own before the signal came
    run = Run(
        "".join(lines),
        log,
        process.returncode,
        killed_after,
        [entry for entry in emulator.requests() if entry["kind"] == "submit"],
    )
    assert_no_secret(run.stdout + run.stderr, "the tap's output")
    return run


def check_run(
    emulator: Emulator,
    run: Run,
    given: dict[str, str],
    emitted: set[tuple[str, str]],
) -> dict[str, str]:
    """One run's guarantees; returns the bookmarks of its last state (or those it was given)."""
    # Asked only for periods after the state it was given (lookback_days is 0).
    for submit in run.submits:
        if not isinstance(submit["body"], dict):
            assert run.killed_after is not None  # a request the kill cut in half
            continue
        query = EVENT_QUERY[submit["body"]["event_name"]]
        first = datetime.datetime.strptime(str(submit["body"]["from"]), "%Y%m%d").date()
        if query in given:
            assert first.isoformat() > given[query], (query, first, given)
    # Every record exact; every state covers written records only, never moving back.
    for record in run.records():
        expected = truth(
            emulator, QUERIES[record["query_name"]], record["from_date"], record["to_date"]
        )
        assert record["count"] == expected, record
    marks = check_state_follows_records(run.stdout, START, emitted, given)
    emitted.update((r["query_name"], r["to_date"]) for r in run.records())
    return marks


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_at_a_random_moment_then_resume_loses_nothing(
    make_emulator: Callable[..., Emulator], tmp_path: Path, trial: int
) -> None:
    rng = random.Random(f"kill-and-resume|{trial}")
    seed = 100 + trial
    state: dict[str, Any] | None = None
    given: dict[str, str] = {}
    emitted: set[tuple[str, str]] = set()
    kills: list[int] = []
    for attempt in range(8):
        # A fresh emulator per run (same seed, same truth): its log is this run's requests only,
        # and nothing a killed run still had in flight can reach it.
        emulator = make_emulator(seed=seed, partial_share=0.8, job_seconds=0.02)
        kill = attempt == 0 or (len(kills) < 3 and rng.random() < 0.4)
        stop_after = rng.randrange(FULL_RUN_LINES) if kill else None
        run = run_cli_until(
            emulator,
            tmp_path / f"run{attempt}",
            state,
            stop_after=stop_after,
            jitter=rng.uniform(0, 0.03),
        )
        if run.killed_after is not None:
            kills.append(run.killed_after)
            assert run.returncode == -signal.SIGKILL
        else:
            assert run.returncode == 0, run.stderr[-2000:]
            assert "Traceback" not in run.stderr
        given = check_run(emulator, run, given, emitted)
        state = run.last_state() or state
        if run.killed_after is None:
            break
    else:
        pytest.fail(f"trial {trial} never finished")

    everything = {(name, day) for name in QUERIES for day in days(START, END)}
    assert emitted == everything, sorted(everything - emitted)
    assert given == {name: END.isoformat() for name in QUERIES}
    assert bookmarks(state) == given
    print(f"trial {trial}: killed after {kills} lines, {attempt + 1} runs")


def resume_to_the_end(
    emulator: Emulator,
    stopped: Run,
    tmp_path: Path,
    given: dict[str, str],
    emitted: set[tuple[str, str]],
) -> None:
    """Run again from the stopped run's last STATE: it must complete every period exactly."""
    rest = run_cli_until(emulator, tmp_path / "resume", stopped.last_state(), stop_after=None)
    assert rest.returncode == 0, rest.stderr[-2000:]
    check_run(emulator, rest, given, emitted)
    assert emitted == {(name, day) for name in QUERIES for day in days(START, END)}


@pytest.mark.parametrize("after_lines", [0, 9, 40, 55])
def test_sigterm_writes_a_final_state_to_resume_from(
    make_emulator: Callable[..., Emulator], tmp_path: Path, after_lines: int
) -> None:
    emulator = make_emulator(seed=5, partial_share=0.8, job_seconds=0.02)
    run = run_cli_until(
        emulator, tmp_path / "term", None, stop_after=after_lines, sig=signal.SIGTERM
    )
    assert run.killed_after == after_lines
    assert "Traceback" not in run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]  # every line whole and valid
    if after_lines:
        # The tap's handler was in place: it writes the state (if it changed) and exits
        # 128 + SIGTERM, so that an orchestrator does not take a stopped run for a finished one.
        assert run.returncode == 128 + signal.SIGTERM, run.stderr[-2000:]
        assert "Gracefully shutting down" in run.stderr
        assert lines[-1]["type"] in ("STATE", "RECORD")
    else:
        # Before the tap is built Python's default handler ends it (-15), or the tap's does.
        assert run.returncode in (128 + signal.SIGTERM, -signal.SIGTERM)
    emitted: set[tuple[str, str]] = set()
    given = check_run(emulator, run, {}, emitted)
    assert given == bookmarks(run.last_state())

    again = make_emulator(seed=5, partial_share=0.8, job_seconds=0.02)
    resume_to_the_end(again, run, tmp_path, given, emitted)
    print(f"SIGTERM after {after_lines} lines: exit code {run.returncode}")


def partition_state(value: object) -> dict[str, Any]:
    partition: dict[str, Any] = {"context": {"query_name": "pizza"}, "replication_key": "to_date"}
    partition["replication_key_value"] = value
    return {"bookmarks": {"profile_counts": {"partitions": [partition]}}}


def run_with_state_text(emulator: Emulator, folder: Path, state_text: str) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    config = tap_config(emulator, start_date="2024-03-01", end_date="2024-03-04", queries=[PIZZA])
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "state.json").write_text(state_text)
    files = ["--config", str(folder / "config.json"), "--state", str(folder / "state.json")]
    done = subprocess.run(
        [*TAP_COMMAND, *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    submits = [entry for entry in emulator.requests() if entry["kind"] == "submit"]
    return Run(done.stdout, done.stderr, done.returncode, None, submits)


def test_an_unreadable_bookmark_counts_again_from_the_start(
    emulator: Emulator, tmp_path: Path
) -> None:
    run = run_with_state_text(emulator, tmp_path, json.dumps(partition_state("not a date")))
    assert run.returncode == 0, run.stderr
    assert "unreadable bookmark" in run.stderr
    days_counted = [record["to_date"] for record in run.records()]
    assert days_counted == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    for record in run.records():
        assert record["count"] == truth(emulator, PIZZA, record["from_date"], record["to_date"])


@pytest.mark.parametrize("text", ['{"bookmarks": ', ""], ids=["cut short", "empty"])
def test_a_damaged_state_file_stops_in_one_line_before_any_request(
    emulator: Emulator, tmp_path: Path, text: str
) -> None:
    run = run_with_state_text(emulator, tmp_path, text)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("tap-clevertap")]
    assert len(errors) == 1, run.stderr
    assert emulator.requests() == []


def test_a_damaged_state_file_is_named_as_the_problem(emulator: Emulator, tmp_path: Path) -> None:
    run = run_with_state_text(emulator, tmp_path, '{"bookmarks": ')
    line = run.stderr.strip().splitlines()[-1]
    assert "internal error" not in line
    assert "state" in line
    assert run.returncode == 1


def test_a_bookmark_written_as_a_number_is_read_or_refused(
    emulator: Emulator, tmp_path: Path
) -> None:
    run = run_with_state_text(emulator, tmp_path, json.dumps(partition_state(20240302)))
    assert "internal error" not in run.stderr
    if run.returncode == 0:
        assert [record["to_date"] for record in run.records()] == ["2024-03-03", "2024-03-04"]
    else:
        assert emulator.requests() == []  # refused before any request


def test_a_run_that_fails_midway_leaves_a_state_to_resume_from(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """CleverTap goes bad for good after 30 records: the run stops in one line, and what it
    wrote is a consistent prefix that the next run completes."""
    emulator = make_emulator(seed=3, partial_share=0.8, job_seconds=0.02)
    config = tap_config(
        emulator,
        start_date=START.isoformat(),
        end_date=END.isoformat(),
        queries=list(QUERIES.values()),
        max_concurrent_queries=3,
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [*TAP_COMMAND, "--config", str(tmp_path / "config.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while sum('"type":"RECORD"' in line for line in lines) < 30:
        lines.append(process.stdout.readline())
        assert lines[-1], "the run ended before 30 records"
    emulator.inject("html_502", times=100_000)
    stdout, stderr = process.communicate(timeout=60)
    failed = Run("".join(lines) + stdout, stderr, process.returncode, None)
    assert_no_secret(failed.stdout + failed.stderr, "the tap's output")
    assert failed.returncode == 1
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("tap-clevertap")]
    assert len(errors) == 1, stderr[-2000:]
    assert "after 10 tries; CleverTap's last answer: HTTP 502" in errors[0]
    emitted: set[tuple[str, str]] = set()
    given = check_run(emulator, failed, {}, emitted)
    assert 30 <= len(emitted) < 60

    again = make_emulator(seed=3, partial_share=0.8, job_seconds=0.02)
    resume_to_the_end(again, failed, tmp_path, given, emitted)
