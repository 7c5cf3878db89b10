"""`make bench`: run the benchmark suite and write BENCHMARKS.md (see benchmarks/suite.py).

Run from the repository: `.venv/bin/python benchmarks/run.py [--days N] [--no-write]`.
`--only NAME` runs one group of rows (their figures and checks printed, BENCHMARKS.md left
alone, since a partial run must not replace the full one): `slow-output` (STATE output with slow
answers, about two minutes), `accounts` (many accounts at once), `both-streams`, `trends`,
`orchestration` (accounts as Dagster partitions; needs `make orchestration` and PostgreSQL),
`distributed` (accounts on two Celery workers, deploy/; the same needs), `counted` (a 30-record
run from states of 1 to 10,000 `counted_to_dates` ranges).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
from collections.abc import Callable

REPO = pathlib.Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(REPO))

from benchmarks import (  # noqa: E402
    accounts,
    accounts_report,
    counted,
    distributed,
    orchestration,
    report,
    speed,
    suite,
)


def only_accounts(days: int, long_factor: int) -> int:
    """The many-accounts rows alone: printed, not written (a partial run is no BENCHMARKS.md)."""
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        outcomes = accounts.run_all(pathlib.Path(workdir), lambda line: print(line, flush=True))
    found = accounts.checks(outcomes)
    print()
    print("\n".join(accounts_report.section(outcomes, found)))
    return 0 if all(check.ok for check in found) else 1


def only_orchestration(days: int, long_factor: int) -> int:
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        return orchestration.main_only(pathlib.Path(workdir))


def only_distributed(days: int, long_factor: int) -> int:
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        return distributed.main_only(pathlib.Path(workdir))


def only_counted(days: int, long_factor: int) -> int:
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        return counted.main_only(pathlib.Path(workdir))


def slow_output(days: int, long_factor: int) -> int:
    results = suite.Results(days=days, long_factor=long_factor)
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        suite.run_slow_output(results, pathlib.Path(workdir), lambda line: print(line, flush=True))
    checks = suite.slow_output_checks(results)
    print()
    print("\n".join(report.output_table(results, results.slow_output)))
    for check in checks:
        print(f"{check.target}: {check.measured} ({'met' if check.ok else 'MISSED'})")
    return 0 if all(check.ok for check in checks) else 1


def only_speed(name: str, days: int) -> int:
    """One group of rows of issue 18 on its own: print its figures and checks; write nothing."""
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        folder = pathlib.Path(workdir)
        say = lambda line: print(line, flush=True)  # noqa: E731
        if name == "both-streams":
            checks = suite.both_streams_checks(suite.both_streams(days, folder, say))
        else:
            checks = speed.trends_checks(*speed.run_trends(folder, say))
    print(f"load average (1 min) after: {report.load()}")
    for check in checks:
        print(f"{'met' if check.ok else 'MISSED'}: {check.target}: {check.measured}")
    return 0 if all(check.ok for check in checks) else 1


ONLY: dict[str, Callable[[int, int], int]] = {
    "slow-output": slow_output,
    "accounts": only_accounts,
    "orchestration": only_orchestration,
    "distributed": only_distributed,
    "both-streams": lambda days, _: only_speed("both-streams", days),
    "trends": lambda days, _: only_speed("trends", days),
    "counted": only_counted,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__)
    parser.add_argument(
        "--days", type=int, default=60, help="days per query in the backfill (default 60)"
    )
    parser.add_argument(
        "--long-factor", type=int, default=10, help="how much longer the memory run is"
    )
    parser.add_argument(
        "--output", type=pathlib.Path, default=REPO / "BENCHMARKS.md", help="file to write"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave the file")
    parser.add_argument(
        "--only", choices=ONLY, help="run only these rows, print them, write nothing"
    )
    args = parser.parse_args(argv)
    if args.only:
        return ONLY[args.only](args.days, args.long_factor)
    load_before, revision_before = report.load(), report.revision()
    tap_code_before = report.tap_code()
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        results = suite.run_suite(
            pathlib.Path(workdir), args.days, args.long_factor, lambda line: print(line, flush=True)
        )
        many = accounts.run_all(pathlib.Path(workdir), lambda line: print(line, flush=True))
        orchestrated = orchestration.run_all(
            pathlib.Path(workdir), lambda line: print(line, flush=True)
        )
        spread = distributed.run_all(pathlib.Path(workdir), lambda line: print(line, flush=True))
    checks = suite.checks(results)
    many_checks = accounts.checks(many)
    text = report.render(
        results,
        checks,
        load_before=load_before,
        revision_before=revision_before,
        tap_code_before=tap_code_before,
    )
    text += "\n".join(["", *accounts_report.section(many, many_checks)])
    checks += many_checks
    orchestrated_checks = orchestration.checks(orchestrated)
    text += "\n".join(["", *orchestration.section(orchestrated, orchestrated_checks)])
    checks += orchestrated_checks
    spread_checks = distributed.checks(spread)
    text += "\n".join(["", *distributed.section(spread, spread_checks)])
    checks += spread_checks
    print()
    print(text)
    if not args.no_write:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    missed = [check.target for check in checks if not check.ok]
    if missed:
        print(f"missed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
