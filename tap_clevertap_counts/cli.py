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

from singer_sdk.exceptions import StreamMapConfigError
from typing_extensions import override

from . import signals, statefile
from .catalog_check import shape_problem
from .errors import CleverTapCountsError, ConfigError
from .tap import TapClevertapCounts

PROG = "tap-clevertap-counts"
DEBUG_ENV = "TAP_CLEVERTAP_COUNTS_TRACEBACKS"


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
    with signals.command():
        _main(argv)


def _main(argv: list[str] | None) -> None:
    try:
        check_files(sys.argv[1:] if argv is None else argv)
        TapClevertapCounts.cli.main(args=argv, prog_name=PROG, standalone_mode=True)
    except CleverTapCountsError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        sys.exit(1)
    except StreamMapConfigError as exc:  # the user's stream_maps, not a bug of the tap
        sys.stderr.write(f"{PROG}: error: stream_maps in the config: {_one_line(exc)}\n")
        sys.exit(1)
    except Exception as exc:  # a bug: say so in one line; tracebacks on request
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        sys.stderr.write(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            f"(set {DEBUG_ENV}=1 for the traceback, and please report it)\n"
        )
        sys.exit(2)
