"""deploy/start.py, what `make worker`, `make daemon` and `make deploy-init` run: a piece that
cannot start says in one line what to set (no traceback, no secret); a worker's command takes its
queues comma-separated, and a new DAGSTER_HOME gets deploy/dagster.yaml. Running the pieces for
real is tests/e2e/test_distributed.py.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys
from types import ModuleType

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
START = REPO / "deploy" / "start.py"
SECRET = "pg-secret-5tq"
FULL = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": SECRET,
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_CELERY_BROKER_URL": f"sqla+postgresql+psycopg2://dagster:{SECRET}@db.internal/celery",
    "DAGSTER_CELERY_BACKEND_URL": f"db+postgresql+psycopg2://dagster:{SECRET}@db.internal/celery",
}


def start_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_start", START)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    return subprocess.run(
        [sys.executable, str(START), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("piece", ["worker", "daemon", "init", "webserver"])
def test_a_piece_without_its_variables_names_them_in_one_line(piece: str) -> None:
    done = run(piece)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"deploy/start.py {piece}: set DAGSTER_PG_HOST, ")
    assert "DAGSTER_CELERY_BROKER_URL, DAGSTER_CELERY_BACKEND_URL" in line


def test_without_dagster_home_it_says_so_and_never_shows_the_password() -> None:
    done = run("worker", "--queues", "a,b", **FULL)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "deploy/start.py worker: set DAGSTER_HOME (deploy/README.md)"
    ]
    assert SECRET not in done.stdout + done.stderr


def test_an_empty_queue_list_is_refused(tmp_path: pathlib.Path) -> None:
    done = run("worker", "--queues", " , ", DAGSTER_HOME=str(tmp_path), **FULL)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "deploy/start.py worker: no queue named: give --queues a,b or DAGSTER_CELERY_QUEUES"
    )


def test_a_worker_listens_on_every_queue_given_comma_separated(tmp_path: pathlib.Path) -> None:
    start = start_module()
    home = tmp_path / "home"
    env = {**FULL, "DAGSTER_HOME": str(home), "DAGSTER_CELERY_QUEUES": "ignored"}
    args = start.parser().parse_args(["worker", "--queues", "machine-2, dagster", "--name", "m2"])
    command = start.worker_command(args, env)
    assert command[1:] == [
        *("--app", "dagster_celery.app", "worker"),
        *("--queues", "machine-2,dagster"),
        *("--hostname", "m2@%h"),
        "--prefetch-multiplier=1",
        "--max-tasks-per-child=1",
        "--loglevel=INFO",
    ]
    assert command[0] == str(REPO / ".venv-dagster" / "bin" / "celery")
    # Celery reads deploy/dagster_celery_config.py; Dagster the instance file, copied once.
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO / "deploy")
    assert env["DAGSTER_EXECUTOR"] == "celery"
    assert (home / "dagster.yaml").read_bytes() == (REPO / "deploy" / "dagster.yaml").read_bytes()
    # Without --queues: DAGSTER_CELERY_QUEUES, split on commas; the name from the first one.
    args = start.parser().parse_args(["worker", "--concurrency", "2"])
    command = start.worker_command(args, {**env, "DAGSTER_CELERY_QUEUES": "a,b"})
    assert command[command.index("--queues") + 1] == "a,b"
    assert command[command.index("--hostname") + 1] == "dagster-a@%h"
    assert command[-1] == "--concurrency=2"
