"""Smoke-test an installed tap: `--about`, then a short sync against its own emulator.

Run with the Python of a venv where only the wheel is installed (the release workflow's clean
venv; tests/test_packaging.py's): `VENV/bin/python scripts/smoke_wheel.py [--version X.Y.Z]`.
The emulator is the installed package's own (`tap_clevertap_counts.emulator`), on a free
loopback port; the tap runs as the installed command. Every record must equal the emulator's
own count, a STATE must close the output, and the passcode must appear nowhere. One line on
success; one line and exit 1 on failure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, EmulatorConfig

TAP = Path(sys.executable).parent / "tap-clevertap-counts"
TODAY = datetime.date(2025, 1, 8)
QUERY = {"name": "launches", "event_name": "App Launched"}


class SmokeError(Exception):
    """What went wrong, in one line."""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 (the installed command, fixed arguments)
        [str(TAP), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SmokeError(f"tap-clevertap-counts {args[0]} exited {done.returncode}: {last}")
    return done


def check_about(version: str | None) -> str:
    about = json.loads(run("--about", "--format=json").stdout)
    if about["name"] != "tap-clevertap-counts":
        raise SmokeError(f"--about names {about['name']!r}")
    if version is not None and about["version"] != version:
        raise SmokeError(f"--about says version {about['version']}, expected {version}")
    return str(about["version"])


def check_sync(workdir: Path) -> int:
    emulator = Emulator(EmulatorConfig(today=TODAY, job_seconds=0.01, partial_share=0.5))
    emulator.start()
    try:
        config: dict[str, Any] = {
            "account_id": DEMO_ACCOUNT_ID,
            "passcode": DEMO_PASSCODE,
            "api_url": emulator.url,
            "start_date": "2025-01-01",
            "end_date": (TODAY - datetime.timedelta(days=1)).isoformat(),
            "poll_interval_seconds": 0.01,
            "queries": [QUERY],
        }
        path = workdir / "config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        done = run("--config", str(path))
    finally:
        emulator.stop()
    if DEMO_PASSCODE in done.stdout + done.stderr:
        raise SmokeError("the passcode appears in the tap's output")
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    if len(records) != 7 or messages[-1]["type"] != "STATE":
        raise SmokeError(f"expected 7 records and a final STATE, got {len(records)} records")
    for record in records:
        day = datetime.date.fromisoformat(record["to_date"])
        expected = emulator.store.count_profiles(QUERY["event_name"], [], day, day)
        if record["count"] != expected:
            raise SmokeError(f"{record['to_date']}: count {record['count']}, expected {expected}")
    return len(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="the version --about must report (e.g. the tag's)")
    args = parser.parse_args(argv)
    try:
        version = check_about(args.version.removeprefix("v") if args.version else None)
        with tempfile.TemporaryDirectory() as workdir:
            records = check_sync(Path(workdir))
    except SmokeError as exc:
        print(f"smoke test failed: {exc}", file=sys.stderr)
        return 1
    print(f"tap-clevertap-counts {version}: --about and a sync of {records} exact records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
