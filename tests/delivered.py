"""What a target gets from a tap run, RECORD or BATCH mode alike, and a run of the command that a
signal stops on an event of its output (the k-th record read, say), never on a timer.

A target loads each RECORD, or each BATCH file once its message arrives, and keeps the last
STATE it read: `Delivered` is that, read message by message from the tap's stdout.
"""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.singer.delivery import STATE_EVERY_RECORDS

from .conftest import TAP_COMMAND, assert_no_secret, event_truth, truth

Period = tuple[str, str, str]  # stream, query, to_date


@dataclass
class Delivered:
    """Records (as (stream, query, to_date) periods, in order) and STATEs a target read."""

    records: list[dict[str, Any]] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    last: str = ""  # the type of the last whole message
    cut: int = 0  # lines a kill cut in half

    def take(self, line: str) -> dict[str, Any] | None:
        """Read one line of the tap's stdout; the message, or None for a cut line."""
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError:
            self.cut += 1
            return None
        kind = message["type"]
        self.last = kind
        if kind == "RECORD":
            self._add(message["stream"], [message["record"]])
        elif kind == "BATCH":
            for url in message["manifest"]:
                with gzip.open(url.removeprefix("file://"), "rt") as file:
                    self._add(message["stream"], [json.loads(row) for row in file])
        elif kind == "STATE":
            self.states.append(message["value"])
        return message

    def _add(self, stream: str, records: list[dict[str, Any]]) -> None:
        self.records += records
        self.periods += [(stream, r["query_name"], r["to_date"]) for r in records]

    @property
    def state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None


def read(lines: Iterable[str]) -> Delivered:
    delivered = Delivered()
    for line in lines:
        if line.strip():
            delivered.take(line)
    return delivered


def batch_config(folder: Path, size: int) -> dict[str, Any]:
    """BATCH mode: gzipped JSONL files of `size` records in `folder`."""
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": folder.as_uri(), "prefix": "batch-"},
        "batch_size": size,
    }


def loss_bound(streams: int, max_concurrent_queries: int, batch_size: int | None = None) -> int:
    """The answered counts a SIGKILL may lose, as docs/state.md states it: a STATE's worth of
    records (STATE every 10 of them, when the state has no more partitions than that), plus
    for each stream twice its pool (in flight, or answered and waiting for an earlier period),
    plus in BATCH mode for each stream a batch file not yet full."""
    unfilled = batch_size - 1 if batch_size else 0
    return STATE_EVERY_RECORDS + streams * (2 * max_concurrent_queries + unfilled)


def check_exact(emulator: Emulator, delivered: Delivered, queries: list[dict[str, Any]]) -> None:
    """Every record of either stream equals the emulator's ground truth."""
    by_name = {query["name"]: query for query in queries}
    for (stream, name, _), record in zip(delivered.periods, delivered.records, strict=True):
        oracle_of = event_truth if stream == "event_counts" else truth
        expected = oracle_of(emulator, by_name[name], record["from_date"], record["to_date"])
        assert record["count"] == expected, record


def marks(state: dict[str, Any] | None) -> dict[tuple[str, str], str]:
    """(stream, query) -> bookmark of a STATE value."""
    out: dict[tuple[str, str], str] = {}
    for stream, entry in ((state or {}).get("bookmarks") or {}).items():
        for partition in entry.get("partitions", []):
            if "replication_key_value" in partition:
                query = partition["context"]["query_name"]
                out[stream, query] = partition["replication_key_value"]
    return out


def uncovered(periods: Iterable[Period], state: dict[str, Any] | None) -> list[Period]:
    """The periods a resume from `state` would count again: past their query's bookmark."""
    given = marks(state)
    return [p for p in periods if p[2] > given.get((p[0], p[1]), "")]


@dataclass
class Stopped:
    delivered: Delivered
    returncode: int
    stderr: str
    signalled: bool  # the signal was sent while the tap still ran


def run_until(
    folder: Path,
    config: dict[str, Any],
    stop: Callable[[Delivered, dict[str, Any]], bool],
    sig: signal.Signals,
    *,
    catalog: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    on_signal: Callable[[], None] = lambda: None,
) -> Stopped:
    """Run the command; send `sig` as soon as `stop(delivered so far, message)` says so (then
    `on_signal()`), and read what it writes until it ends (`stop` sees every message)."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [*TAP_COMMAND]
    for option, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            (folder / f"{option}.json").write_text(json.dumps(value))
            command += [f"--{option}", str(folder / f"{option}.json")]
    delivered = Delivered()
    signalled = False
    with (folder / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert process.stdout is not None
        try:
            for line in process.stdout:
                message = delivered.take(line)
                stopping = message is not None and stop(delivered, message) and not signalled
                if stopping and process.poll() is None:
                    process.send_signal(sig)
                    signalled = True
                    on_signal()
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    log = (folder / "stderr.txt").read_text()
    assert_no_secret(log, "the tap's log")
    return Stopped(delivered, process.returncode, log, signalled)
