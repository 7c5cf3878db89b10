"""SIGKILL during a Trends backfill (issue 18), then resume: nothing lost, nothing claimed early.

The installed command counts two unfiltered daily queries through Trends and is killed after a
given number of output lines (SIGKILL: nothing gets to clean up); a second run resumes from the
last STATE the first one wrote. Together they must hold every (query, day) exactly, no STATE may
claim a day whose record was not out, and the resumed run asks only for days after the bookmarks
it was given: the same guarantees as without Trends.
"""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.api.test_faults import check_state_follows_records, days, messages
from tests.conftest import LAUNCHES, TAP_COMMAND, assert_no_secret, bookmarks, tap_config, truth
from tests.oracle import ymd

START, END = datetime.date(2024, 1, 1), datetime.date(2024, 3, 31)
CHARGED = {"name": "charged", "event_name": "Charged"}
QUERIES = {"launches": LAUNCHES, "charged": CHARGED}
BY_EVENT = {str(q["event_name"]): name for name, q in QUERIES.items()}
SEED = 5


def run_command(
    emulator: Emulator, folder: Path, state: dict[str, Any] | None, kill_after: int | None
) -> tuple[str, int]:
    """(stdout up to the kill or the end, exit code)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = tap_config(
        emulator,
        start_date=START.isoformat(),
        end_date=END.isoformat(),
        queries=list(QUERIES.values()),
        backfill_with_trends=True,
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
        try:
            while kill_after is not None and len(lines) < kill_after:
                line = process.stdout.readline()
                if not line:
                    break
                lines.append(line)
            if kill_after is not None and process.poll() is None:
                process.send_signal(signal.SIGKILL)
            lines.append(process.stdout.read())
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    stdout = "".join(lines)
    assert_no_secret(stdout + (folder / "stderr.txt").read_text(), "the tap's output")
    return stdout, process.returncode


def check_exact(emulator: Emulator, stdout: str) -> set[tuple[str, str]]:
    out = set()
    for message in messages(stdout):
        if message["type"] == "RECORD":
            record = message["record"]
            query = QUERIES[record["query_name"]]
            assert record["count"] == truth(emulator, query, record["from_date"], record["to_date"])
            out.add((record["query_name"], record["to_date"]))
    return out


@pytest.mark.parametrize("kill_after", [2, 30, 95, 140])
def test_sigkill_during_a_trends_backfill_then_resume_loses_nothing(
    make_emulator: Callable[..., Emulator], tmp_path: Path, kill_after: int
) -> None:
    first = make_emulator(seed=SEED, partial_share=0.5, job_seconds=0.02)
    stdout, code = run_command(first, tmp_path / "killed", None, kill_after)
    emitted = check_exact(first, stdout)
    given = check_state_follows_records(stdout, START)
    states = [m["value"] for m in messages(stdout) if m["type"] == "STATE"]
    state = states[-1] if states else None
    if code == 0:
        pytest.fail(f"the run ended before {kill_after} lines: kill it earlier")
    assert code == -signal.SIGKILL

    second = make_emulator(seed=SEED, partial_share=0.5, job_seconds=0.02)
    rest, code = run_command(second, tmp_path / "resumed", state, None)
    assert code == 0
    emitted |= check_exact(second, rest)
    final = check_state_follows_records(rest, START, emitted, given)
    everything = {(name, day) for name in QUERIES for day in days(START, END)}
    assert emitted == everything, sorted(everything - emitted)[:5]
    assert final == {name: END.isoformat() for name in QUERIES}
    assert bookmarks(json.loads(rest.strip().splitlines()[-1])["value"]) == final
    # the resumed run asked only for what came after its state, Trends included
    for entry in second.requests():
        body = entry["body"]
        if entry["kind"] == "submit" and isinstance(body, dict):
            name = BY_EVENT[body["event_name"]]
            if name in given:
                assert ymd(body["from"]).isoformat() > given[name], (entry["path"], body)
