"""The request log: its fields, its file, and that no header or passcode ever reaches it or any
output."""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Callable

import pytest
import requests

from tap_clevertap_counts.emulator import DEMO_PASSCODE, Emulator
from tests.emulator.conftest import HEADERS, PIZZA_BODY, Client

KEYS = {"t", "method", "path", "kind", "body", "req_id", "status", "answer", "inflight", "injected"}


def test_entries(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=0.0)
    client = Client(emu)
    before = time.time()
    req_id = client.submit().json()["req_id"]
    client.poll(req_id)
    client.poll("abc")
    client.poll(None)
    client.submit(b"not json {")
    client.submit(None)
    client.submit(path="/nowhere")
    log = emu.requests()
    assert all(set(entry) == KEYS for entry in log)
    submit, poll, poll_text, poll_none, bad, empty, other = log
    assert before <= submit["t"] <= time.time()
    assert submit["method"] == "POST"
    assert submit["path"] == "/1/counts/profiles.json"
    assert (submit["kind"], submit["body"], submit["req_id"]) == ("submit", PIZZA_BODY, None)
    assert submit["answer"] == {"status": "partial", "req_id": req_id}
    assert (submit["status"], submit["inflight"], submit["injected"]) == (200, 1, None)
    assert (poll["method"], poll["kind"], poll["req_id"], poll["body"]) == (
        "GET",
        "poll",
        req_id,
        None,
    )
    assert poll["path"] == f"/1/counts/profiles.json?req_id={req_id}"
    assert poll["answer"]["status"] == "success"
    assert (poll_text["req_id"], poll_text["status"]) == ("abc", 400)
    assert (poll_none["req_id"], poll_none["answer"]) == (
        None,
        {"status": "fail", "error": "Invalid query"},
    )
    assert (bad["body"], bad["status"]) == ("not json {", 400)
    assert (empty["body"], empty["status"]) == (None, 400)
    assert (other["kind"], other["status"]) == ("other", 404)


def test_log_file_is_json_lines_like_memory(
    make_emu: Callable[..., Emulator], tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "logs" / "emulator.jsonl"
    emu = make_emu(log_path=path)
    client = Client(emu)
    client.submit()
    client.poll(5)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == emu.requests()
    emu.clear_log()
    assert emu.requests() == []
    client.submit()
    assert len(emu.requests()) == 1
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3  # the file keeps everything


def test_headers_and_passcode_never_logged_or_printed(
    make_emu: Callable[..., Emulator], tmp_path: pathlib.Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "emulator.jsonl"
    emu = make_emu(log_path=path, partial_share=0.5)
    client = Client(emu)
    client.submit()
    client.submit(headers={**HEADERS, "X-CleverTap-Passcode": "wrong"})
    client.submit(headers={"X-CleverTap-Account-Id": "x"})
    # Someone pastes the passcode into a body, a path and a req_id: it is masked everywhere.
    client.submit({**PIZZA_BODY, "event_name": f"leak {DEMO_PASSCODE}"})
    client.submit(f"raw {DEMO_PASSCODE} text".encode())
    client.poll(DEMO_PASSCODE)
    client.submit(path=f"/x/{DEMO_PASSCODE}")
    emu.inject("html_502")
    client.submit()
    emu.inject("reset")
    with pytest.raises(requests.exceptions.RequestException):
        client.submit()
    emu.stop()
    text = path.read_text(encoding="utf-8")
    memory = json.dumps(emu.requests())
    for blob in (text, memory):
        assert DEMO_PASSCODE not in blob
        assert "X-CleverTap" not in blob
        assert "***" in blob
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""
