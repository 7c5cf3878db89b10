"""`make bench`: run the benchmark suite and write BENCHMARKS.md (see benchmarks/suite.py).

Run from the repository: `.venv/bin/python benchmarks/run.py [--days N] [--no-write]`;
`--only accounts` runs the many-accounts rows alone and prints them (BENCHMARKS.md untouched).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(REPO))

from benchmarks import accounts, accounts_report, report, suite  # noqa: E402


def only_accounts() -> int:
    """The many-accounts rows alone: printed, not written (a partial run is no BENCHMARKS.md)."""
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        outcomes = accounts.run_all(pathlib.Path(workdir), lambda line: print(line, flush=True))
    found = accounts.checks(outcomes)
    print()
    print("\n".join(accounts_report.section(outcomes, found)))
    return 0 if all(check.ok for check in found) else 1


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
        "--only", choices=["accounts"], help="run only these rows, print them, write nothing"
    )
    args = parser.parse_args(argv)
    if args.only == "accounts":
        return only_accounts()
    load_before, revision_before = report.load(), report.revision()
    tap_code_before = report.tap_code()
    with tempfile.TemporaryDirectory(prefix="clevertap-bench-") as workdir:
        results = suite.run_suite(
            pathlib.Path(workdir), args.days, args.long_factor, lambda line: print(line, flush=True)
        )
        many = accounts.run_all(pathlib.Path(workdir), lambda line: print(line, flush=True))
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
