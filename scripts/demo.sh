#!/usr/bin/env bash
# `make demo`: the local CleverTap emulator → tap-clevertap-counts → Meltano → DuckDB, twice.
#
# Run 1 sees the emulated account as it was a week ago and counts the queries of meltano.yml's
# `demo` environment (per day, per ISO week, per month, and daily/weekly/monthly active users) from
# the first day of the month two months back. Run 2 moves the emulator's "today" forward a week and
# runs again from the saved state: only the new periods are asked for, and dbt (transform/) builds
# and tests the models in the same `meltano run`; then the chart of clevertap_active_users is drawn
# to output/demo/active_users.png (with .venv-chart: `make demo` builds it).
# The emulator is time-scaled (jobs finish in 0.05 s, polls every 0.05 s).
# Needs `make install` first (`make demo` does it). Everything it writes is under output/demo/:
# its warehouse is output/demo/warehouse.duckdb (the `demo` environment pins it in meltano.yml), the
# only one it deletes; dev's and prod's warehouses (warehouse/*.duckdb) and state are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
MELTANO=.venv-meltano/bin/meltano
EMULATOR=.venv/bin/clevertap-counts-emulator
CHART_PY=.venv-chart/bin/python  # matplotlib's own venv (`make chart-venv`), never the tap's
OUT=output/demo
DB=output/demo/warehouse.duckdb  # = TARGET_DUCKDB_FILEPATH of the demo environment (meltano.yml)
STATE_ID=demo:tap-clevertap-counts-to-target-duckdb

for tool in "$PY" "$MELTANO" "$EMULATOR"; do
    [ -x "$tool" ] || { echo "missing $tool: run 'make install' first" >&2; exit 1; }
done

mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl "$OUT"/*.log "$OUT"/*.json "$OUT"/*.png "$DB" "$DB.wal"

# Hermetic: your own TAP_CLEVERTAP_COUNTS_*, TARGET_DUCKDB_* and MELTANO_* terminal variables do
# not reach the demo; the settings below beat `.env`, and the demo environment's `env:` block of
# meltano.yml pins the account, the passcode and the warehouse file whatever `.env` says.
while IFS= read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^(TAP_CLEVERTAP_COUNTS_|TARGET_DUCKDB_|DBT_|MELTANO_|CLEVERTAP_EMULATOR_)' || true)

if [ -f .env ] && grep -qE '^[[:space:]]*(export[[:space:]]+)?TAP_CLEVERTAP_COUNTS_(QUERIES|STREAM_MAPS|STREAM_MAP_CONFIG|FLATTENING_[A-Z_]+)=' .env; then
    echo "note: .env sets queries, stream maps or flattening for every environment, the demo too" >&2
fi

# DEMO_ACCOUNT_ID DEMO_PASSCODE START_DATE TODAY1 END1 TODAY2 END2
eval "$("$PY" scripts/demo_report.py vars)"
PORT=${DEMO_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

# Meltano settings through the environment: the demo environment of meltano.yml (its queries,
# account and warehouse), pointed at this emulator, with the demo's dates and a time-scaled poll
# interval.
export MELTANO_ENVIRONMENT=demo
export TAP_CLEVERTAP_COUNTS_API_URL="http://127.0.0.1:$PORT"
export TAP_CLEVERTAP_COUNTS_START_DATE="$START_DATE"
export TAP_CLEVERTAP_COUNTS_TIMEZONE=UTC
export TAP_CLEVERTAP_COUNTS_LOOKBACK_DAYS=0
export TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS=0.05
export TAP_CLEVERTAP_COUNTS_POLL_TIMEOUT_SECONDS=300
export TAP_CLEVERTAP_COUNTS_MAX_CONCURRENT_QUERIES=3
export TAP_CLEVERTAP_COUNTS_REQUEST_TIMEOUT_SECONDS=30
export TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA=clevertap
export CLEVERTAP_EMULATOR_PASSCODE="$DEMO_PASSCODE"

emulator_pid=""
stop_emulator() {
    if [ -n "$emulator_pid" ]; then
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
        emulator_pid=""
    fi
}
trap stop_emulator EXIT
trap 'exit 130' INT TERM

start_emulator() { # today, log file
    "$EMULATOR" --host 127.0.0.1 --port "$PORT" --seed 42 --account-id "$DEMO_ACCOUNT_ID" --today "$1" --job-seconds 0.05 \
        --partial-share 0.5 --log-file "$2" >>"$OUT/emulator.out" 2>&1 &
    emulator_pid=$!
    for _ in $(seq 100); do
        if "$PY" -c "import socket, sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
            return 0
        fi
        kill -0 "$emulator_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the emulator did not start; its output:" >&2
    cat "$OUT/emulator.out" >&2
    exit 1
}

run_pipeline() { # run number, end date, blocks after the loader (dbt-duckdb:run ...)
    local started=$SECONDS
    local blocks=(tap-clevertap-counts target-duckdb "${@:3}")
    echo "\$ TAP_CLEVERTAP_COUNTS_END_DATE=$2 meltano --environment=demo run ${blocks[*]}"
    if ! TAP_CLEVERTAP_COUNTS_END_DATE="$2" "$MELTANO" --environment=demo run \
        "${blocks[@]}" >"$OUT/run$1.log" 2>&1; then
        echo "meltano run failed; the end of $OUT/run$1.log:" >&2
        tail -n 40 "$OUT/run$1.log" >&2
        exit 1
    fi
    if [ ! -f "$DB" ]; then
        echo "the run loaded nothing into $DB: meltano.yml's demo environment must pin" \
            "TARGET_DUCKDB_FILEPATH to it" >&2
        exit 1
    fi
    echo "  done in $((SECONDS - started)) s (log: $OUT/run$1.log)"
}

echo "== Installing the Meltano plugins (tap-clevertap-counts, the loaders, dbt-duckdb, dbt-postgres)"
"$MELTANO" install >"$OUT/install.log" 2>&1 || { tail -n 40 "$OUT/install.log" >&2; exit 1; }
"$MELTANO" state clear --force "$STATE_ID" >/dev/null 2>&1 || true

echo
echo "== Run 1: the emulator's today is $TODAY1; counting $START_DATE .. $END1"
start_emulator "$TODAY1" "$OUT/emulator-run1.jsonl"
run_pipeline 1 "$END1"
stop_emulator
echo
"$PY" scripts/demo_report.py table --db "$DB" --title "DuckDB $DB, table clevertap.profile_counts:"
echo
"$PY" scripts/demo_report.py active --db "$DB" --last 14
"$PY" scripts/demo_report.py check --db "$DB" --seed 42
echo
echo -n "Emulator log: "
"$PY" scripts/demo_report.py calls --log "$OUT/emulator-run1.jsonl"
"$PY" scripts/demo_report.py bookmarks --db "$DB" --out "$OUT/bookmarks-run1.json"

echo
echo "== Run 2: a week later, the emulator's today is $TODAY2; counting up to $END2 from the saved state"
start_emulator "$TODAY2" "$OUT/emulator-run2.jsonl"
run_pipeline 2 "$END2" dbt-duckdb:run dbt-duckdb:test
stop_emulator
echo
echo -n "Emulator log: "
"$PY" scripts/demo_report.py calls --log "$OUT/emulator-run2.jsonl"
echo "What run 2 asked the API for, per query (the bookmark is run 1's last period):"
"$PY" scripts/demo_report.py asked --db "$DB" --log "$OUT/emulator-run2.jsonl" \
    --bookmarks "$OUT/bookmarks-run1.json"
echo
"$PY" scripts/demo_report.py table --db "$DB" --after "$OUT/bookmarks-run1.json" \
    --title "New rows in $DB after run 2:"
echo
"$PY" scripts/demo_report.py active --db "$DB" --last 0 --after "$OUT/bookmarks-run1.json"
"$PY" scripts/demo_report.py check --db "$DB" --seed 42
echo
echo "dbt (transform/, in the same run): $(grep -Eo 'Done\. PASS=[0-9]+ .*TOTAL=[0-9]+' "$OUT/run2.log" | paste -sd ';' -)"
echo "  (dbt-duckdb:run, then dbt-duckdb:test: keys unique and not null, dau <= wau <= mau, ratios in [0, 1])"
"$PY" scripts/demo_report.py model --db "$DB" --last 7
if [ -x "$CHART_PY" ]; then
    "$CHART_PY" scripts/chart_active_users.py --db "$DB" --out "$OUT/active_users.png"
else
    echo "  no chart: $CHART_PY is missing (\`make demo\` builds it; or \`make chart-venv\`)"
fi
echo
echo "Meltano's saved state (meltano state get $STATE_ID > $OUT/state.json):"
"$MELTANO" state get "$STATE_ID" >"$OUT/state.json" 2>/dev/null
"$PY" scripts/demo_report.py state --file "$OUT/state.json"
echo
echo "Demo done in $SECONDS s. Query the table yourself:"
echo "  $PY -c \"import duckdb; con = duckdb.connect('$DB', read_only=True); print(con.sql('select query_name, from_date, to_date, count from clevertap.profile_counts order by query_name, to_date'))\""
