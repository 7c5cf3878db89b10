"""The `tap-clevertap-counts` command: the SDK's CLI, with failures reported as one line.

The SDK reports config-schema errors itself, but anything raised while syncing, and anything
raised by `--test`, reaches the interpreter as a traceback. A user (or Meltano's log) should see
one sentence saying what is wrong and what to do, and a non-zero exit.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from singer_sdk.exceptions import StreamMapConfigError
from typing_extensions import override

from .errors import CleverTapCountsError, ConfigError
from .singer import signals, statefile
from .singer.catalog_check import shape_problem
from .tap import TapClevertapCounts

PROG = "tap-clevertap-counts"
DEBUG_ENV = "TAP_CLEVERTAP_COUNTS_TRACEBACKS"
LOG_CONFIG_ENV = "SINGER_SDK_LOG_CONFIG"  # the SDK's logging config file; Meltano sets it


class _DropSdkSyncNoise(logging.Filter):
    """The SDK logs "An unhandled error occurred while syncing" before our own line."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("An unhandled error occurred while syncing")


FILE_OPTIONS = ("--config", "--state", "--catalog")


def _file_arguments(argv: list[str]) -> Iterator[tuple[str, str]]:
    """(option, path) for every file option, in both `--opt path` and `--opt=path` forms."""
    for position, argument in enumerate(argv):
        option, equals, value = argument.partition("=")
        if option not in FILE_OPTIONS:
            continue
        if not equals:
            if position + 1 >= len(argv):
                continue  # click reports the missing value
            value = argv[position + 1]
        if option == "--config" and value == "ENV":
            continue
        yield option, value


def check_files(argv: list[str]) -> None:
    """Name an unreadable or non-JSON file given on the command line, before the SDK reads it."""
    for option, value in _file_arguments(argv):
        try:
            text = Path(value).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(f"cannot read the {option} file {value}: {reason}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"the {option} file {value} is not valid JSON: {exc}") from None
        if option == "--state" and (problem := statefile.problem(statefile.unwrap(data))):
            raise ConfigError(f"the --state file {value} is not a Singer state: {problem}")
        streams = TapClevertapCounts.known_streams
        if option == "--catalog" and (problem := shape_problem(data, streams)):
            raise ConfigError(f"the --catalog file {value}: {problem}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> None:
    logging.getLogger(f"{PROG}.profile_counts").addFilter(_DropSdkSyncNoise())
    try:
        with signals.command():
            _main(argv)
    finally:
        if argv is None:  # the console script: this process only exits from here
            signals.ignore_from_now()


def _fatal(line: str, code: int) -> NoReturn:
    """Say the one line and exit. Under Meltano (or any SINGER_SDK_LOG_CONFIG) the line is a log
    record at error level, in the format that config asks for: Meltano reads a plugin's stderr
    lines as its structured log records, and a plain line it logs at [info]."""
    if os.environ.get(LOG_CONFIG_ENV) and logging.getLogger().handlers:
        logging.getLogger(PROG).error("%s", line)
    else:
        sys.stderr.write(f"{line}\n")
    sys.exit(code)


def _main(argv: list[str] | None) -> None:
    try:
        command = TapClevertapCounts.cli  # (sets up the SDK's logging, so `_fatal` can log)
        check_files(sys.argv[1:] if argv is None else argv)
        command.main(args=argv, prog_name=PROG, standalone_mode=True)
    except CleverTapCountsError as exc:
        _fatal(f"{PROG}: error: {exc}", 1)
    except StreamMapConfigError as exc:  # the user's stream_maps, not a bug of the tap
        _fatal(f"{PROG}: error: stream_maps in the config: {_one_line(exc)}", 1)
    except Exception as exc:  # a bug: say so in one line; tracebacks on request
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        _fatal(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            f"(set {DEBUG_ENV}=1 for the traceback, and please report it)",
            2,
        )
