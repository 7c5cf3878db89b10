"""The passcode stays secret: no error line, log (at any level), `--about`, state, record or
request log ever shows it, and errors that quote a request never quote its headers.

Every fatal path is driven through the installed command at DEBUG level with a passcode of its
own, and all of the command's output is searched for it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.api.client import CleverTapClient, ClientSettings
from tap_clevertap_counts.config.settings import parse_settings
from tap_clevertap_counts.emulator import Emulator, EmulatorConfig

from .conftest import (
    LAUNCHES,
    PIZZA,
    SECRETS,
    TAP_COMMAND,
    assert_no_secret,
    run_tap,
    tap_config,
)

ACCOUNT = "ACC-SECRETS-1"
PASSCODE = "pc-Zq8vT3wXk-secret"
WRONG = "pc-Wrong9Lm2-secret"
SECRETS.update({PASSCODE, WRONG})
HEADER_WORDS = ("X-CleverTap", "Passcode", "Account-Id", "User-Agent", "Content-Type")
DEBUG = {"TAP_CLEVERTAP_COUNTS_LOGLEVEL": "DEBUG"}


def secret_emulator(**changes: Any) -> Emulator:
    settings: dict[str, Any] = {
        "seed": 7,
        "partial_share": 0.5,
        "job_seconds": 0.02,
        "account_id": ACCOUNT,
        "passcode": PASSCODE,
    }
    settings.update(changes)
    return Emulator(EmulatorConfig(**settings)).start()


def secret_config(emulator: Emulator, **changes: Any) -> dict[str, Any]:
    config = tap_config(
        emulator,
        account_id=ACCOUNT,
        passcode=PASSCODE,
        queries=[PIZZA],
        start_date="2024-03-05",
        end_date="2024-03-05",
    )
    config.update(changes)
    return config


def assert_not_leaked(text: str, where: str) -> None:
    for secret in (PASSCODE, WRONG, "Zq8vT3wXk"):
        assert secret not in text, f"a passcode leaked into {where}"


@dataclass
class Fatal:
    """One way a run must stop: how to provoke it, and words its error line must hold."""

    words: str
    emulator: dict[str, Any] = field(default_factory=dict)
    inject: tuple[str, int, str] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    url_suffix: str = ""
    stop_emulator: bool = False


UNKNOWN_PROPERTY = {
    "name": "bad",
    "event_name": "Charged",
    "event_properties": [{"name": "no_such_prop", "operator": "equals", "value": 1}],
}
FATALS: dict[str, Fatal] = {
    "401 invalid credentials": Fatal("Invalid Credentials", inject=("auth_401", 1, "any")),
    "400 credentials missing": Fatal(
        "Account credentials missing", inject=("credentials_400", 1, "any")
    ),
    "503 account id": Fatal("12 digit account ID mandatory", inject=("account_503", 1, "any")),
    "a wrong passcode": Fatal("Invalid Credentials", config={"passcode": WRONG}),
    "400 payload mandatory": Fatal("Payload is mandatory", inject=("payload_400", 1, "any")),
    "400 unknown event property": Fatal(
        "CleverTap rejected query 'bad' (2024-03-05..2024-03-05)",
        config={"queries": [UNKNOWN_PROPERTY]},
    ),
    "404 wrong path": Fatal("HTTP 404 'Not found'. Check region or api_url", url_suffix="/nowhere"),
    "redirect elsewhere": Fatal("redirected to", inject=("redirect", 1, "any")),
    "maintenance for good": Fatal("System under maintenance", emulator={"maintenance": True}),
    "429 for good": Fatal(
        "Too many concurrent requests",
        inject=("busy_429", 1000, "any"),
        config={"busy_timeout_seconds": 0.5},
    ),
    "500 for good": Fatal("Server error", inject=("server_500", 1000, "any")),
    "HTML for good": Fatal("a non-JSON body", inject=("html_502", 1000, "any")),
    "timeouts for good": Fatal(
        "no answer within request_timeout_seconds=0.2",
        inject=("slow", 1000, "any"),
        config={"request_timeout_seconds": 0.2},
    ),
    "server down": Fatal("the connection was refused", stop_emulator=True),
    "poll timeout": Fatal(
        "poll_timeout_seconds",
        emulator={"partial_share": 1.0, "job_seconds": 30.0},
        config={"poll_timeout_seconds": 0.2},
    ),
    "passcode with a line break": Fatal("passcode", config={"passcode": "pc-Zq8vT3wXk\nsecret"}),
    "passcode outside latin-1": Fatal("passcode", config={"passcode": "pc-Zq8vT3wXk-€"}),
}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    requests: list[dict[str, Any]]
    log_file: str


@pytest.fixture(scope="module")
def fatal_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every fatal path through the installed command at DEBUG level, a few at a time."""
    emulators: list[Emulator] = []
    root = tmp_path_factory.mktemp("fatal")  # here: the factory is not safe across threads

    def provoke(label: str, fatal: Fatal) -> Outcome:
        folder = root / str(list(FATALS).index(label))
        folder.mkdir()
        emulator = secret_emulator(log_path=folder / "requests.jsonl", **fatal.emulator)
        emulators.append(emulator)
        if fatal.inject:
            emulator.inject(*fatal.inject)
        config = secret_config(emulator, **fatal.config)
        config["api_url"] = emulator.url + fatal.url_suffix
        if fatal.stop_emulator:
            emulator.stop()
        (folder / "config.json").write_text(json.dumps(config))
        done = subprocess.run(
            [*TAP_COMMAND, "--config", str(folder / "config.json")],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **DEBUG},
            check=False,
        )
        emulator.stop()
        log_file = folder / "requests.jsonl"
        return Outcome(
            done.returncode,
            done.stdout,
            done.stderr,
            emulator.requests(),
            log_file.read_text() if log_file.exists() else "",
        )

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {label: pool.submit(provoke, label, f) for label, f in FATALS.items()}
            yield {label: future.result() for label, future in futures.items()}
    finally:
        for emulator in emulators:
            emulator.stop()


