"""The HTTP exchange (transport.py) keeps the passcode out of what it quotes, and only there.

A misconfigured proxy may answer with a page that shows the request it got, headers included:
the tap quotes that page in its messages without the passcode. Answers themselves are never
altered, so even a one-letter passcode cannot change a count.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tap_clevertap_counts.api.client import CleverTapClient, ClientSettings, CountRequest
from tap_clevertap_counts.emulator import Emulator
from tests.conftest import LAUNCHES, TAP_COMMAND, truth
from tests.test_secrets import ACCOUNT, DEBUG, assert_not_leaked, secret_config, secret_emulator


class EchoServer:
    """A misconfigured proxy whose error page shows the request it got, headers and all."""

    def __init__(self, status: int, pad: int) -> None:
        self.status = status
        self.pad = pad
        self.hits = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._sock.accept()
            except OSError:
                return
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                self.hits += 1
                # the passcode `pad` + 43 characters in: whole inside what a message quotes
                # (200 characters), or cut by its end
                lines = [x for x in head.split(b"\r\n") if x.lower().startswith(b"x-clevertap")]
                lines.sort(key=lambda line: b"passcode" not in line.lower())
                ours = b" ".join(lines)
                page = b"<h1>Bad Gateway</h1>" + b"x" * self.pad + b" " + ours + b" " + head
                connection.sendall(
                    f"HTTP/1.1 {self.status} Oops\r\nContent-Type: text/html\r\n"
                    f"Content-Length: {len(page)}\r\nConnection: close\r\n\r\n".encode()
                    + page
                )

    def close(self) -> None:
        self._sock.close()


@pytest.mark.parametrize(("status", "pad"), [(502, 0), (400, 149), (200, 140)])
def test_an_answer_that_echoes_the_request_headers_is_quoted_without_them(
    tmp_path: Path, status: int, pad: int
) -> None:
    server = EchoServer(status, pad)
    try:
        emulator = secret_emulator()
        emulator.stop()
        config = secret_config(emulator, api_url=server.url)
        (tmp_path / "config.json").write_text(json.dumps(config))
        done = subprocess.run(
            [*TAP_COMMAND, "--config", str(tmp_path / "config.json")],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **DEBUG},
            check=False,
        )
    finally:
        server.close()
    assert server.hits >= 1
    assert done.returncode == 1
    assert_not_leaked(done.stdout, "stdout")
    assert_not_leaked(done.stderr, "the log and the error line")
    assert "pc-Zq" not in done.stderr  # not even the start of it
    errors = [line for line in done.stderr.splitlines() if line.startswith("tap-clevertap")]
    assert len(errors) == 1
    assert "Bad Gateway" in errors[0]  # the page is still quoted, so the user sees what came


def test_a_short_passcode_never_changes_a_count(make_emulator: Callable[..., Emulator]) -> None:
    """Quotes are cleaned of the passcode, answers are not: a passcode of "s" (in every answer's
    "status") still counts right."""
    emulator = make_emulator(account_id=ACCOUNT, passcode="s", partial_share=0.5)
    client = CleverTapClient(
        ClientSettings(base_url=emulator.url, account_id=ACCOUNT, passcode="s", poll_interval=0.01)
    )
    for day in range(1, 8):
        request = CountRequest(
            "launches",
            "App Launched",
            (),
            datetime.date(2024, 3, day),
            datetime.date(2024, 3, day),
        )
        expected = truth(emulator, LAUNCHES, *[request.from_date.isoformat()] * 2)
        assert client.count(request) == expected
