"""orchestration/runner.py's two guards, without Dagster (they are plain Python): steps into one
DuckDB file take turns while PostgreSQL steps do not, and the system database is migrated by the
first of several steps that start together, once.

Each "step" is a thread; flock locks belong to each open file, so threads contend as processes do.
"""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Callable

from orchestration.project import MeltanoProject
from orchestration.runner import ensure_system_database, writer_slot

WAIT = 60.0  # seconds an event may take on a loaded machine; never slept


def hold_slot(
    project: MeltanoProject, loader: str, entered: threading.Event, release: threading.Event
) -> Callable[[], None]:
    def step() -> None:
        with writer_slot(project, loader, "dev", lambda _: None):
            entered.set()
            assert release.wait(WAIT)

    return step


def test_duckdb_steps_take_turns_postgres_steps_do_not(tmp_path: pathlib.Path) -> None:
    project = MeltanoProject(tmp_path)
    for loader, exclusive in (("target-duckdb", True), ("target-postgres", False)):
        first_in, release = threading.Event(), threading.Event()
        first = threading.Thread(target=hold_slot(project, loader, first_in, release))
        first.start()
        assert first_in.wait(WAIT)
        waited: list[str] = []
        said_wait, second_in = threading.Event(), threading.Event()

        def log(line: str, waited: list[str] = waited, said: threading.Event = said_wait) -> None:
            waited.append(line)
            said.set()

        def second(loader: str = loader, second_in: threading.Event = second_in) -> None:
            with writer_slot(project, loader, "dev", log):
                second_in.set()

        other = threading.Thread(target=second)
        other.start()
        if exclusive:
            # The second step says it waits, and has not entered while the first holds the slot.
            assert said_wait.wait(WAIT), "the second DuckDB step never said it waits"
            assert "target-duckdb (dev)" in waited[0]
            assert not second_in.is_set(), "it entered while the first held the file"
        else:
            assert second_in.wait(WAIT), "a PostgreSQL step waited for another"
            assert not waited
        release.set()
        other.join(WAIT)
        first.join(WAIT)
        assert second_in.is_set()


def test_steps_starting_together_migrate_the_system_database_once(
    tmp_path: pathlib.Path,
) -> None:
    project = MeltanoProject(tmp_path / "project")
    calls = tmp_path / "calls"
    fake = tmp_path / "meltano"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n', encoding="utf-8")
    fake.chmod(0o755)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def step() -> None:
        try:
            start.wait(WAIT)
            ensure_system_database(project, str(fake), lambda _: None)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=step) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not errors
    assert calls.read_text(encoding="utf-8").splitlines() == ["state list"]
    ensure_system_database(project, str(fake), lambda _: None)
    assert calls.read_text(encoding="utf-8").splitlines() == ["state list"], "remembered"
