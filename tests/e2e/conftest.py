"""Fixtures of the Meltano end-to-end tests: one installed temp project per test session.

Under pytest-xdist a session is one worker: each worker installs its own project and starts its
own PostgreSQL cluster (own temp dirs, own free port), so workers share no file and no port.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import MELTANO, Project
from tests.e2e.postgres import PostgresServer, PostgresUnavailable

E2E_TIMEOUT = 900  # seconds; the unit tests keep pyproject's 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each Meltano test runs several `meltano` commands (their own timeouts: up to 240 s, the
    install 600 s, the demo 900 s): under load one test can pass 300 s and still be fine."""
    here = Path(__file__).resolve().parent
    for item in items:
        if item.path.is_relative_to(here) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))


@pytest.fixture(scope="session")
def meltano_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A copy of meltano.yml with its own .meltano (plugin venvs, systemdb, state) in a temp
    dir; `meltano install` runs once per session (uv makes it seconds)."""
    if not MELTANO.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{MELTANO} is missing: `make install` creates it")
        pytest.skip(f"{MELTANO} is missing: run `make install`")
    project = Project.create(tmp_path_factory.mktemp("meltano-project"))
    project.meltano("install", timeout=600)
    return project


@pytest.fixture(scope="session")
def dev_queries(meltano_project: Project) -> list[dict[str, Any]]:
    """The `dev` environment's queries as Meltano hands them to the tap (`meltano invoke
    --dump=config`), asked once per session for every test that runs them."""
    queries: list[dict[str, Any]] = meltano_project.dump_config()["queries"]
    return queries


@pytest.fixture
def pristine_project(meltano_project: Project) -> Iterator[Project]:
    """The session's project; its meltano.yml and .env are put back after the test."""
    original = meltano_project.yml.read_text(encoding="utf-8")
    dotenv = meltano_project.root / ".env"
    try:
        yield meltano_project
    finally:
        meltano_project.yml.write_text(original, encoding="utf-8")
        dotenv.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL cluster on a free loopback port, stopped after the session.
    Skipped where the server binaries are missing; under CI that is a failure instead."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a PostgreSQL server: {reason}")
        pytest.skip(str(reason))
    try:
        yield server
    finally:
        server.stop()
