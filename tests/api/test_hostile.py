"""Hostile answers over real HTTP: each is retried (then counted exactly) or stops the run with
one clear line; none ever becomes a record.

The emulator forces each kind of answer CleverTap's proxies and half-dead backends really send
(HTML pages, cut or empty bodies, odd JSON, resets, slow answers, redirects elsewhere). A few the
emulator cannot send (a body that trickles in, a compressed bomb) come from a small local server.
"""

from __future__ import annotations

import datetime
import gzip
import json
import socket
import subprocess
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.api.client import CleverTapClient, ClientSettings, CountRequest
from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator
from tap_clevertap_counts.emulator.hostile import RedirectTarget
from tap_clevertap_counts.errors import EndpointError, RetriesExhaustedError
from tests.conftest import (
    PIZZA,
    TAP_COMMAND,
    assert_exact,
    assert_no_secret,
    run_tap,
    tap_config,
    truth,
    wait_until,
)

# Counts the hostile answers carry (as text, float, negative, in a cut or huge body, or from
# the foreign host of a redirect): a record with one of these would be a wrong count.
HOSTILE_COUNTS = {12, 3, -3, 7138, RedirectTarget.FAKE_COUNT}

# kind -> the words the error quotes when that answer never stops coming.
RETRIED: dict[str, str] = {
    "html_200": "HTTP 200 'a non-JSON body: <!DOCTYPE html>",
    "html_502": "HTTP 502 'a non-JSON body: <!DOCTYPE html>",
    "truncated_json": """HTTP 200 'a non-JSON body: {"status":"succ'""",
    "success_no_count": "HTTP 200 'a success answer without a valid count: None'",
    "count_string": "HTTP 200 'a success answer without a valid count: '12''",
    "count_float": "HTTP 200 'a success answer without a valid count: 12.5'",
    "count_negative": "HTTP 200 'a success answer without a valid count: -3'",
    "count_null": "HTTP 200 'a success answer without a valid count: None'",
    "unknown_status": "HTTP 200 'an unknown status 'weird''",
    "partial_no_req_id": "HTTP 200 'a partial answer without a valid req_id: None'",
    "req_id_string": "HTTP 200 'a partial answer without a valid req_id: 'abc''",
    "fail_200": "HTTP 200 'Server error'",
    "empty_body": "HTTP 200 'an empty body'",
    "huge_body": "HTTP 200 'an answer over 1 MB, not a count'",
    "reset": "network error talking to",
    "slow": "no answer within request_timeout_seconds=1",
}
DAYS = ("2024-03-04", "2024-03-06")  # three daily periods


def hostile_config(emulator: Emulator, kind: str) -> dict[str, Any]:
    return tap_config(
        emulator,
        queries=[PIZZA],
        start_date=DAYS[0],
        end_date=DAYS[1],
        max_concurrent_queries=1,
        # `slow` answers after 2 s: the timeout must be shorter to see it, and leave a normal
        # answer a second (0.3 s was overrun under load: a submit cut after the emulator took
        # it is submitted again); roomy otherwise so a normal answer never times out.
        request_timeout_seconds=1 if kind == "slow" else 10,
    )


def injected(emulator: Emulator, kind: str) -> list[dict[str, Any]]:
    return [entry for entry in emulator.requests() if entry["injected"] == kind]


def test_the_hostile_counts_differ_from_the_truth(emulator: Emulator) -> None:
    """Otherwise an exact-count check could not tell a hostile count from the right one."""
    day = datetime.date.fromisoformat(DAYS[0])
    while day <= datetime.date.fromisoformat(DAYS[1]):
        assert truth(emulator, PIZZA, day.isoformat(), day.isoformat()) not in HOSTILE_COUNTS
        day += datetime.timedelta(days=1)


