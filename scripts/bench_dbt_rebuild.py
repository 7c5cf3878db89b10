"""How long a full rebuild of the dbt models takes on a large raw table (DuckDB).

The package rebuilds its models on every run instead of merging increments (docs/
counts-to-answers.md says why); this measures what that costs. It writes a synthetic
clevertap.profile_counts (ACCOUNTS accounts x EVENTS events x day, rolling_7d and rolling_30d
queries, unfiltered and filtered, over DAYS days) into a temp DuckDB file, then times `dbt run`
with the dbt-duckdb utility's venv (`meltano install` builds it), several times.

    .venv/bin/python scripts/bench_dbt_rebuild.py [--accounts 20 --events 10 --days 1095 --runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import duckdb

ROOT = pathlib.Path(__file__).resolve().parent.parent
DBT = ROOT / ".meltano" / "utilities" / "dbt-duckdb" / "venv" / "bin" / "dbt"

RAW = """
CREATE SCHEMA clevertap;
CREATE TABLE clevertap.profile_counts AS
SELECT
    'ACC-' || a AS account_id,
    'q_' || e || '_' || f || '_' || g AS query_name,
    CAST(DATE '2023-01-01' + d - (CASE g WHEN 'day' THEN 0 WHEN 'rolling_7d' THEN 6 ELSE 29 END)
        AS VARCHAR) AS from_date,
    CAST(DATE '2023-01-01' + d AS VARCHAR) AS to_date,
    CAST((a * 7 + e * 13 + d) % 500 * (CASE g WHEN 'day' THEN 1 WHEN 'rolling_7d' THEN 3 ELSE 6 END)
        AS HUGEINT) AS count,
    'event ' || e AS event_name,
    CAST(CASE f WHEN 0 THEN '[]'
        ELSE '[{{"name": "platform", "operator": "equals", "value": "iOS"}}]' END AS JSON)
        AS event_properties,
    g AS granularity,
    now()::TIMESTAMP AS _sdc_batched_at
FROM range({accounts}) t1(a), range({events}) t2(e), range(2) t3(f),
    (VALUES ('day'), ('rolling_7d'), ('rolling_30d')) t4(g),
    (SELECT CAST(range AS INTEGER) AS d FROM range({days})) t5
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not DBT.exists():
        print(f"missing {DBT}: run `.venv-meltano/bin/meltano install` first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        db = pathlib.Path(tmp) / "bench.duckdb"
        con = duckdb.connect(str(db))
        con.execute(RAW.format(accounts=args.accounts, events=args.events, days=args.days))
        (rows,) = con.execute("SELECT count(*) FROM clevertap.profile_counts").fetchone() or (0,)
        con.close()
        env = {
            **os.environ,
            "DBT_DUCKDB_PATH": str(db),
            "DBT_PROFILES_DIR": str(ROOT / "transform" / "profiles" / "duckdb"),
            "DBT_PROJECT_DIR": str(ROOT / "transform"),
            "DBT_TARGET_PATH": str(pathlib.Path(tmp) / "target"),
            "DBT_LOG_PATH": str(pathlib.Path(tmp) / "logs"),
        }
        print(f"raw profile_counts: {rows:,} rows")
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            subprocess.run([str(DBT), "run", "--quiet"], env=env, check=True)  # noqa: S603
            total = time.monotonic() - started
            results = json.loads((pathlib.Path(tmp) / "target" / "run_results.json").read_text())
            models = sum(r["execution_time"] for r in results["results"])
            print(f"dbt run {run}: {total:.1f} s in all, building the models {models:.1f} s")
        con = duckdb.connect(str(db), read_only=True)
        (model_rows,) = con.execute(
            "SELECT count(*) FROM analytics.clevertap_active_users"
        ).fetchone() or (0,)
        con.close()
        print(f"clevertap_active_users: {model_rows:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
