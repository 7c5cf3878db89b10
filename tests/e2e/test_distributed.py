"""deploy/ as documented (deploy/README.md), on one machine standing in for two: two copies of
the Meltano project, each with its own DAGSTER_HOME and Celery worker (`deploy/start.py worker`,
what `make worker` runs) on its own queue; Dagster's storage, the broker and result backend, and
Meltano's system database (the state) on one PostgreSQL server; two accounts, each on its own
emulator, loaded by target-postgres.

- Run 1: account A's run is sent to machine 1's queue and B's to machine 2's (the run's
  `dagster-celery/queue` tag, `dagster job execute` with the Celery executor): each step runs on
  that worker, in that project copy, and the rows are the emulators' truth.
- Run 2, three weeks later: A on machine 2 and B on machine 1, at once. Each asks its emulator
  only for the new periods, from the state the other machine wrote, and the rows are exact.

The run queue of deploy/dagster.yaml (one run per account at a time) is the daemon's, which
this test does not start (a daemon, a code server and a run process per run would triple its
time): the second test gives the file's `run_coordinator` to a new instance and asks the
daemon's own dequeue step (tests/e2e/run_queue_check.py) which queued runs it would start.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.e2e.distributed import Deployment, Machine, step_line
from tests.e2e.helpers import REPO, Project, dev_tap_config
from tests.e2e.postgres import PostgresServer
from tests.e2e.test_many_accounts import (
    END1,
    END2,
    START,
    TAPS,
    TODAY1,
    TODAY2,
    account_emulator,
    asked,
    postgres_env,
    postgres_rows,
    prefix,
    truth_of,
)
from tests.e2e.test_orchestration import dagster_python  # noqa: F401 (a fixture)

TAP_A, TAP_B = TAPS
LOADER = "target-postgres"
RUN_CONFIG = {"ops": {"clevertap_counts": {"config": {"loader": LOADER}}}}
LAUNCH_TIMEOUT = 600


@pytest.fixture
def emulators() -> Iterator[dict[str, Emulator]]:
    started = {tap: account_emulator(tap, TODAY1) for tap in TAPS}
    yield started
    for emulator in started.values():
        emulator.stop()


def dotenv(
    emulators: dict[str, Emulator], server: PostgresServer, schema: str, end: str
) -> dict[str, str]:
    """What each machine's `.env` holds: the accounts' emulators, dates, the warehouse."""
    values = {
        "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
        "TAP_CLEVERTAP_COUNTS_END_DATE": end,
        "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
        **postgres_env(server, schema),
    }
    for tap, emulator in emulators.items():
        values[prefix(tap) + "API_URL"] = emulator.url
    return values


def table_exists(server: PostgresServer, schema: str) -> bool:
    with psycopg.connect(server.conninfo) as con:
        found = con.execute("SELECT to_regclass(%s)", (f"{schema}.profile_counts",)).fetchone()
    return found is not None and found[0] is not None


def finish(deployment: Deployment, *launched: tuple[subprocess.Popen[bytes], pathlib.Path]) -> None:
    for proc, log in launched:
        code = proc.wait(timeout=LAUNCH_TIMEOUT)
        workers = {m.name: m.worker_log()[-3000:] for m in deployment.machines}
        assert code == 0, f"{log.name}:\n{log.read_text()[-5000:]}\nworkers: {workers}"


def ran_on(machine: Machine, tap: str) -> int:
    """How many of `tap`'s steps ran on this machine's worker, in its own project copy."""
    return machine.worker_log().count(step_line(tap, LOADER, machine.project.root))


def test_two_workers_in_two_project_copies_then_each_account_on_the_other(
    meltano_project: Project,
    dagster_python: pathlib.Path,  # noqa: F811 (the fixture imported above)
    postgres_server: PostgresServer,
    emulators: dict[str, Emulator],
    tmp_path: pathlib.Path,
) -> None:
    deployment = Deployment(postgres_server, tmp_path, meltano_project)
    try:
        _each_account_on_either_worker(deployment, dagster_python, emulators)
    finally:
        deployment.close()
    for m in deployment.machines:
        assert not (m.project.root / ".meltano" / "meltano.db").exists(), "state is on PostgreSQL"
        home = pathlib.Path(m.env["DAGSTER_HOME"])
        assert (home / "dagster.yaml").read_bytes() == (
            REPO / "deploy" / "dagster.yaml"
        ).read_bytes()
        assert not (home / "history").exists(), "Dagster's runs are on PostgreSQL, not SQLite"


def _each_account_on_either_worker(
    deployment: Deployment, python: pathlib.Path, emulators: dict[str, Emulator]
) -> None:
    server = deployment.server
    schema = "distributed_" + deployment.shared["DAGSTER_PG_DB"].rsplit("_", 1)[1]
    one, two = deployment.machine("machine-1"), deployment.machine("machine-2")
    for m in (one, two):
        m.set_dotenv(dotenv(emulators, server, schema, END1.isoformat()))
    init = deployment.start(python, "init")
    assert init.returncode == 0, init.stderr[-3000:]
    deployment.start_workers(python)

    # Run 1: A on machine 1; B on machine 2 once A's loader has created the table (two
    # target-postgres creating one new table at once can both try: docs/many-accounts.md).
    a1 = deployment.launch(one, TAP_A, one.name, RUN_CONFIG)
    deployment.wait(lambda: table_exists(server, schema), "table created by account A's run")
    b1 = deployment.launch(one, TAP_B, two.name, RUN_CONFIG)
    finish(deployment, a1, b1)
    queries: list[dict[str, Any]] = dev_tap_config(one.project.load_yml())["queries"]
    truth1 = truth_of(emulators, queries, END1)
    assert {k: r.count for k, r in postgres_rows(server.conninfo, schema).items()} == truth1
    assert (ran_on(one, TAP_A), ran_on(one, TAP_B)) == (1, 0)
    assert (ran_on(two, TAP_A), ran_on(two, TAP_B)) == (0, 1)

    # Run 2, three weeks later, both at once, each account on the other worker.
    since = {tap: len(e.requests()) for tap, e in emulators.items()}
    for emulator in emulators.values():
        emulator.set_today(TODAY2)
    for m in (one, two):
        m.set_dotenv(dotenv(emulators, server, schema, END2.isoformat()))
    a2 = deployment.launch(one, TAP_A, two.name, RUN_CONFIG)
    b2 = deployment.launch(two, TAP_B, one.name, RUN_CONFIG)
    finish(deployment, a2, b2)
    assert (ran_on(one, TAP_A), ran_on(one, TAP_B)) == (1, 1)
    assert (ran_on(two, TAP_A), ran_on(two, TAP_B)) == (1, 1)
    truth2 = truth_of(emulators, queries, END2)
    rows = {k: r.count for k, r in postgres_rows(server.conninfo, schema).items()}
    assert rows == truth2
    for tap, emulator in emulators.items():
        new = sorted(k[1:] for k in truth2 if k[0] == TAPS[tap] and k not in truth1)
        assert new, "three weeks later there is something new to count"
        assert sorted(asked(emulator, queries, since[tap])) == new, f"{tap}: only new periods"


def test_the_run_queue_starts_one_run_per_account_at_a_time(
    dagster_python: pathlib.Path,  # noqa: F811 (the fixture imported above)
) -> None:
    """deploy/dagster.yaml's run coordinator, as the daemon applies it to queued runs."""
    done = subprocess.run(
        [str(dagster_python), str(REPO / "tests" / "e2e" / "run_queue_check.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    started = {name: (r["running"], r["queued"], r["started"]) for name, r in found.items()}
    assert {r["coordinator"] for r in found.values()} == {"QueuedRunCoordinator"}
    # A backfill asking for A twice: A once and B; the second A waits for the first.
    assert started["backfill of A and B while nothing runs, A asked twice"][2] == ["a", "b"]
    # The schedule's A while a backfill's A runs: only B starts.
    assert started["A running, the schedule queues A and B"][2] == ["b"]
    assert started["A and B running"][2] == []
