"""What `make demo` prints: the dates it uses, the DuckDB table, and what the emulator was asked.

Run with the project's .venv (it has duckdb 1.2.2, the version target-duckdb writes with):

    python scripts/demo_report.py vars
    python scripts/demo_report.py table --db output/warehouse.duckdb
    python scripts/demo_report.py calls --log output/demo/emulator-run1.jsonl
    python scripts/demo_report.py bookmarks --db output/warehouse.duckdb --out b.json
    python scripts/demo_report.py asked --db ... --log ... --bookmarks b.json
    python scripts/demo_report.py active --db output/demo/warehouse.duckdb --last 14
    python scripts/demo_report.py model --db output/demo/warehouse.duckdb --last 7
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import pathlib
import sys
from collections.abc import Iterable
from typing import Any

import duckdb

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, EventStore

SELECT_ROWS = (
    "SELECT query_name, from_date, to_date, count, event_name, event_properties, granularity"
    " FROM clevertap.profile_counts ORDER BY query_name, to_date, from_date"
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclasses.dataclass(frozen=True)
class Row:
    query_name: str
    from_date: datetime.date
    to_date: datetime.date
    count: int
    event_name: str
    event_properties: list[dict[str, Any]]
    granularity: str


def _date(value: object) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _props(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        parsed = json.loads(value)
        return parsed if isinstance(parsed, list) else []
    return list(value) if isinstance(value, list) else []


def fetch(db: pathlib.Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query of the warehouse, opened read-only."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def read_rows(db: pathlib.Path) -> list[Row]:
    """Every row of the table, ordered by query and period."""
    fetched = fetch(db, SELECT_ROWS)
    return [
        Row(
            str(r[0]),
            _date(r[1]),
            _date(r[2]),
            int(r[3]),
            str(r[4]),
            _props(r[5]),
            str(r[6]),
        )
        for r in fetched
    ]


def describe(row: Row) -> str:
    """`choseNewFavoriteFood [value contains 'piz']`: the query in a few words."""
    filters = " and ".join(
        f"{p.get('name')} {p.get('operator')} {p.get('value')!r}" for p in row.event_properties
    )
    return f"{row.event_name} [{filters}]" if filters else row.event_name


def _day_grid(rows: list[Row]) -> Iterable[str]:
    """Days as a calendar: one line per ISO week, a column per weekday."""
    by_week: dict[datetime.date, dict[int, int]] = collections.defaultdict(dict)
    for row in rows:
        monday = row.from_date - datetime.timedelta(days=row.from_date.weekday())
        by_week[monday][row.from_date.weekday()] = row.count
    yield "    week of     " + "".join(f"{d:>7}" for d in WEEKDAYS)
    for monday in sorted(by_week):
        cells = "".join(
            f"{by_week[monday][d]:>7,}" if d in by_week[monday] else f"{'.':>7}" for d in range(7)
        )
        yield f"    {monday.isoformat()}  {cells}"


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def print_table(rows: list[Row], title: str) -> None:
    """The table compactly: a calendar for daily queries, a line per period otherwise."""
    print(title)
    by_query: dict[str, list[Row]] = collections.defaultdict(list)
    for row in rows:
        by_query[row.query_name].append(row)
    for name, query_rows in sorted(by_query.items()):
        first = query_rows[0]
        print(
            f"  {name}: {describe(first)}, per {first.granularity}, {_rows(len(query_rows))},"
            f" {first.from_date} .. {query_rows[-1].to_date}"
        )
        if first.granularity == "day":
            for line in _day_grid(query_rows):
                print(line)
        elif _rolling_days(first.granularity) is not None:
            print("    one window ending on each day: see the active users below")
        else:
            for row in query_rows:
                print(f"    {row.from_date} .. {row.to_date}  {row.count:>7,}")


def calls(log: pathlib.Path) -> tuple[int, int, int]:
    """(all requests, submits, polls) in an emulator log."""
    kinds: collections.Counter[str] = collections.Counter()
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.strip():
            kinds[str(json.loads(line).get("kind"))] += 1
    return sum(kinds.values()), kinds["submit"], kinds["poll"]


def submitted(log: pathlib.Path) -> list[dict[str, Any]]:
    """The bodies of the submits (POSTs) in an emulator log, in order."""
    bodies = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry.get("kind") == "submit" and isinstance(entry.get("body"), dict):
            bodies.append(entry["body"])
    return bodies


def _ymd(value: object) -> datetime.date:
    return datetime.datetime.strptime(str(value), "%Y%m%d").date()


def _key(event: str, props: object, start: datetime.date, end: datetime.date) -> str:
    return json.dumps([event, props or [], start.isoformat(), end.isoformat()], sort_keys=True)


def asked(db: pathlib.Path, log: pathlib.Path, bookmarks: dict[str, str]) -> bool:
    """Print which periods each query asked the API for; True if all are after the bookmark."""
    by_key = {
        _key(r.event_name, r.event_properties, r.from_date, r.to_date): r for r in read_rows(db)
    }
    per_query: dict[str, set[tuple[datetime.date, datetime.date]]] = collections.defaultdict(set)
    unknown = 0
    for body in submitted(log):
        start, end = _ymd(body.get("from")), _ymd(body.get("to"))
        key = _key(str(body.get("event_name")), body.get("event_properties"), start, end)
        row = by_key.get(key)
        if row is None:
            unknown += 1
            continue
        per_query[row.query_name].add((start, end))
    all_new = unknown == 0
    for name in sorted(set(bookmarks) | set(per_query)):
        periods = sorted(per_query.get(name, set()))
        mark = bookmarks.get(name)
        # A period is old when it ends by the bookmark (a rolling window that ends after it is new,
        # though it starts before it).
        old = [p for p in periods if mark is not None and p[1] <= _date(mark)]
        all_new = all_new and not old
        spans = [f"{a}..{b}" if a != b else f"{a}" for a, b in periods]
        if len(spans) > 3 and periods[0][0] != periods[0][1]:
            spans = [spans[0], f"... ({len(spans) - 2} more) ...", spans[-1]]  # rolling windows
        shown = ", ".join(spans) or "nothing"
        verdict = "only new" if not old else f"{len(old)} ALREADY COUNTED"
        print(f"  {name}: bookmark {mark or '-'}; asked for {shown}  [{verdict}]")
    if unknown:
        print(f"  {unknown} submit(s) match no row of the table")
    return all_new


def check(db: pathlib.Path, seed: int) -> bool:
    """Compare every row with the emulator's own count (its event store, same seed)."""
    store = EventStore(seed=seed)
    rows = read_rows(db)
    wrong = [
        r
        for r in rows
        if r.count != store.count_profiles(r.event_name, r.event_properties, r.from_date, r.to_date)
    ]
    keys = {(r.query_name, r.from_date, r.to_date) for r in rows}
    if wrong or len(keys) != len(rows):
        print(f"  FAIL: {len(wrong)} wrong counts, {len(rows) - len(keys)} duplicate rows")
        return False
    print(
        f"  all {len(rows)} rows are distinct (query, period) pairs and every count equals the"
        f" emulator's ground truth (EventStore(seed={seed}).count_profiles)"
    )
    return True


