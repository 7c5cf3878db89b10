"""N accounts on two Celery workers (issue 29): deploy/ as tests/e2e/test_distributed.py runs it
(two project copies, each with its own worker, `deploy/start.py worker --concurrency 2`; Dagster's
storage, the broker and backend and Meltano's state on one PostgreSQL), each account a
`dagster job execute` started together, its step sent to the workers in turn (queue machine-1,
machine-2, machine-1, ...), against its own emulator, loading into PostgreSQL.

The jobs are benchmarks/accounts.py's (3 queries x 15 days, every job `partial` for 1.5 s,
polled every second), throughput counted the same way in the emulators' request logs. Overhead
per partition: the launching `dagster job execute`'s wall time less the `meltano run` its step
ran on the worker (that line of the worker's log, found by the run's ID): Dagster's import and
definitions in the launching process, the run's records on PostgreSQL, the broker's round trip
(the SQLAlchemy transport polls once a second), the worker's step set-up and the system
database check, and the result's way back.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from benchmarks import orchestration
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
from benchmarks.orchestration import DAGSTER, extractor, prefix, project_with_accounts
from benchmarks.processes import EmulatorProcess
from benchmarks.speed import Check
from tests.e2e.distributed import Deployment
from tests.e2e.postgres import PostgresServer

PARTITIONS = (1, 4)
WORKERS = 2
CONCURRENCY = 2  # steps at once per worker: 4 accounts on two workers all run at once
PYTHON = DAGSTER.parent / "python"
RUN_ID = re.compile(r"RUN_START - Started execution of run")
RUN_CONFIG = {"ops": {"clevertap_counts": {"config": {"loader": "target-postgres"}}}}


@dataclasses.dataclass(frozen=True)
class Partition(orchestration.Partition):
    """One account's run, as on one machine, and the worker queue its step was sent to."""

    queue: str = ""


DistributedOutcome = orchestration.OrchestrationOutcome


def run_id_of(launch_log: str) -> str:
    """The run's ID, from the RUN_START line `dagster job execute` prints."""
    for line in launch_log.splitlines():
        if RUN_ID.search(line):
            return line.split(" - ")[4]
    return ""


def meltano_seconds(deployment: Deployment, run_id: str) -> float:
    """What the step's `meltano run` took, from the worker's log line of that run."""
    for machine in deployment.machines:
        for line in machine.worker_log().splitlines():
            if run_id and run_id in line and "meltano run took" in line:
                return float(line.rsplit("meltano run took ", 1)[1].split()[0])
    return 0.0


def dotenv(
    emulators: list[EmulatorProcess], first: int, server: PostgresServer, n: int
) -> dict[str, str]:
    """Each machine's `.env` for this N: every account's emulator and queries, the warehouse."""
    values = {
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(server.port),
        "TARGET_POSTGRES_USER": server.user,
        "TARGET_POSTGRES_PASSWORD": server.password,
        "TARGET_POSTGRES_DATABASE": server.database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": f"bench_distributed_{n}",
    }
    for i, emulator in enumerate(emulators, start=first):
        tap = tap_config(emulator.url, account_id(i))
        own = prefix(extractor(i))
        values.update(
            {
                own + "API_URL": emulator.url,
                own + "ACCOUNT_ID": tap["account_id"],
                own + "PASSCODE": PASSCODE,
                own + "START_DATE": tap["start_date"],
                own + "END_DATE": tap["end_date"],
                own + "POLL_INTERVAL_SECONDS": str(POLL_INTERVAL),
                own + "MAX_CONCURRENT_QUERIES": str(ACCOUNT_LIMIT),
                own + "QUERIES": "'" + json.dumps(tap["queries"]) + "'",
            }
        )
    return values


def run_partitions(
    n: int, first: int, deployment: Deployment, workdir: pathlib.Path
) -> DistributedOutcome:
    """N accounts at once: extractors `first` .. `first + n - 1`, new to the shared state (so
    each N counts everything, as the first N did)."""
    load_before = _load()
    base = workdir / f"distributed-{n}"
    base.mkdir(parents=True)
    with ExitStack() as stack:
        emulators = []
        for i in range(first, first + n):
            settings = AccountSettings(
                partial_share=1.0,
                job_seconds=JOB_SECONDS,
                concurrency_limit=ACCOUNT_LIMIT,
                account_id=account_id(i),
            )
            folder = base / f"account-{i}"
            folder.mkdir()
            emulators.append(stack.enter_context(EmulatorProcess(settings, folder)))
        for machine in deployment.machines:
            machine.set_dotenv(dotenv(emulators, first, deployment.server, n))
        started = []
        for i in range(first, first + n):
            machine = deployment.machines[i % WORKERS]
            proc, log = deployment.launch(machine, extractor(i), machine.name, RUN_CONFIG)
            started.append((proc, log, machine.name, time.monotonic()))
        partitions = []
        for i, (proc, log, queue, began) in enumerate(started, start=first):
            proc.wait(timeout=1800)
            wall = time.monotonic() - began
            entries: list[dict[str, Any]] = emulators[i - first].requests()
            done = _done_at(entries)
            partitions.append(
                Partition(
                    queue=queue,
                    returncode=proc.returncode,
                    wall_seconds=wall,
                    meltano_seconds=meltano_seconds(deployment, run_id_of(log.read_text())),
                    jobs=len(done),
                    first=min((float(e["t"]) for e in entries), default=0.0),
                    last=max(done, default=0.0),
                )
            )
    return DistributedOutcome(n, tuple(partitions), load_before)