@pytest.mark.parametrize("label", list(FATALS))
def test_a_fatal_error_quotes_no_header_and_no_passcode(
    fatal_runs: dict[str, Outcome], label: str
) -> None:
    outcome = fatal_runs[label]
    assert_not_leaked(outcome.stdout, "stdout")
    assert_not_leaked(outcome.stderr, "the DEBUG log")
    assert_not_leaked(json.dumps(outcome.requests), "the emulator's request log")
    assert_not_leaked(outcome.log_file, "the emulator's log file")
    assert "***" not in json.dumps(outcome.requests)  # not even masked: never sent but as header
    assert outcome.returncode == 1, outcome.stderr[-2000:]
    assert "Traceback" not in outcome.stderr
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("tap-clevertap")]
    assert len(errors) == 1, outcome.stderr[-2000:]
    if "Invalid config" not in errors[0]:  # a refused config stops before any DEBUG line
        assert "DEBUG" in outcome.stderr  # the level took effect
    assert errors[0].startswith("tap-clevertap-counts: error: ")
    assert FATALS[label].words in errors[0]
    for word in HEADER_WORDS:
        assert word not in errors[0]


@pytest.mark.parametrize("about", [[], ["--format=json"], ["--format=markdown"]])
@pytest.mark.parametrize("with_config", [False, True])
def test_about_never_shows_the_passcode(
    tmp_path: Path, about: list[str], with_config: bool
) -> None:
    command = [*TAP_COMMAND, "--about", *about]
    if with_config:
        emulator = secret_emulator()
        emulator.stop()
        (tmp_path / "config.json").write_text(json.dumps(secret_config(emulator)))
        command += ["--config", str(tmp_path / "config.json")]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **DEBUG}, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "passcode" in done.stdout  # the setting is documented...
    assert_not_leaked(done.stdout + done.stderr, "--about")  # ...its value never shown


@pytest.mark.parametrize(
    "env",
    [
        DEBUG,
        {"LOGLEVEL": "debug"},
        {"TAP_CLEVERTAP_COUNTS_LOGLEVEL": "DEBUG", "SINGER_SDK_LOG_CONFIG": "<file>"},
    ],
    ids=["tap LOGLEVEL", "LOGLEVEL", "logging config"],
)
@pytest.mark.parametrize("args", [[], ["--discover"], ["--test"]], ids=["sync", "discover", "test"])
def test_a_debug_run_never_shows_the_passcode(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    emulator = secret_emulator(log_path=tmp_path / "requests.jsonl", expire_share=0.3)
    emulator.inject("server_500", 2)
    emulator.inject("html_200", 1, on="poll")
    try:
        config = secret_config(emulator, queries=[PIZZA, LAUNCHES], end_date="2024-03-08")
        (tmp_path / "config.json").write_text(json.dumps(config))
        env = dict(env)
        if env.get("SINGER_SDK_LOG_CONFIG") == "<file>":
            # every logger at DEBUG, urllib3's and requests' included
            (tmp_path / "logging.yml").write_text(
                "version: 1\ndisable_existing_loggers: false\n"
                "formatters: {plain: {format: '%(levelname)s %(name)s %(message)s'}}\n"
                "handlers: {err: {class: logging.StreamHandler, stream: ext://sys.stderr,"
                " formatter: plain}}\n"
                "root: {level: DEBUG, handlers: [err]}\n"
                "loggers: {urllib3: {level: DEBUG}, requests: {level: DEBUG}}\n"
            )
            env["SINGER_SDK_LOG_CONFIG"] = str(tmp_path / "logging.yml")
        done = subprocess.run(
            [*TAP_COMMAND, "--config", str(tmp_path / "config.json"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
            check=False,
        )
    finally:
        emulator.stop()
    assert done.returncode == 0, done.stderr[-2000:]
    if args != ["--discover"]:  # discovery logs nothing at DEBUG; the others must
        assert "DEBUG urllib3" in done.stderr or "| DEBUG    | urllib3" in done.stderr
    assert_not_leaked(done.stdout, "stdout")
    assert_not_leaked(done.stderr, "the DEBUG log")
    log_text = (tmp_path / "requests.jsonl").read_text()
    assert_not_leaked(log_text + json.dumps(emulator.requests()), "the request log")
    assert "***" not in log_text


def test_the_passcode_is_in_no_repr_message_or_record(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator(account_id=ACCOUNT, passcode=PASSCODE, expire_share=0.5)
    emulator.inject("server_500", 2)
    config = secret_config(emulator, end_date="2024-03-07")
    settings = parse_settings(config)
    client = CleverTapClient(
        ClientSettings(base_url=settings.base_url, account_id=ACCOUNT, passcode=PASSCODE)
    )
    for text in (repr(settings), str(settings), repr(client), repr(client.settings)):
        assert_not_leaked(text, "a repr")
    run = run_tap(config)
    assert len(run.records) == 3
    assert_not_leaked(run.stdout, "records and state")
    assert_no_secret(json.dumps(emulator.requests()), "the emulator's request log")


def test_a_malformed_api_url_is_refused_without_its_password(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator, api_url="ftp://user:hunter2hunter2@example.com")
    (tmp_path / "config.json").write_text(json.dumps(config))
    done = subprocess.run(
        [*TAP_COMMAND, "--config", str(tmp_path / "config.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "api_url must be an http(s) URL" in done.stderr
    assert "hunter2" not in done.stderr