def _rolling_days(granularity: str) -> int | None:
    if granularity.startswith("rolling_") and granularity.endswith("d"):
        digits = granularity[len("rolling_") : -1]
        return int(digits) if digits.isdigit() else None
    return None


def active_users(rows: list[Row], last: int, marks: dict[str, str] | None = None) -> bool:
    """DAU, WAU and MAU of one event side by side, with stickiness DAU/MAU; True if every daily
    series is complete: one value per day, each rolling window exactly N days ending on its day."""
    # The event (and filters) that has a daily query and at least two rolling ones.
    groups: dict[str, dict[int, dict[datetime.date, Row]]] = collections.defaultdict(dict)
    for row in rows:
        width = 1 if row.granularity == "day" else _rolling_days(row.granularity)
        if width is not None:
            groups[describe(row)].setdefault(width, {})[row.to_date] = row
    found = [(label, s) for label, s in groups.items() if 1 in s and len(s) >= 3]
    if not found:
        print("  no event has a daily query and two rolling_<N>d queries: nothing to show")
        return False
    label, series = found[0]
    widths = sorted(series)[:3]  # 1, then the two shortest windows: 7 and 28 (or 30)
    names = {w: series[w][next(iter(series[w]))].query_name for w in widths}
    ok = True
    for width in widths:
        ends = sorted(series[width])
        gaps = (ends[-1] - ends[0]).days + 1 - len(ends)
        bad = [d for d, r in series[width].items() if (r.to_date - r.from_date).days + 1 != width]
        if gaps or bad:
            print(f"  FAIL: {names[width]}: {gaps} days missing, {len(bad)} wrong windows")
            ok = False
    dau, wau, mau = (series[w] for w in widths)
    # With bookmarks (of the run before): only the days after the daily query's.
    mark = (marks or {}).get(names[widths[0]])
    after = _date(mark) if mark else None
    both = sorted(d for d in dau if d in mau and d in wau and (after is None or d > after))
    shown = both[-last:] if last else both
    heads = ("DAU", f"{widths[1]}-day", f"{widths[2]}-day")
    print(
        f"  Active users of {label}: {names[widths[0]]} (per day), {names[widths[1]]} and"
        f" {names[widths[2]]} (for each day D, the distinct profiles over the {widths[1]} and"
        f" {widths[2]} days ending on D); stickiness = DAU / {widths[2]}-day users."
    )
    since = f" after {after}" if after else ""
    print(f"  {len(both)} days{since} have all three; the last {len(shown)}:")
    print(f"    {'day':<14}{heads[0]:>8}{heads[1]:>9}{heads[2]:>9}   DAU/MAU")
    for day in shown:
        ratio = dau[day].count / mau[day].count if mau[day].count else 0.0
        print(
            f"    {day.isoformat()} {WEEKDAYS[day.weekday()]}{dau[day].count:>8,}"
            f"{wau[day].count:>9,}{mau[day].count:>9,}   {ratio:6.1%}"
        )
    return ok


