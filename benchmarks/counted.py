"""A query's state holding many `counted_to_dates` ranges: what a 30-record run costs (issue 28).

The same run (30 daily periods after a bookmark) from a state of 1, 2,000 and 10,000 ranges,
in both shapes a state may have (`counted_to_dates`; 0.2.0's `counted`), each the fastest of
three runs of the command against the in-process emulator answering at once. 0.2.0 parsed and
sorted every range for every record: 2,000 ranges took 20.8 s instead of 1.0 s.

`.venv/bin/python benchmarks/run.py --only counted` (about half a minute); prints, writes nothing.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import subprocess
import sys
import time
from typing import Any

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, EmulatorConfig

COMMAND = str(pathlib.Path(sys.executable).parent / "tap-clevertap-counts")
SIZES = (1, 2_000, 10_000)
TRIALS = 3


def ranges(count: int) -> list[list[str]]:
    """`count` ranges: one day each, a day apart, before 2024; then 2024-01-01..01-31."""
    first = datetime.date(1969, 1, 1)
    single = [(first + datetime.timedelta(days=2 * n)).isoformat() for n in range(count - 1)]
    return [[day, day] for day in single] + [["2024-01-01", "2024-01-31"]]


def state(key: str, count: int) -> dict[str, Any]:
    partition = {
        "context": {"query_name": "launches"},
        "replication_key": "to_date",
        "replication_key_value": "2024-01-31",
        "account_id": DEMO_ACCOUNT_ID,
        key: ranges(count),
    }
    return {"bookmarks": {"profile_counts": {"partitions": [partition]}}}


def timed(folder: pathlib.Path, config: dict[str, Any], given: dict[str, Any]) -> float:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "state.json").write_text(json.dumps(given))
    command = [COMMAND, "--config", str(folder / "config.json")]
    command += ["--state", str(folder / "state.json")]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    took = time.perf_counter() - began
    if done.returncode != 0 or done.stdout.count('"type":"RECORD"') != 30:
        raise SystemExit(f"the run failed: {done.stderr[-2000:]}")
    return took


def main_only(workdir: pathlib.Path) -> int:
    emulator = Emulator(EmulatorConfig(seed=7, partial_share=0.0, job_seconds=0.0)).start()
    try:
        config = {
            "account_id": DEMO_ACCOUNT_ID,
            "passcode": DEMO_PASSCODE,
            "api_url": emulator.url,
            "start_date": "2024-01-01",
            "end_date": "2024-03-01",
            "queries": [{"name": "launches", "event_name": "App Launched"}],
            "poll_interval_seconds": 0.01,
        }
        print("| ranges in the state | `counted_to_dates` | `counted` (0.2.0) |")
        print("| ---: | ---: | ---: |")
        for size in SIZES:
            cells = []
            for key in ("counted_to_dates", "counted"):
                best = min(
                    timed(workdir / f"{key}-{size}-{trial}", config, state(key, size))
                    for trial in range(TRIALS)
                )
                cells.append(f"{best:.2f} s")
            print(f"| {size:,} | {' | '.join(cells)} |", flush=True)
    finally:
        emulator.stop()
    return 0
