"""The `tap-clevertap-counts` command: the SDK's CLI, with failures reported as one line.

The SDK reports config-schema errors itself, but anything raised while syncing, and anything
raised by `--test`, reaches the interpreter as a traceback. A user (or Meltano's log) should see
one sentence saying what is wrong and what to do, and a non-zero exit.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

from .errors import CleverTapCountsError
from .tap import TapClevertapCounts

PROG = "tap-clevertap-counts"
DEBUG_ENV = "TAP_CLEVERTAP_COUNTS_TRACEBACKS"


class _DropSdkSyncNoise(logging.Filter):
    """The SDK logs "An unhandled error occurred while syncing" before our own line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("An unhandled error occurred while syncing")


def main(argv: list[str] | None = None) -> None:
    logging.getLogger(f"{PROG}.profile_counts").addFilter(_DropSdkSyncNoise())
    try:
        TapClevertapCounts.cli.main(args=argv, prog_name=PROG, standalone_mode=True)
    except CleverTapCountsError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        sys.exit(1)
    except Exception as exc:  # a bug: say so in one line; tracebacks on request
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        sys.stderr.write(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            f"(set {DEBUG_ENV}=1 for the traceback, and please report it)\n"
        )
        sys.exit(2)
