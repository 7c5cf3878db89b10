"""Running Meltano on a throw-away copy of the project, and reading what it loaded."""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from typing import Any

from tap_clevertap_counts.emulator import Emulator

REPO = pathlib.Path(__file__).resolve().parents[2]
MELTANO = REPO / ".venv-meltano" / "bin" / "meltano"
TAP = "tap-clevertap-counts"
TABLE = "clevertap.profile_counts"
# Number settings of the contract, and how meltano.yml declares them (see its header comment).
NUMBER_SETTINGS = {
    "lookback_days": "integer",
    "poll_interval_seconds": "string",
    "poll_timeout_seconds": "string",
    "max_concurrent_queries": "integer",
    "request_timeout_seconds": "string",
    "busy_timeout_seconds": "string",
}


def clean_env() -> dict[str, str]:
    """The caller's environment without anything that would steer Meltano or the plugins."""
    prefixes = (
        "TAP_CLEVERTAP_COUNTS_",
        "TARGET_DUCKDB_",
        "TARGET_JSONL_",
        "TARGET_POSTGRES_",
        "DBT_",
        "MELTANO_",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("VIRTUAL_ENV", None)
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["MELTANO_ENVIRONMENT"] = "dev"
    return env


@dataclasses.dataclass
class Project:
    """A copy of meltano.yml in a temp dir whose extractor installs this repo (`-e <repo>`),
    with the loaders' constraints files beside it (their pip_urls name them)."""

    root: pathlib.Path

    @classmethod
    def create(cls, root: pathlib.Path) -> Project:
        text = (REPO / "meltano.yml").read_text(encoding="utf-8")
        assert text.count("pip_url: -e .\n") == 1, "the extractor installs the project itself"
        root.mkdir(parents=True, exist_ok=True)
        (root / "meltano.yml").write_text(
            text.replace("pip_url: -e .\n", f"pip_url: -e {REPO}\n"), encoding="utf-8"
        )
        shutil.copytree(REPO / "constraints", root / "constraints", dirs_exist_ok=True)
        # The dbt project the dbt-duckdb and dbt-postgres utilities run (not its build output).
        skip = shutil.ignore_patterns("target", "logs", "dbt_packages")
        shutil.copytree(REPO / "transform", root / "transform", dirs_exist_ok=True, ignore=skip)
        return cls(root)

    @property
    def yml(self) -> pathlib.Path:
        return self.root / "meltano.yml"

    def meltano(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float = 240,
    ) -> subprocess.CompletedProcess[str]:
        """Run `meltano ARGS` in the project; fail the test with its output if it fails."""
        full_env = clean_env()
        full_env.update(env or {})
        proc = subprocess.run(
            [str(MELTANO), *args],
            cwd=self.root,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"meltano {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout (end)\n{proc.stdout[-3000:]}\n--- stderr (end)\n{proc.stderr[-6000:]}"
            )
        return proc

    def load_yml(self) -> dict[str, Any]:
        """meltano.yml as Meltano's own YAML library reads it."""
        return load_yaml(self.yml)

    def save_yml(self, data: Mapping[str, Any]) -> None:
        """Write meltano.yml as JSON, which is YAML too."""
        self.yml.write_text(json.dumps(data, indent=1), encoding="utf-8")

    def dump_config(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The config file Meltano would hand the tap."""
        out = self.meltano("invoke", "--dump=config", TAP, env=env).stdout
        parsed: dict[str, Any] = json.loads(out)
        return parsed


def load_yaml(path: pathlib.Path) -> dict[str, Any]:
    """A YAML file as JSON data, read by the Meltano venv's ruamel.yaml (no stubs needed here)."""
    code = (
        "import json, sys; from ruamel.yaml import YAML; "
        "print(json.dumps(YAML(typ='safe').load(open(sys.argv[1])), default=str))"
    )
    python = MELTANO.parent / "python"
    out = subprocess.run(
        [str(python), "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def dev_tap_config(data: dict[str, Any]) -> dict[str, Any]:
    """The tap's config in the `dev` environment of a loaded meltano.yml."""
    (dev,) = [e for e in data["environments"] if e["name"] == "dev"]
    (tap,) = [p for p in dev["config"]["plugins"]["extractors"] if p["name"] == TAP]
    config: dict[str, Any] = tap["config"]
    return config


@dataclasses.dataclass
class Run:
    seconds: float
    log: str


def run_pipeline(
    project: Project, env: Mapping[str, str], blocks: tuple[str, ...] = (TAP, "target-duckdb")
) -> Run:
    """`meltano run tap-clevertap-counts target-duckdb` (or a job's name), timed."""
    started = time.monotonic()
    proc = project.meltano("run", *blocks, env=env)
    return Run(time.monotonic() - started, proc.stderr)


@dataclasses.dataclass(frozen=True)
class Row:
    query_name: str
    from_date: datetime.date
    to_date: datetime.date
    count: int
    event_name: str
    event_properties: list[dict[str, Any]]
    granularity: str
    batched_at: datetime.datetime | None

    @property
    def period(self) -> tuple[str, datetime.date, datetime.date]:
        return (self.query_name, self.from_date, self.to_date)


def _date(value: object) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def read_rows(db: pathlib.Path) -> list[Row]:
    """Every row target-duckdb wrote, in the table's own order."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        fetched = con.execute(
            "SELECT query_name, from_date, to_date, count, event_name, event_properties,"
            " granularity, _sdc_batched_at FROM clevertap.profile_counts"
        ).fetchall()
    finally:
        con.close()
    rows = []
    for r in fetched:
        props = json.loads(r[5]) if isinstance(r[5], str) else (r[5] or [])
        rows.append(
            Row(str(r[0]), _date(r[1]), _date(r[2]), int(r[3]), str(r[4]), props, str(r[6]), r[7])
        )
    return rows


def periods(
    granularity: str, start: datetime.date, end: datetime.date
) -> Iterator[tuple[datetime.date, datetime.date]]:
    """Whole days, ISO weeks (Mon-Sun) or calendar months inside [start, end]."""
    one = datetime.timedelta(days=1)
    if granularity == "day":
        day = start
        while day <= end:
            yield day, day
            day += one
    elif granularity == "week":
        monday = start + datetime.timedelta(days=(7 - start.weekday()) % 7)
        while monday + 6 * one <= end:
            yield monday, monday + 6 * one
            monday += 7 * one
    elif granularity == "month":
        first = start if start.day == 1 else (start.replace(day=28) + 4 * one).replace(day=1)
        while True:
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            if last > end:
                return
            yield first, last
            first = last + one
    else:
        raise ValueError(granularity)


def submits(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bodies of the POSTs in an emulator request log."""
    return [r["body"] for r in requests if r.get("kind") == "submit"]


def ymd(value: object) -> datetime.date:
    return datetime.datetime.strptime(str(value), "%Y%m%d").date()


Period = tuple[str, datetime.date, datetime.date]


def expected(
    queries: list[dict[str, Any]], start: datetime.date, end: datetime.date
) -> set[Period]:
    """Every (query, period) owed from `start` to `end`, by the e2e tests' own arithmetic."""
    return {
        (q["name"], a, b)
        for q in queries
        for a, b in periods(q.get("granularity", "day"), start, end)
    }


def asked_periods(queries: list[dict[str, Any]], requests: list[dict[str, Any]]) -> list[Period]:
    """The (query, from, to) of every submit, the query found by its event and filters."""
    by_def = {
        json.dumps([q["event_name"], q.get("event_properties", [])], sort_keys=True): q["name"]
        for q in queries
    }
    assert len(by_def) == len(queries), "the dev queries must differ in event or filters"
    found = []
    for body in submits(requests):
        key = json.dumps([body["event_name"], body.get("event_properties", [])], sort_keys=True)
        found.append((by_def[key], ymd(body["from"]), ymd(body["to"])))
    return found


def ground_truth(
    emulator: Emulator, queries: list[dict[str, Any]], wanted: set[Period]
) -> dict[Period, int]:
    by_name = {q["name"]: q for q in queries}
    return {
        (name, a, b): emulator.store.count_profiles(
            by_name[name]["event_name"], by_name[name].get("event_properties", []), a, b
        )
        for name, a, b in wanted
    }


def assert_table(rows: list[Row], truth: dict[Period, int], queries: list[dict[str, Any]]) -> None:
    """Exactly one row per (query, period) of `truth`, with its count and the query's fields."""
    keys = [r.period for r in rows]
    assert len(keys) == len(set(keys)), "duplicate (query, period) rows"
    assert set(keys) == set(truth), (
        f"missing {sorted(set(truth) - set(keys))[:5]}, extra {sorted(set(keys) - set(truth))[:5]}"
    )
    wrong = {r.period: (r.count, truth[r.period]) for r in rows if r.count != truth[r.period]}
    assert not wrong, f"counts differ from the emulator's ground truth: {wrong}"
    by_name = {q["name"]: q for q in queries}
    for row in rows:
        query = by_name[row.query_name]
        assert row.event_name == query["event_name"]
        assert row.event_properties == query.get("event_properties", [])
        assert row.granularity == query.get("granularity", "day")


def doc_commands(guide: str, heading: str) -> list[list[str]]:
    """The commands of the first bash block under `heading` in docs/`guide`, each as its words:
    the tests run a guide's own lines, so the guide and its test cannot drift apart."""
    text = (REPO / "docs" / guide).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1] if heading else text
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, f"a bash block in docs/{guide} under {heading!r}"
    commands: list[list[str]] = []
    pending = ""
    for line in match.group(1).splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):  # a continued line
            pending = pending[:-1]
            continue
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quoted argument that goes on over the next line
            continue
        if words:
            commands.append(words)
        pending = ""
    assert not pending, f"docs/{guide}: an unfinished command"
    return commands