def run_all(workdir: pathlib.Path, say: Callable[[str], None]) -> dict[int, DistributedOutcome]:
    if not DAGSTER.exists():
        raise SystemExit(f"{DAGSTER} is missing: run `make orchestration`")
    server = PostgresServer.start()
    deployment: Deployment | None = None
    try:
        installed = project_with_accounts(workdir / "distributed-project", sum(PARTITIONS), say)
        deployment = Deployment(server, workdir / "deployment", installed)
        deployment.base.mkdir()
        text = installed.yml.read_text(encoding="utf-8")
        for index in range(1, WORKERS + 1):
            deployment.machine(f"machine-{index}", meltano_yml=text)
        init = deployment.start(PYTHON, "init")
        if init.returncode != 0:
            raise SystemExit(f"deploy/start.py init failed: {init.stderr[-2000:]}")
        say(f"  {WORKERS} workers, {CONCURRENCY} steps each at once")
        deployment.start_workers(PYTHON, concurrency=CONCURRENCY)
        outcomes: dict[int, DistributedOutcome] = {}
        first = 0
        for n in PARTITIONS:
            say(f"distributed x{n}: {n} accounts on {WORKERS} workers, {QUERIES * DAYS} jobs each")
            outcome = run_partitions(n, first, deployment, workdir)
            first += n
            say(
                f"  {outcome.rate:.2f} jobs/s, {outcome.jobs} jobs, overhead per partition "
                f"{outcome.overhead:.1f} s, exit codes "
                f"{sorted({p.returncode for p in outcome.partitions})}, load (1 min) at start "
                f"{outcome.load_before}"
            )
            outcomes[n] = outcome
        return outcomes
    finally:
        if deployment is not None:
            deployment.close()
        server.stop()


def checks(outcomes: dict[int, DistributedOutcome]) -> list[Check]:
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
            "every partition succeeds on its worker with every job counted, at every N",
            f"{sum(o.jobs for o in outcomes.values())} jobs, {expected} per account expected",
            complete,
        ),
        Check(
            f"{n} accounts on {WORKERS} workers: throughput >= {100 * THROUGHPUT_SHARE:.0f} % "
            f"of {n} x one",
            f"{most.rate:.2f} jobs/s vs {n} x {one.rate:.2f} = {100 * share:.1f} %",
            share >= THROUGHPUT_SHARE,
        ),
    ]


def section(outcomes: dict[int, DistributedOutcome], found: list[Check]) -> list[str]:
    """The BENCHMARKS.md section of these rows."""
    one = outcomes[1]
    lines = [
        "## Accounts on two Celery workers (issue 29)",
        "",
        f"deploy/ on one machine: {WORKERS} project copies, each with its own Celery worker "
        f"({CONCURRENCY} steps at once), Dagster's storage, the broker (kombu's SQLAlchemy "
        "transport) and result backend and Meltano's state on one PostgreSQL. Each account: "
        "`dagster job execute` with the Celery executor, all started together, its step sent to "
        "the workers' queues in turn, against its own emulator (limit "
        f"{ACCOUNT_LIMIT}, every query `partial`, {JOB_SECONDS:g} s per job; {QUERIES} queries x "
        f"{DAYS} days up to {END}), into PostgreSQL. Throughput: jobs from the first request of "
        "any account to the last count of any. Overhead: the launching process's wall time less "
        "the `meltano run` of its step on the worker, averaged over the partitions "
        "(`benchmarks/run.py --only distributed`).",
        "",
        "| accounts | workers | jobs | jobs/s | of ideal | overhead per partition "
        "| launch wall (max) | load before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, o in outcomes.items():
        ideal = n * one.rate
        used = len({p.queue for p in o.partitions if isinstance(p, Partition)})
        lines.append(
            f"| {n} | {used} | {o.jobs} | {o.rate:.2f} | "
            f"{100 * o.rate / ideal if ideal else 0:.1f} % | {o.overhead:.1f} s | "
            f"{max(p.wall_seconds for p in o.partitions):.1f} s | {o.load_before} |"
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
    """`--only distributed`: these rows, printed."""
    outcomes = run_all(workdir, lambda line: print(line, flush=True))
    found = checks(outcomes)
    print()
    print("\n".join(section(outcomes, found)))
    print(f"load average (1 min) after: {_load()}; cpus: {os.cpu_count()}")
    return 0 if all(c.ok for c in found) else 1
