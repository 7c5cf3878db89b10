"""orchestration/ from the command line, as docs/orchestrator.md runs it (`dg launch`): two
partitions at once on the multiprocess executor (two CLI runs), into PostgreSQL, on a new
system database on PostgreSQL: both succeed, they overlapped (each account's jobs stay pending
until both emulators hold one), every row exact, and Meltano's state on PostgreSQL. Another
project copy running an account incrementally from that shared state is test_distributed's
second run (a Celery worker in each copy).
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import secrets
import subprocess
import time
from typing import Any

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig, ManualClock
from tests.e2e.helpers import REPO, Project, dev_tap_config
from tests.e2e.postgres import PostgresServer
from tests.e2e.test_many_accounts import (
    END1,
    TAPS,
    TODAY1,
    postgres_env,
    postgres_rows,
    truth_of,
)
from tests.e2e.test_orchestration import (
    ASSET_CONFIG,
    DAGSTER_VENV,
    dagster_python,
    run_env,
)

__all__ = ["dagster_python"]  # the fixture, shared with test_orchestration
EVENT_DEADLINE = 240.0  # seconds a loaded machine may take to start two Dagster runs


def wait_for(
    condition: Any,
    procs: list[subprocess.Popen[str]],
    logs: dict[str, pathlib.Path],
    what: str,
) -> None:
    """Until `condition()` holds: an event the emulators show, checked every 50 ms."""
    deadline = time.monotonic() + EVENT_DEADLINE
    while not condition():
        if any(p.poll() is not None for p in procs):
            ended = {tap: log.read_text(encoding="utf-8")[-4000:] for tap, log in logs.items()}
            raise AssertionError(f"a run ended before {what}: {ended}")
        assert time.monotonic() < deadline, f"no {what} within {EVENT_DEADLINE} s"
        time.sleep(0.05)


def test_two_partitions_at_once_into_postgres_on_a_new_system_database(
    meltano_project: Project,
    dagster_python: pathlib.Path,
    postgres_server: PostgresServer,
    tmp_path: pathlib.Path,
) -> None:
    clock = ManualClock()
    emulators = {
        tap: Emulator(
            EmulatorConfig(
                account_id=account,
                today=TODAY1,
                partial_share=1.0,  # every job pending until the clock moves
                job_seconds=60,
                req_id_ttl_seconds=86400,
            ),
            clock=clock,
        ).start()
        for tap, account in TAPS.items()
    }
    try:
        _two_at_once(meltano_project, dagster_python, postgres_server, tmp_path, emulators, clock)
    finally:
        for emulator in emulators.values():
            emulator.stop()


def _two_at_once(
    project: Project,
    python: pathlib.Path,
    server: PostgresServer,
    tmp: pathlib.Path,
    emulators: dict[str, Emulator],
    clock: ManualClock,
) -> None:
    suffix = secrets.token_hex(4)
    systemdb = f"meltano_{suffix}"
    server.psql("postgres", f"CREATE DATABASE {systemdb}")
    uri = f"postgresql+psycopg://{server.user}:{server.password}@127.0.0.1:{server.port}/{systemdb}"
    schema = f"orchestrated_{suffix}"
    home = tmp / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = run_env(
        project,
        emulators,
        MELTANO_DATABASE_URI=uri,
        DAGSTER_HOME=str(home),
        **postgres_env(server, schema),
    )
    config = json.dumps({"ops": {ASSET_CONFIG: {"config": {"loader": "target-postgres"}}}})
    stack = contextlib.ExitStack()
    dagster = str(DAGSTER_VENV / "bin" / "dagster")
    dg = str(DAGSTER_VENV / "bin" / "dg")
    # Dagster's own SQLite storage in a new DAGSTER_HOME is created once, before two runs start
    # (two processes creating it at once can fail): docs/orchestrator.md says the same.
    subprocess.run(
        [dagster, "instance", "migrate"], env=env, cwd=REPO, check=True, capture_output=True
    )
    logs = {tap: tmp / f"{tap}.log" for tap in TAPS}
    procs = [
        subprocess.Popen(
            [
                *(dg, "launch", "-f", "orchestration/definitions.py"),
                *("--assets", "clevertap_counts", "--partition", tap, "--config-json", config),
            ],
            cwd=REPO,
            env=env,
            stdout=stack.enter_context(logs[tap].open("w", encoding="utf-8")),
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tap in TAPS
    ]
    try:
        # Neither run can end before the clock moves: both holding a job at once is the overlap.
        wait_for(
            lambda: all(e.running_jobs() > 0 for e in emulators.values()),
            procs,
            logs,
            "job pending at both accounts at once",
        )
        for emulator in emulators.values():
            emulator.update(partial_share=0.0)
        # A submit already on its way when the config changed still makes a pending job, which
        # starts after any one move of the clock: so the clock moves until both runs have ended
        # (each move ends every job then pending), never just once.
        deadline = time.monotonic() + 600
        while any(p.poll() is None for p in procs):
            assert time.monotonic() < deadline, "the two runs did not end within 600 s"
            clock.advance(600)
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        stack.close()
    outputs = [logs[tap].read_text(encoding="utf-8") for tap in TAPS]
    for tap, proc, out in zip(TAPS, procs, outputs, strict=True):
        assert proc.returncode == 0, f"{tap}:\n{out[-6000:]}"
        assert "multiprocess executor" in out
    spans = {tap: (e.requests()[0]["t"], e.requests()[-1]["t"]) for tap, e in emulators.items()}
    (a_first, a_last), (b_first, b_last) = spans.values()
    assert max(a_first, b_first) < min(a_last, b_last), f"no overlap: {spans}"
    queries = dev_tap_config(project.load_yml())["queries"]
    truth1 = truth_of(emulators, queries, END1)
    conninfo = server.conninfo
    assert {k: r.count for k, r in postgres_rows(conninfo, schema).items()} == truth1
    # each account's bookmarks are in the shared system database, where any machine reads them
    state_ids = set(server.psql(systemdb, "SELECT state_id FROM state").split())
    assert state_ids == {f"dev:{tap}-to-target-postgres" for tap in TAPS}, state_ids
