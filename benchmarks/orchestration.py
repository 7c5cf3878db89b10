"""N accounts on Dagster (issue 23): each a partition of `clevertap_counts`, each its own
`dagster asset materialize` on the multiprocess executor, all started together, each against
its own emulator, loading into one PostgreSQL (the loader whose accounts run in parallel), with
Meltano's system database on PostgreSQL too (the shared state).

The jobs are benchmarks/accounts.py's (3 queries x 15 days, every job `partial` for 1.5 s, polled
every second): throughput is counted the same way, in the emulators' request logs, from the
first request of any account to the last count of any. Dagster's and Meltano's start-up come
before an account's first request, so they are reported apart, per partition: the orchestrator's
overhead is the `dagster` process's wall time less the `meltano run` it ran (that line of the
step's log), so Dagster's import, the definitions' load, the run and step processes and the
system database check.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from benchmarks.accounts import (
    ACCOUNT_LIMIT,
    DAYS,
    END,
    JOB_SECONDS,
    PASSCODE,
    POLL_INTERVAL,
    QUERIES,
    THROUGHPUT_SHARE,
    AccountSettings,
    _done_at,
    _load,
    account_id,
    tap_config,
)
from benchmarks.processes import EmulatorProcess
from benchmarks.speed import Check
from tests.e2e.helpers import REPO, Project, clean_env
from tests.e2e.postgres import PostgresServer

PARTITIONS = (1, 4)
DAGSTER = REPO / ".venv-dagster" / "bin" / "dagster"
TOOK = re.compile(r"meltano run took ([0-9.]+) s")
ANCHOR = "  - name: tap-clevertap-app-b\n    inherit_from: tap-clevertap-counts\n"


@dataclasses.dataclass(frozen=True)
class Partition:
    returncode: int
    wall_seconds: float
    meltano_seconds: float
    jobs: int
    first: float
    last: float

    @property
    def overhead(self) -> float:
        return self.wall_seconds - self.meltano_seconds


@dataclasses.dataclass(frozen=True)
class OrchestrationOutcome:
    n: int
    partitions: tuple[Partition, ...]
    load_before: str

    @property
    def jobs(self) -> int:
        return sum(p.jobs for p in self.partitions)

    @property
    def rate(self) -> float:
        """Jobs per second from the first request of any account to the last count of any (a
        partition that counted nothing, e.g. failed at once, has no span)."""
        asked = [p for p in self.partitions if p.jobs]
        if not asked:
            return 0.0
        start = min(p.first for p in asked)
        end = max(p.last for p in asked)
        return self.jobs / (end - start) if end > start else 0.0

    @property
    def overhead(self) -> float:
        return sum(p.overhead for p in self.partitions) / len(self.partitions)


def extractor(index: int) -> str:
    return f"tap-clevertap-bench-{index}"


def prefix(name: str) -> str:
    return name.upper().replace("-", "_") + "_"


def project_with_accounts(root: pathlib.Path, n: int, say: Callable[[str], None]) -> Project:
    """A copy of meltano.yml with `n` more account extractors, installed once."""
    project = Project.create(root)
    text = project.yml.read_text(encoding="utf-8")
    extra = "".join(ANCHOR.replace("app-b", f"bench-{i}") for i in range(n))
    project.yml.write_text(text.replace(ANCHOR, ANCHOR + extra), encoding="utf-8")
    say("  meltano install (once)")
    project.meltano("install", timeout=900)
    return project


def run_partitions(
    n: int, project: Project, server: PostgresServer, workdir: pathlib.Path
) -> OrchestrationOutcome:
    load_before = _load()
    base = workdir / f"orchestration-{n}"
    base.mkdir(parents=True)
    systemdb = f"meltano_bench_{n}"
    server.psql("postgres", f"CREATE DATABASE {systemdb}")
    home = base / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = clean_env()
    env.update(
        {
            "MELTANO_PROJECT_ROOT": str(project.root),
            "MELTANO_DATABASE_URI": f"postgresql+psycopg://{server.user}:{server.password}"
            f"@127.0.0.1:{server.port}/{systemdb}",
            "DAGSTER_HOME": str(home),
            "TARGET_POSTGRES_HOST": "127.0.0.1",
            "TARGET_POSTGRES_PORT": str(server.port),
            "TARGET_POSTGRES_USER": server.user,
            "TARGET_POSTGRES_PASSWORD": server.password,
            "TARGET_POSTGRES_DATABASE": server.database,
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": f"bench_{n}",
        }
    )
    subprocess.run([str(DAGSTER), "instance", "migrate"], env=env, check=True, capture_output=True)
    config = json.dumps({"ops": {"clevertap_counts": {"config": {"loader": "target-postgres"}}}})
    with ExitStack() as stack:
        emulators = []
        for i in range(n):
            settings = AccountSettings(
                partial_share=1.0,
                job_seconds=JOB_SECONDS,
                concurrency_limit=ACCOUNT_LIMIT,
                account_id=account_id(i),
            )
            folder = base / f"account-{i}"
            folder.mkdir()
            emulator = stack.enter_context(EmulatorProcess(settings, folder))
            emulators.append(emulator)
            tap = tap_config(emulator.url, account_id(i))
            own = prefix(extractor(i))
            env.update(
                {
                    own + "API_URL": emulator.url,
                    own + "ACCOUNT_ID": tap["account_id"],
                    own + "PASSCODE": PASSCODE,
                    own + "START_DATE": tap["start_date"],
                    own + "END_DATE": tap["end_date"],
                    own + "POLL_INTERVAL_SECONDS": str(POLL_INTERVAL),
                    own + "MAX_CONCURRENT_QUERIES": str(ACCOUNT_LIMIT),
                    own + "QUERIES": json.dumps(tap["queries"]),
                }
            )
        started = []
        for i in range(n):
            out = stack.enter_context((base / f"dagster-{i}.log").open("w", encoding="utf-8"))
            command = [
                *(str(DAGSTER), "asset", "materialize", "-f", "orchestration/definitions.py"),
                *("--select", "clevertap_counts", "--partition", extractor(i)),
                *("--config-json", config),
            ]
            proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
            )
            started.append((proc, time.monotonic()))
        walls = []
        for proc, began in started:
            proc.wait(timeout=1800)
            walls.append(time.monotonic() - began)
        partitions = []
        for i, ((proc, _), wall, emulator) in enumerate(
            zip(started, walls, emulators, strict=True)
        ):
            log = (base / f"dagster-{i}.log").read_text(encoding="utf-8")
            took = TOOK.search(log)
            entries: list[dict[str, Any]] = emulator.requests()
            done = _done_at(entries)
            partitions.append(
                Partition(
                    returncode=proc.returncode,
                    wall_seconds=wall,
                    meltano_seconds=float(took.group(1)) if took else 0.0,
                    jobs=len(done),
                    first=min((float(e["t"]) for e in entries), default=0.0),
                    last=max(done, default=0.0),
                )
            )
    return OrchestrationOutcome(n, tuple(partitions), load_before)


def run_all(workdir: pathlib.Path, say: Callable[[str], None]) -> dict[int, OrchestrationOutcome]:
    if not DAGSTER.exists():
        raise SystemExit(f"{DAGSTER} is missing: run `make orchestration`")
    server = PostgresServer.start()
    try:
        project = project_with_accounts(workdir / "project", max(PARTITIONS), say)
        outcomes: dict[int, OrchestrationOutcome] = {}
        for n in PARTITIONS:
            say(f"orchestration x{n}: {n} partitions at once, {QUERIES * DAYS} jobs each")
            outcome = run_partitions(n, project, server, workdir)
            say(
                f"  {outcome.rate:.2f} jobs/s, {outcome.jobs} jobs, overhead per partition "
                f"{outcome.overhead:.1f} s, exit codes "
                f"{sorted({p.returncode for p in outcome.partitions})}, load (1 min) at start "
                f"{outcome.load_before}"
            )
            outcomes[n] = outcome
        return outcomes
    finally:
        server.stop()


def checks(outcomes: dict[int, OrchestrationOutcome]) -> list[Check]:
    one = outcomes[1]
    most = outcomes[max(outcomes)]
    n = most.n
    share = most.rate / (n * one.rate) if one.rate else 0.0
    expected = QUERIES * DAYS
    complete = all(
        p.returncode == 0 and p.jobs == expected for o in outcomes.values() for p in o.partitions
    )
    return [
        Check(
            "every partition succeeds with every job counted, at every N",
            f"{sum(o.jobs for o in outcomes.values())} jobs, {expected} per account expected",
            complete,
        ),
        Check(
            f"{n} partitions at once: throughput >= {100 * THROUGHPUT_SHARE:.0f} % of {n} x one",
            f"{most.rate:.2f} jobs/s vs {n} x {one.rate:.2f} = {100 * share:.1f} %",
            share >= THROUGHPUT_SHARE,
        ),
    ]


def section(outcomes: dict[int, OrchestrationOutcome], found: list[Check]) -> list[str]:
    """The BENCHMARKS.md section of these rows."""
    one = outcomes[1]
    lines = [
        "## Accounts on Dagster (issue 23)",
        "",
        "Each account: a partition of `clevertap_counts` run by its own `dagster asset "
        "materialize` (multiprocess executor), all started together, against its own emulator "
        f"(limit {ACCOUNT_LIMIT}, every query `partial`, {JOB_SECONDS:g} s per job; {QUERIES} "
        f"queries x {DAYS} days up to {END}), into one PostgreSQL with Meltano's system database "
        "there too. Throughput: jobs from the first request of any account to the last count of "
        "any. Overhead: a `dagster` process's wall time less its `meltano run`'s, averaged over "
        "the partitions (`benchmarks/run.py --only orchestration`).",
        "",
        "| partitions | jobs | jobs/s | of ideal | overhead per partition | dagster wall (max) "
        "| load before |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, o in outcomes.items():
        ideal = n * one.rate
        lines.append(
            f"| {n} | {o.jobs} | {o.rate:.2f} | {100 * o.rate / ideal if ideal else 0:.1f} % | "
            f"{o.overhead:.1f} s | {max(p.wall_seconds for p in o.partitions):.1f} s | "
            f"{o.load_before} |"
        )
    return [
        *lines,
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
        *(f"| {c.target} | {c.measured} | {'yes' if c.ok else '**MISSED**'} |" for c in found),
        "",
    ]


def main_only(workdir: pathlib.Path) -> int:
    """`--only orchestration`: these rows, printed."""
    outcomes = run_all(workdir, lambda line: print(line, flush=True))
    found = checks(outcomes)
    print()
    print("\n".join(section(outcomes, found)))
    print(f"load average (1 min) after: {_load()}; cpus: {os.cpu_count()}")
    return 0 if all(c.ok for c in found) else 1