@pytest.mark.parametrize("on", ["submit", "poll"])
@pytest.mark.parametrize("kind", list(RETRIED))
def test_a_hostile_answer_is_retried_then_counted_exactly(
    make_emulator: Callable[..., Emulator], kind: str, on: str
) -> None:
    # Every job is partial when the hostile answer replaces a poll, so polls exist.
    emulator = make_emulator(partial_share=1.0 if on == "poll" else 0.0, job_seconds=0.01)
    emulator.inject(kind, times=2, on=on)
    config = hostile_config(emulator, kind)
    run = run_tap(config)
    assert run.periods() == [
        ("pizza", day, day) for day in ("2024-03-04", "2024-03-05", "2024-03-06")
    ]
    assert_exact(emulator, config, run)
    assert not {record["count"] for record in run.records} & HOSTILE_COUNTS
    assert [entry["kind"] for entry in injected(emulator, kind)] == [on, on]
    if on == "poll":
        # a poll that got nonsense is asked again; the job is not thrown away for it
        assert sum(entry["kind"] == "submit" for entry in emulator.requests()) == 3
    assert run.state is not None


@pytest.mark.parametrize("on", ["submit", "poll"])
def test_a_redirect_elsewhere_is_refused_and_credentials_stay_home(
    make_emulator: Callable[..., Emulator], on: str
) -> None:
    emulator = make_emulator(partial_share=1.0 if on == "poll" else 0.0, job_seconds=0.01)
    emulator.inject("redirect", times=5, on=on)
    config = hostile_config(emulator, "redirect")
    with pytest.raises(EndpointError) as caught:
        run_tap(config)
    message = str(caught.value)
    assert emulator.redirect_target_hits() == 0
    assert not emulator.redirect_target_saw_credentials()
    assert "HTTP 302 'redirected to http://" in message
    assert "Check region or api_url" in message  # what to fix
    assert "\n" not in message
    assert "X-CleverTap" not in message
    # nothing more is sent once the endpoint is known to be wrong
    log = emulator.requests()
    assert log[-1]["injected"] == "redirect"
    assert len(injected(emulator, "redirect")) == 1


