"""The command: the reference page's curl example against `clevertap-counts-emulator`, clean
stops on SIGTERM/SIGINT, and no passcode in its output."""

from __future__ import annotations

import datetime
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, EventStore

SCRIPT = Path(sys.executable).parent / "clevertap-counts-emulator"
COMMAND = (
    [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tap_clevertap_counts.emulator"]
)
# The reference page's example, verbatim but for the host and the credentials.
REFERENCE_DATA = (
    '{"event_name":"choseNewFavoriteFood","event_properties":[{"name":"value",'
    '"operator":"contains","value":"piz"}],"from":20150810,"to":20151025}'
)


class Running:
    def __init__(self, process: subprocess.Popen[str], first_line: str) -> None:
        self.process = process
        self.first_line = first_line
        self.url = first_line.split(" listening on ")[1].split(maxsplit=1)[0]

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=10)
        return self.process.returncode, self.first_line + out, err


def start(*args: str) -> Running:
    process = subprocess.Popen(
        [*COMMAND, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=20):
        process.kill()
        pytest.fail("the emulator printed nothing within 20 s")
    return Running(process, process.stdout.readline())


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    emulator = start(
        # jobs that are partial and done at once: the poll the examples send always finds an
        # answer, however long the machine takes to send it (no sleep, no race)
        "--partial-share",
        "1",
        "--job-seconds",
        "0",
        "--log-file",
        str(tmp_path / "log.jsonl"),
    )
    yield emulator
    if emulator.process.poll() is None:
        emulator.process.kill()
        emulator.process.communicate()


def curl(*args: str) -> dict[str, object]:
    done = subprocess.run(
        ["curl", "-s", *args], capture_output=True, text=True, timeout=20, check=True
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def expected_reference_count() -> int:
    return EventStore(seed=42).count_profiles(
        "choseNewFavoriteFood",
        [{"name": "value", "operator": "contains", "value": "piz"}],
        datetime.date(2015, 8, 10),
        datetime.date(2015, 10, 25),
    )


def test_the_first_line(running: Running) -> None:
    assert running.first_line.startswith("clevertap-counts-emulator listening on http://127.0.0.1:")
    assert DEMO_ACCOUNT_ID in running.first_line
    assert DEMO_PASSCODE not in running.first_line


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_reference_curl_example(running: Running, tmp_path: Path) -> None:
    url = f"{running.url}/1/counts/profiles.json"
    answer = curl(
        "-X", "POST", "-d", REFERENCE_DATA, url,
        "-H", f"X-CleverTap-Account-Id: {DEMO_ACCOUNT_ID}",
        "-H", f"X-CleverTap-Passcode: {DEMO_PASSCODE}",
        "-H", "Content-Type: application/json",
    )  # fmt: skip
    assert answer["status"] == "partial"
    assert isinstance(answer["req_id"], int)
    answer = curl(
        f"{url}?req_id={answer['req_id']}",
        "-H", f"X-CleverTap-Account-Id: {DEMO_ACCOUNT_ID}",
        "-H", f"X-CleverTap-Passcode: {DEMO_PASSCODE}",
    )  # fmt: skip
    assert answer == {"status": "success", "count": expected_reference_count()}
    assert expected_reference_count() > 0
    code, out, err = running.stop()
    assert code == 0
    assert DEMO_PASSCODE not in out + err
    assert DEMO_PASSCODE not in (tmp_path / "log.jsonl").read_text(encoding="utf-8")


def test_reference_example_with_requests(running: Running) -> None:
    """The reference page's Python example, pointed at the command."""
    headers = {
        "X-CleverTap-Account-Id": DEMO_ACCOUNT_ID,
        "X-CleverTap-Passcode": DEMO_PASSCODE,
        "Content-Type": "application/json",
    }
    url = f"{running.url}/1/counts/profiles.json"
    answer = requests.post(url, headers=headers, data=REFERENCE_DATA, timeout=10).json()
    assert answer["status"] == "partial"
    polled = requests.get(url, params={"req_id": answer["req_id"]}, headers=headers, timeout=10)
    assert polled.json() == {"status": "success", "count": expected_reference_count()}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly(signum: int) -> None:
    emulator = start("--passcode", "cli-secret-passcode-9", "--account-id", "ACME-1")
    assert "ACME-1" in emulator.first_line
    code, out, err = emulator.stop(signum)
    assert code == 0
    assert err == ""
    assert "cli-secret-passcode-9" not in out + err


def test_options_reach_the_emulator(tmp_path: Path) -> None:
    emulator = start("--today", "2020-01-31", "--partial-share", "0", "--maintenance")
    url = f"{emulator.url}/1/counts/profiles.json"
    headers = {"X-CleverTap-Account-Id": DEMO_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_PASSCODE}
    answer = requests.post(url, headers=headers, data=REFERENCE_DATA, timeout=10)
    assert answer.status_code == 503
    emulator.stop()
    emulator = start("--today", "2020-01-31", "--partial-share", "0")
    url = f"{emulator.url}/1/counts/profiles.json"
    body = {"event_name": "Charged", "from": 20200131, "to": 20200201}
    answer = requests.post(url, headers=headers, json=body, timeout=10)
    assert answer.json() == {"status": "fail", "error": "[to date in the future]"}
    emulator.stop()


def test_bad_options_are_one_clear_line() -> None:
    done = subprocess.run(
        [*COMMAND, "--fault-429", "2"], capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 2
    assert "fault_429 must be between 0 and 1" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [*COMMAND, "--today", "yesterday"], capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 2
    assert "not a YYYY-MM-DD date" in done.stderr


def test_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*COMMAND, "--port", str(port)], capture_output=True, text=True, timeout=20, check=False
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_documents_every_option() -> None:
    done = subprocess.run(
        [*COMMAND, "--help"], capture_output=True, text=True, timeout=20, check=True
    )
    for option in (
        "--port", "--host", "--seed", "--today", "--partial-share", "--job-seconds",
        "--req-id-ttl-seconds", "--concurrency-limit", "--fault-429", "--fault-500",
        "--fault-503", "--expire-share", "--async-fail-share", "--maintenance",
        "--slow-seconds", "--log-file", "--account-id", "--passcode", "--shared-limit",
        "--trends-off", "--trends-disagree",
    ):  # fmt: skip
        assert option in done.stdout