def print_model(db: pathlib.Path, last: int) -> None:
    """The last days of dbt's clevertap_active_users: the trio side by side, one row a day."""
    rows = fetch(
        db,
        "SELECT event_name, event_properties, day, dau, wau, mau, dau_over_mau"
        " FROM analytics.clevertap_active_users ORDER BY event_name, event_properties, day",
    )
    print(f"  analytics.clevertap_active_users: {_rows(len(rows))}; the last {last} days of each:")
    groups: dict[str, list[tuple[Any, ...]]] = collections.defaultdict(list)
    for row in rows:
        groups[f"{row[0]} {row[1]}"].append(row)
    width = max((len(label) for label in groups), default=0) + 2
    print(f"    {'event [filters]':<{width}}{'day':<11}{'dau':>7}{'wau':>7}{'mau':>7}  dau/mau")
    for label, days in groups.items():
        for _, _, day, *counts, ratio in days[-last:]:
            cells = "".join(f"{'null' if c is None else c:>7}" for c in counts)
            share = "   null" if ratio is None else f"{ratio:8.1%}"
            print(f"    {label:<{width}}{_date(day).isoformat():<11}{cells}{share}")


def print_state(path: pathlib.Path) -> None:
    """Each query's bookmark from `meltano state get` output (raw JSON if it looks different)."""
    text = path.read_text(encoding="utf-8").strip()
    try:
        state = json.loads(text)
        parts = state["singer_state"]["bookmarks"]["profile_counts"]["partitions"]
        for part in parts:
            name = part["context"]["query_name"]
            print(f"  {name}: next run starts after {part['replication_key_value']}")
    except (ValueError, KeyError, TypeError):
        print("  " + text[:600])


