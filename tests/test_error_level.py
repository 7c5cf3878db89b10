"""The fatal line's form: plain on a terminal, a log record at error level under a singer-sdk
logging config (what Meltano hands a plugin with `structured-logging`; it then logs the line at
the record's level). Through Meltano itself: tests/e2e/test_meltano_errors.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_cli

PREFIX = "tap-clevertap-counts: error:"
# What Meltano 4.4 writes to tap.singer_sdk_logging.json when the plugin declares
# structured-logging (meltano/core/plugin/singer/base.py).
STRUCTURED = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"singer_formatter": {"()": "singer_sdk.logging.StructuredFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "singer_formatter",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}


def test_a_fatal_line_is_plain_without_a_logging_config(tmp_path: Path) -> None:
    run = run_cli(["--config", str(tmp_path / "missing.json")], None, tmp_path)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"{PREFIX} cannot read the --config file {tmp_path / 'missing.json'}: "
        "No such file or directory"
    ]


def test_a_fatal_line_is_an_error_record_under_a_structured_logging_config(
    tmp_path: Path,
) -> None:
    config = tmp_path / "logging.json"
    config.write_text(json.dumps(STRUCTURED))
    missing = tmp_path / "missing.json"
    run = run_cli(
        ["--config", str(missing)], None, tmp_path, env={"SINGER_SDK_LOG_CONFIG": str(config)}
    )
    assert run.returncode == 1
    records = [json.loads(line) for line in run.stderr.splitlines()]
    fatal = [r for r in records if PREFIX in r["message"]]
    assert len(fatal) == 1, run.stderr
    assert fatal[0]["level"] == "error"
    assert fatal[0]["message"] == (
        f"{PREFIX} cannot read the --config file {missing}: No such file or directory"
    )
    assert "exception" not in fatal[0], "one line: no traceback in the record either"
