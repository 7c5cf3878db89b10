"""Start one piece of the distributed set-up (deploy/README.md); what `make deploy-init`, `make
worker`, `make daemon` and `make webserver` run, with .venv-dagster's Python and tools.

    deploy/start.py init                 # once per deployment: create every shared table
    deploy/start.py worker [--queues a,b] [--concurrency N] [--name NAME]
    deploy/start.py daemon
    deploy/start.py webserver [--port 3000]

Each checks the variables its piece needs first and says in one line which is missing (never a
traceback), puts deploy/dagster.yaml into a new $DAGSTER_HOME, then replaces itself with the
piece (exec), so a signal to this process reaches Celery or Dagster directly.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys

DEPLOY = pathlib.Path(__file__).resolve().parent
REPO = DEPLOY.parent
BIN = REPO / ".venv-dagster" / "bin"
DEFINITIONS = REPO / "orchestration" / "definitions.py"
STORAGE = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
)
BROKER, BACKEND = "DAGSTER_CELERY_BROKER_URL", "DAGSTER_CELERY_BACKEND_URL"
QUEUES_ENV = "DAGSTER_CELERY_QUEUES"


class StartError(Exception):
    """A piece cannot start: the message says what to set or run."""


def require(env: dict[str, str], names: tuple[str, ...]) -> None:
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise StartError(f"set {', '.join(missing)} (deploy/README.md)")


def dagster_home(env: dict[str, str]) -> pathlib.Path:
    """$DAGSTER_HOME, given deploy/dagster.yaml if it has no dagster.yaml yet."""
    require(env, ("DAGSTER_HOME",))
    home = pathlib.Path(env["DAGSTER_HOME"]).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(DEPLOY / "dagster.yaml", home / "dagster.yaml")
        print(f"deploy/start.py: copied deploy/dagster.yaml to {home}", file=sys.stderr)
    return home


def queues(given: str | None, env: dict[str, str]) -> list[str]:
    """Comma-separated names (`--queues`, else DAGSTER_CELERY_QUEUES, else `dagster`)."""
    text = given if given is not None else env.get(QUEUES_ENV) or "dagster"
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise StartError(f"no queue named: give --queues a,b or {QUEUES_ENV}")
    return names


def prepare(env: dict[str, str]) -> None:
    """What every piece needs: Dagster's storage and the broker, its home, the executor."""
    require(env, (*STORAGE, BROKER, BACKEND))
    dagster_home(env)
    env.setdefault("DAGSTER_EXECUTOR", "celery")


def worker_command(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    prepare(env)
    names = queues(args.queues, env)
    command = [
        str(BIN / "celery"),
        *("--app", "dagster_celery.app", "worker"),
        *("--queues", ",".join(names)),
        *("--hostname", f"{args.name or 'dagster-' + names[0]}@%h"),
        "--prefetch-multiplier=1",
        # A new process per step: it loads the definitions as the project is then (an account
        # added to meltano.yml or .env since the worker started is a partition), not as the
        # first step of a long-lived pool process found it.
        "--max-tasks-per-child=1",
        "--loglevel=INFO",
    ]
    if args.concurrency:
        command.append(f"--concurrency={args.concurrency}")
    # dagster_celery.app reads the module dagster_celery_config (deploy/) for broker and backend.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(DEPLOY), env.get("PYTHONPATH")) if p)
    return command


def daemon_command(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    prepare(env)
    return [str(BIN / "dagster-daemon"), "run", "-f", str(DEFINITIONS)]


def webserver_command(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    prepare(env)
    port = ["--port", str(args.port)]
    return [str(BIN / "dagster-webserver"), "-f", str(DEFINITIONS), *port]


def init(env: dict[str, str]) -> None:
    """Create Dagster's tables, the broker's and the result backend's, once, before any piece
    starts: pieces that start together on new databases would each try, and one could fail."""
    prepare(env)
    done = subprocess.run(  # noqa: S603 (our own venv's dagster)
        [str(BIN / "dagster"), "instance", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line] or lines or ["no output"]
        said = errors[-1].strip()
        raise StartError(f"`dagster instance migrate` exited {done.returncode}: {said}")
    from celery import Celery  # type: ignore[import-untyped]  # noqa: PLC0415 (.venv-dagster only)

    app = Celery("dagster", broker=env[BROKER], backend=env[BACKEND])
    try:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_declare(queue="dagster")  # kombu makes its tables
        app.backend.ResultSession().close()  # Celery's database backend makes its own
    except Exception as error:  # any driver's error: its first line (never the URL)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StartError(f"the broker or result backend: {first}") from None
    print("deploy/start.py init: Dagster's storage, the broker and the result backend are ready")


PIECES = {"worker": worker_command, "daemon": daemon_command, "webserver": webserver_command}


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="deploy/start.py", description=__doc__.split("\n\n")[0])
    pieces = made.add_subparsers(dest="piece", required=True)
    pieces.add_parser("init", help="create the shared tables (once per deployment)")
    worker = pieces.add_parser("worker", help="a Celery worker running Dagster's steps")
    worker.add_argument("--queues", help=f"comma-separated (default: ${QUEUES_ENV} or dagster)")
    worker.add_argument("--concurrency", type=int, help="steps at once (default: CPUs)")
    worker.add_argument("--name", help="worker name (default: dagster-<first queue>)")
    pieces.add_parser("daemon", help="Dagster's daemon: the run queue, schedules, backfills")
    web = pieces.add_parser("webserver", help="Dagster's UI (`make orchestration-ui` first)")
    web.add_argument("--port", type=int, default=3000)
    return made


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    try:
        if args.piece == "init":
            init(env)
            return 0
        command = PIECES[args.piece](args, env)
        if not pathlib.Path(command[0]).exists():
            raise StartError(f"{command[0]} is missing: run `make orchestration`")
    except StartError as error:
        print(f"deploy/start.py {args.piece}: {error}", file=sys.stderr)
        return 2
    os.chdir(REPO)
    os.execve(command[0], command, env)  # noqa: S606 (our own venv's tool)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