def demo_vars(today: datetime.date) -> dict[str, str]:
    """The demo account, and its dates: run 1 sees the emulator a week ago, run 2 today; both
    count up to yesterday (theirs)."""
    today1 = today - datetime.timedelta(days=7)
    start = today1.replace(day=1)
    for _ in range(2):  # two whole months before run 1's month, for the monthly query
        start = (start - datetime.timedelta(days=1)).replace(day=1)
    return {
        "DEMO_ACCOUNT_ID": DEMO_ACCOUNT_ID,
        "DEMO_PASSCODE": DEMO_PASSCODE,
        "START_DATE": start.isoformat(),
        "TODAY1": today1.isoformat(),
        "END1": (today1 - datetime.timedelta(days=1)).isoformat(),
        "TODAY2": today.isoformat(),
        "END2": (today - datetime.timedelta(days=1)).isoformat(),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("vars", help="shell assignments of the demo's account and dates")
    p_table = sub.add_parser("table", help="print the DuckDB table compactly")
    p_table.add_argument("--db", type=pathlib.Path, required=True)
    p_table.add_argument("--title", default="DuckDB clevertap.profile_counts")
    p_table.add_argument("--after", type=pathlib.Path, help="bookmarks JSON: only later rows")
    p_calls = sub.add_parser("calls", help="count the API calls in an emulator log")
    p_calls.add_argument("--log", type=pathlib.Path, required=True)
    p_check = sub.add_parser("check", help="compare the table with the emulator's counts")
    p_check.add_argument("--db", type=pathlib.Path, required=True)
    p_check.add_argument("--seed", type=int, default=42)
    p_state = sub.add_parser("state", help="print the bookmarks of `meltano state get` output")
    p_state.add_argument("--file", type=pathlib.Path, required=True)
    p_marks = sub.add_parser("bookmarks", help="write each query's last to_date as JSON")
    p_marks.add_argument("--db", type=pathlib.Path, required=True)
    p_marks.add_argument("--out", type=pathlib.Path, required=True)
    p_asked = sub.add_parser("asked", help="which periods a run asked for, vs. the bookmarks")
    p_asked.add_argument("--db", type=pathlib.Path, required=True)
    p_asked.add_argument("--log", type=pathlib.Path, required=True)
    p_asked.add_argument("--bookmarks", type=pathlib.Path, required=True)
    p_active = sub.add_parser("active", help="DAU, WAU and MAU side by side, with DAU/MAU")
    p_active.add_argument("--db", type=pathlib.Path, required=True)
    p_active.add_argument("--last", type=int, default=14, help="show the last N days (0: all)")
    p_active.add_argument("--after", type=pathlib.Path, help="bookmarks JSON: only later days")
    p_model = sub.add_parser("model", help="the last days of dbt's clevertap_active_users")
    p_model.add_argument("--db", type=pathlib.Path, required=True)
    p_model.add_argument("--last", type=int, default=7)
    return parser


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0912 (one branch per command)
    args = _parser().parse_args(argv)

    if args.cmd == "vars":
        today = datetime.datetime.now(datetime.UTC).date()
        for name, value in demo_vars(today).items():
            print(f"{name}={value}")
    elif args.cmd == "table":
        rows = read_rows(args.db)
        if args.after:
            marks = json.loads(args.after.read_text(encoding="utf-8"))
            rows = [r for r in rows if r.to_date > _date(marks.get(r.query_name, "0001-01-01"))]
        print_table(rows, args.title)
    elif args.cmd == "calls":
        total, submits, polls = calls(args.log)
        print(f"{total} API calls: {submits} submits (POST) and {polls} polls (GET ?req_id=)")
    elif args.cmd == "check":
        if not check(args.db, args.seed):
            return 1
    elif args.cmd == "state":
        print_state(args.file)
    elif args.cmd == "bookmarks":
        marks = {}
        for row in read_rows(args.db):
            marks[row.query_name] = max(marks.get(row.query_name, ""), row.to_date.isoformat())
        args.out.write_text(json.dumps(marks, indent=1), encoding="utf-8")
    elif args.cmd == "active":
        marks = json.loads(args.after.read_text(encoding="utf-8")) if args.after else None
        if not active_users(read_rows(args.db), args.last, marks):
            return 1
    elif args.cmd == "model":
        print_model(args.db, args.last)
    elif args.cmd == "asked":
        marks = json.loads(args.bookmarks.read_text(encoding="utf-8"))
        if not asked(args.db, args.log, marks):
            print("FAIL: the second run asked for periods the first run had counted")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
