"""The two processes a benchmark run needs: the emulator, and the installed tap under test.

The emulator runs as its own `clevertap-counts-emulator` process, as CleverTap is another
machine: its threads never compete with the measuring process for the interpreter lock. The tap
is the installed command, started as a user would; its CPU time comes from `wait4`'s resource
usage for that one child, its peak RSS from its own `VmHWM` (`rss.py` says why not `wait4`'s).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from benchmarks.rss import HighWater

BIN = pathlib.Path(sys.executable).parent
TAP = BIN / "tap-clevertap-counts"
EMULATOR = BIN / "clevertap-counts-emulator"
_LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass(frozen=True)
class EmulatorSettings:
    """The account the tap talks to: time-scaled jobs, CleverTap's limit of 3."""

    partial_share: float = 1.0
    job_seconds: float = 0.5
    concurrency_limit: int = 3
    today: str = "2025-01-01"
    seed: int = 42

    def args(self) -> list[str]:
        return [
            "--partial-share",
            str(self.partial_share),
            "--job-seconds",
            str(self.job_seconds),
            "--concurrency-limit",
            str(self.concurrency_limit),
            "--today",
            self.today,
            "--seed",
            str(self.seed),
        ]


class EmulatorProcess:
    """`clevertap-counts-emulator --port 0` with a JSON-lines request log in `workdir`."""

    def __init__(self, settings: EmulatorSettings, workdir: pathlib.Path) -> None:
        self.settings = settings
        self.log_path = workdir / "emulator-requests.jsonl"
        self.log_path.unlink(missing_ok=True)
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        command = [
            str(EMULATOR),
            "--port",
            "0",
            "--log-file",
            str(self.log_path),
            *self.settings.args(),
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        match = _LISTENING.search(line)
        if match is None:
            self._process.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = match.group(1)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def requests(self) -> list[dict[str, Any]]:
        """The request log so far: one dict per request the emulator answered."""
        if not self.log_path.exists():
            return []
        with self.log_path.open(encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]


@dataclass(frozen=True)
class Output:
    """What the tap wrote on stdout, by message type."""

    records: int = 0
    records_by_stream: dict[str, int] = field(default_factory=dict)
    state_messages: int = 0
    state_bytes: int = 0
    largest_state_bytes: int = 0
    total_bytes: int = 0
    last_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class TapResult:
    """One tap process: how long it ran, its CPU time and peak RSS, what it wrote."""

    wall_seconds: float
    cpu_seconds: float  # user + system, the tap process's own (`wait4`)
    peak_rss_mib: float
    returncode: int
    output: Output
    stderr_tail: str

    @property
    def records(self) -> int:
        return self.output.records

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self.output.last_state


def run_tap(
    config: dict[str, Any],
    workdir: pathlib.Path,
    *,
    state: dict[str, Any] | None = None,
    select: tuple[str, ...] | None = None,
    timeout: float = 1800,
) -> TapResult:
    """Run the installed tap once; its stdout goes to a file, so no reader ever slows it.

    `select`: the streams to sync, through a catalog from the tap's own `--discover` with
    `selected` set in each stream's root metadata (None: no catalog, the default streams).
    """
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    command = [str(TAP), "--config", str(config_path)]
    if select is not None:
        catalog_path = workdir / "catalog.json"
        catalog_path.write_text(json.dumps(catalog(config_path, select)), encoding="utf-8")
        command += ["--catalog", str(catalog_path)]
    if state is not None:
        state_path = workdir / "state.json"
        state_path.write_text(json.dumps(state), encoding="utf-8")
        command += ["--state", str(state_path)]
    out_path, err_path = workdir / "tap-stdout.jsonl", workdir / "tap-stderr.log"
    with out_path.open("w", encoding="utf-8") as out, err_path.open("w", encoding="utf-8") as err:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        high_water = HighWater(process.pid)
        returncode, usage = reap(process, timeout)
        wall = time.monotonic() - started
    stderr = err_path.read_text(encoding="utf-8")
    return TapResult(
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=high_water.mib(),  # the tap's own (rss.py: not wait4's ru_maxrss)
        returncode=returncode,
        output=_read_output(out_path),
        stderr_tail="\n".join(stderr.splitlines()[-5:]),
    )


def catalog(config_path: pathlib.Path, select: tuple[str, ...]) -> dict[str, Any]:
    """`tap-clevertap-counts --discover`, with exactly the streams in `select` selected."""
    done = subprocess.run(
        [str(TAP), "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    names = {stream["tap_stream_id"] for stream in found["streams"]}
    if missing := set(select) - names:
        raise RuntimeError(f"--discover has no stream {sorted(missing)}; it has {sorted(names)}")
    for stream in found["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in select
    return found


def reap(process: subprocess.Popen[Any], timeout: float) -> tuple[int, Any]:
    """Reap the child with `wait4`, which returns that child's own resource usage."""
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def _read_output(path: pathlib.Path) -> Output:
    """Count the messages and bytes of stdout (bytes as written, newlines included)."""
    records, states, state_bytes, largest, total = 0, 0, 0, 0, 0
    by_stream: Counter[str] = Counter()
    state = None
    with path.open("rb") as out:
        for line in out:
            total += len(line)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("type") == "RECORD":
                records += 1
                by_stream[message.get("stream", "?")] += 1
            elif message.get("type") == "STATE":
                states += 1
                state_bytes += len(line)
                largest = max(largest, len(line))
                state = message["value"]
    return Output(records, dict(by_stream), states, state_bytes, largest, total, state)
