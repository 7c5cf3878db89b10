"""`clevertap-counts-emulator`: run the emulator until SIGINT or SIGTERM.

Prints one line (where it listens, which account id to use) and nothing else; the passcode is
never printed, even the demo one (emulator/README.md documents it).
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from tap_clevertap_counts.emulator.config import (
    DEFAULT_PORT,
    DEMO_ACCOUNT_ID,
    DEMO_PASSCODE,
    EmulatorConfig,
)
from tap_clevertap_counts.emulator.server import Emulator

PASSCODE_ENV = "CLEVERTAP_EMULATOR_PASSCODE"


def _day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clevertap-counts-emulator",
        description=(
            "A local emulator of CleverTap's counts API (profiles.json, events.json, trends.json)."
        ),
    )
    add = parser.add_argument
    add("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (default %(default)s)")
    add("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    add("--seed", type=int, default=42, help="synthetic data and fault seed")
    add("--today", type=_day, default=None, help="the emulator's today, YYYY-MM-DD (default: UTC)")
    add("--partial-share", type=float, default=0.5, help="share of queries answered partial")
    add("--job-seconds", type=float, default=0.5, help="how long a partial job runs")
    add("--req-id-ttl-seconds", type=float, default=600.0, help="req_id life after its job ends")
    add("--concurrency-limit", type=int, default=3, help="concurrent queries per account")
    add(
        "--shared-limit",
        action="store_true",
        help="one concurrency limit shared by all counts APIs (default: one per API)",
    )
    add("--trends-off", action="store_true", help="answer 404 on /1/counts/trends.json")
    add(
        "--trends-disagree",
        action="store_true",
        help="unique Trends series one more than Get Profile Count on every day",
    )
    add("--fault-429", type=float, default=0.0, help="share of requests answered 429")
    add("--fault-500", type=float, default=0.0, help="share of requests answered 500")
    add("--fault-503", type=float, default=0.0, help="share of requests answered 503")
    add("--expire-share", type=float, default=0.0, help="share of req_ids expired at first poll")
    add("--async-fail-share", type=float, default=0.0, help="share of partial jobs that fail")
    add("--maintenance", action="store_true", help="answer every request 503 maintenance")
    add("--slow-seconds", type=float, default=0.0, help="delay every answer this long")
    add("--log-file", type=pathlib.Path, default=None, help="JSON-lines request log")
    add("--account-id", default=DEMO_ACCOUNT_ID, help="account id (default: the demo one)")
    add(
        "--passcode",
        default=None,
        help=f"passcode (default: ${PASSCODE_ENV}, else the documented demo passcode)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        seed=args.seed,
        today=args.today,
        account_id=args.account_id,
        passcode=args.passcode or os.environ.get(PASSCODE_ENV) or DEMO_PASSCODE,
        partial_share=args.partial_share,
        job_seconds=args.job_seconds,
        req_id_ttl_seconds=args.req_id_ttl_seconds,
        concurrency_limit=args.concurrency_limit,
        fault_429=args.fault_429,
        fault_500=args.fault_500,
        fault_503=args.fault_503,
        expire_share=args.expire_share,
        async_fail_share=args.async_fail_share,
        maintenance=args.maintenance,
        slow_seconds=args.slow_seconds,
        log_path=args.log_file,
        shared_limit=args.shared_limit,
        trends_off=args.trends_off,
        trends_disagree=args.trends_disagree,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    emulator = Emulator(config, host=args.host, port=args.port)
    try:
        emulator.start()
    except OSError as error:
        print(
            f"clevertap-counts-emulator: cannot listen on {args.host}:{args.port}: "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        return 1
    print(
        f"clevertap-counts-emulator listening on {emulator.url} (account id {config.account_id})",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
