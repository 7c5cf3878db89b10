"""The demo's chart: DAU, WAU and MAU over time, and DAU/MAU, per account, from the dbt model
`clevertap_active_users`.

Run with .venv-chart's Python (`make chart-venv`: matplotlib and duckdb 1.2.2, the version
target-duckdb writes with), never the tap's venv: the tap does not depend on a plotting library.

    .venv-chart/bin/python scripts/chart_active_users.py --db output/demo/warehouse.duckdb \
        --out output/demo/active_users.png [--schema S] [--series-out series.json]

The model is read from the schema dbt wrote it to: the one schema of the file holding
`clevertap_active_users` (whatever the profile's schema and a project's `+schema` made of it);
`--schema` chooses when there are several.

The PNG's text metadata carries `rows-sha256`, the digest of the series it plotted (the JSON that
--series-out writes), so a test can tell the picture was drawn from the model's rows.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import pathlib
import sys
from typing import Any

import duckdb
import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

MODEL = "clevertap_active_users"
COLUMNS = ("account_id", "event_name", "event_properties", "day", "dau", "wau", "mau")
Series = dict[str, Any]


def model_schema(con: duckdb.DuckDBPyConnection, db: pathlib.Path, given: str | None) -> str:
    """`--schema` if given, else the one schema of the file that holds the model: where dbt
    wrote it, whatever the profile's schema and the project's `+schema` made of its name."""
    found = [
        str(row[0])
        for row in con.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name = ?"
            " ORDER BY 1",
            [MODEL],
        ).fetchall()
    ]
    if given:
        if given not in found:
            raise SystemExit(
                f"{db} has no {given}.{MODEL} ({MODEL} is in: {', '.join(found) or 'none'})"
            )
        return given
    if not found:
        raise SystemExit(f"{db} has no {MODEL}: build it first (meltano run dbt-duckdb:run)")
    if len(found) > 1:
        raise SystemExit(f"{MODEL} is in several schemas of {db} ({', '.join(found)}): --schema")
    return found[0]


def read_series(db: pathlib.Path, schema: str | None) -> tuple[str, dict[str, Series]]:
    """The model's schema, and per account, the days of the event and filters with the most
    days of all three measures (the demo's trio): its dau, wau, mau and dau_over_mau, nulls kept
    as None."""
    if not db.exists():
        raise SystemExit(f"no warehouse at {db}")
    con = duckdb.connect(str(db), read_only=True)
    try:
        schema = model_schema(con, db, schema)
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)}, dau_over_mau FROM {schema}.{MODEL}"  # noqa: S608 (our schema name)
            " ORDER BY account_id, event_name, event_properties, day"
        ).fetchall()
    finally:
        con.close()
    groups: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1], row[2]), []).append(row)

    def full_days(key: tuple[str, str, str]) -> int:
        return sum(1 for r in groups[key] if None not in r[4:7])

    series = {}
    for account in sorted({key[0] for key in groups}):
        # The most full days; among equals, the first event and filters in sorted order.
        key = max(sorted(k for k in groups if k[0] == account), key=full_days)
        days = groups[key]
        series[account] = {
            "event_name": key[1],
            "event_properties": key[2],
            "day": [_iso(r[3]) for r in days],
            "dau": [r[4] for r in days],
            "wau": [r[5] for r in days],
            "mau": [r[6] for r in days],
            "dau_over_mau": [r[7] for r in days],
        }
    return schema, series


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def digest(series: dict[str, Series]) -> str:
    """The sha256 of the series as --series-out writes them (sorted keys, no spaces)."""
    return hashlib.sha256(dumps(series).encode("utf-8")).hexdigest()


def dumps(series: dict[str, Series]) -> str:
    return json.dumps(series, sort_keys=True, separators=(",", ":"))


def _label(series: Series) -> str:
    filters = json.loads(series["event_properties"] or "[]")
    words = [f"{f.get('name')} {f.get('operator')} {f.get('value')}" for f in filters]
    return series["event_name"] + (f" [{' and '.join(words)}]" if words else "")


def _floats(values: list[Any]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def draw(series: dict[str, Series], out: pathlib.Path) -> None:
    """One column per account: DAU, WAU and MAU above, DAU/MAU below."""
    accounts = sorted(series)
    if not accounts:
        raise SystemExit(f"{MODEL} has no rows to draw: run dbt-duckdb:run after a load")
    fig, axes = plt.subplots(
        2,
        len(accounts),
        figsize=(6.5 * len(accounts), 6.5),
        sharex="col",
        squeeze=False,
        gridspec_kw={"height_ratios": (2.2, 1)},
    )
    for column, account in enumerate(accounts):
        s = series[account]
        days = [datetime.date.fromisoformat(d) for d in s["day"]]
        top, bottom = axes[0][column], axes[1][column]
        for name, label in (("mau", "MAU (30 days)"), ("wau", "WAU (7 days)"), ("dau", "DAU")):
            top.plot(days, _floats(s[name]), label=label, linewidth=1.6)
        top.set_title(f"{account}: {_label(s)}", fontsize=10)
        top.set_ylabel("active profiles")
        top.set_ylim(bottom=0)
        top.grid(alpha=0.3)
        top.legend(loc="upper left", fontsize=8)
        bottom.plot(days, _floats(s["dau_over_mau"]), color="tab:purple", linewidth=1.6)
        bottom.set_ylabel("DAU / MAU")
        bottom.set_ylim(0, 1)
        bottom.grid(alpha=0.3)
        bottom.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle(f"Active users and stickiness ({MODEL})")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Title": f"Active users and stickiness ({MODEL})", "rows-sha256": digest(series)}
    fig.savefig(out, dpi=90, metadata=metadata)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", type=pathlib.Path, required=True, help="the DuckDB warehouse")
    parser.add_argument(
        "--schema", help="where dbt built the model (default: the one schema holding it)"
    )
    parser.add_argument("--out", type=pathlib.Path, required=True, help="the PNG to write")
    parser.add_argument("--series-out", type=pathlib.Path, help="write the plotted series (JSON)")
    args = parser.parse_args(argv)
    schema, series = read_series(args.db, args.schema)
    draw(series, args.out)
    if args.series_out:
        args.series_out.write_text(dumps(series), encoding="utf-8")
    shown = ", ".join(f"{a} ({len(s['day'])} days)" for a, s in series.items())
    print(f"  wrote {args.out} from {schema}.{MODEL}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