def start_cli(config: dict[str, Any], folder: Path) -> subprocess.Popen[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.Popen(
        [*TAP_COMMAND, "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_persisting_hostile_answers_stop_with_one_line_naming_the_query(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Every kind, for good, through the installed command: all run side by side."""
    expected = {
        **{
            kind: f"after 10 tries; CleverTap's last answer: {words}"
            for kind, words in RETRIED.items()
        },
        "redirect": "HTTP 302 'redirected to http://",
    }
    running: dict[str, tuple[Emulator, subprocess.Popen[str]]] = {}
    for kind in expected:
        emulator = make_emulator(partial_share=0.0)
        emulator.inject(kind, times=1000)
        config = hostile_config(emulator, kind)
        config["start_date"] = config["end_date"] = "2024-03-05"
        running[kind] = (emulator, start_cli(config, tmp_path / kind))
    problems: list[str] = []
    for kind, (emulator, process) in running.items():
        stdout, stderr = process.communicate(timeout=120)
        assert_no_secret(stdout + stderr, f"the output of the {kind} run")
        errors = [line for line in stderr.splitlines() if line.startswith("tap-clevertap-counts:")]
        checks = {
            "exit code 1": process.returncode == 1,
            "no traceback": "Traceback" not in stderr,
            "no record": '"type":"RECORD"' not in stdout.replace(" ", ""),
            "one error line": len(errors) == 1,
            "names the query and dates": kind == "redirect"
            or (bool(errors) and "query 'pizza' (2024-03-05..2024-03-05)" in errors[0]),
            "quotes the answer": bool(errors) and expected[kind] in errors[0],
            "no header in it": bool(errors) and "X-CleverTap" not in errors[0],
        }
        if kind == "redirect":
            checks["says what to fix"] = bool(errors) and "Check region or api_url" in errors[0]
            checks["stopped at once"] = len(emulator.requests()) == 1
            checks["no credentials abroad"] = emulator.redirect_target_hits() == 0
        else:
            checks["tried 10 times"] = len(injected(emulator, kind)) == 10
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            problems.append(f"{kind}: {', '.join(failed)}: {errors or stderr[-500:]}")
    assert not problems, "\n".join(problems)


# --- hostile answers the emulator cannot send: a tiny server of our own ---------------------

DAY = datetime.date(2024, 3, 5)
REQUEST = CountRequest("pizza", "choseNewFavoriteFood", (), DAY, DAY)
GOOD_BODY = b'{"status":"success","count":41}'


def _bomb(decoded_megabytes: int) -> bytes:
    """A gzip body that is small on the wire and many megabytes once decoded."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"status":"success","count":7138,"pad":"')]
    block = b" " * (1 << 20)
    parts.extend(packer.compress(block) for _ in range(decoded_megabytes))
    parts.append(packer.compress(b'"}') + packer.flush())
    return b"".join(parts)


class RawServer:
    """Answers each request with the next scripted answer (the last one repeats).

    An answer is (headers, body, seconds between body bytes); the connection is closed after
    each answer so every try is a fresh exchange.
    """

    def __init__(self, answers: list[tuple[dict[str, str], bytes, float]]) -> None:
        self.answers = answers
        self.requests = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            with self._lock:
                index = min(self.requests, len(self.answers) - 1)
                self.requests += 1
            headers, body, gap = self.answers[index]
            head = "HTTP/1.1 200 OK\r\nConnection: close\r\n"
            head += f"Content-Length: {len(body)}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            try:
                connection.sendall((head + "\r\n").encode())
                if not gap:
                    connection.sendall(body)
                    return
                for byte in body:
                    if self._closed.wait(gap):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up on us

    def close(self) -> None:
        self._closed.set()
        self._sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def make(answers: list[tuple[dict[str, str], bytes, float]]) -> RawServer:
        server = RawServer(answers)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def raw_client(server: RawServer, **overrides: Any) -> CleverTapClient:
    settings: dict[str, Any] = {
        "base_url": server.url,
        "account_id": DEMO_ACCOUNT_ID,
        "passcode": DEMO_PASSCODE,
        "request_timeout": 0.3,
        "poll_interval": 0.01,
    }
    settings.update(overrides)
    return CleverTapClient(ClientSettings(**settings))


JSON = {"Content-Type": "application/json"}


def test_a_body_that_trickles_in_is_cut_at_the_request_timeout(
    raw_server: Callable[..., RawServer],
) -> None:
    """Each byte comes within the timeout, the whole answer does not: retried, not waited for."""
    # Waited for to its end, the trickle (33 bytes, 0.5 s apart: 16.5 s) would be a success of
    # 7138 in one request. The timeout leaves the good answer seconds, not the 0.3 s a loaded
    # machine overran (each overrun a retry more).
    trickle = (JSON, b'{"status":"success","count":7138}', 0.5)
    server = raw_server([trickle, (JSON, GOOD_BODY, 0)])
    assert raw_client(server, request_timeout=3.0).count(REQUEST) == 41
    assert server.requests == 2


def test_a_body_that_always_trickles_gives_up_in_bounded_time(
    raw_server: Callable[..., RawServer],
) -> None:
    # Each answer would take 330 s to trickle in: only cutting each at the request timeout
    # ends in the error below (and within the test's timeout). No elapsed time is asserted.
    server = raw_server([(JSON, b'{"status":"success","count":7138}' * 100, 0.1)])
    with pytest.raises(RetriesExhaustedError) as caught:
        raw_client(server, max_tries=3).count(REQUEST)
    assert "after 3 tries" in str(caught.value)
    # The server counts a request once it has read it, which a loaded machine can do after the
    # client's 0.3 s gave up on the last one: wait for it, do not race it.
    wait_until(lambda: server.requests >= 3, "the server to read the third try")
    assert server.requests == 3
    assert "no answer within request_timeout_seconds=0.3" in str(caught.value)
    assert "query 'pizza' (2024-03-05..2024-03-05)" in str(caught.value)


def test_a_compressed_answer_is_read(raw_server: Callable[..., RawServer]) -> None:
    headers = {**JSON, "Content-Encoding": "gzip"}
    server = raw_server([(headers, gzip.compress(GOOD_BODY), 0)])
    assert raw_client(server).count(REQUEST) == 41


def test_a_compressed_bomb_is_refused_without_decoding_it_all(
    raw_server: Callable[..., RawServer],
) -> None:
    bomb = _bomb(64)  # 64 MB decoded from ~64 kB on the wire
    headers = {**JSON, "Content-Encoding": "gzip"}
    server = raw_server([(headers, bomb, 0), (JSON, GOOD_BODY, 0)])
    tracemalloc.start()
    try:
        assert raw_client(server, request_timeout=5).count(REQUEST) == 41
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024
    assert server.requests == 2
