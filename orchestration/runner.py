"""One `meltano run` per step: its log streamed line by line, its exit code the step's fate.

Two guards for steps that start at the same moment on one machine:
- the system database is migrated once, by the first step, before any `meltano run` (two
  Meltano processes migrating one new database at once can fail: `table alembic_version
  already exists`);
- a loader that writes one file (target-duckdb, target-jsonl) takes a lock keyed by loader and
  environment, so its steps run one after another; target-postgres takes none and its accounts
  run in parallel.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from orchestration.failures import TAP_ERROR, Verdict, classify
from orchestration.project import MeltanoProject

PARALLEL_LOADERS = frozenset({"target-postgres"})
TAIL_LINES = 40
ERROR_LINES = 20
ERROR_MARKS = ("[error", TAP_ERROR, "internal error:", "Error:")

Log = Callable[[str], None]


class MeltanoFailed(Exception):
    def __init__(
        self, command: Sequence[str], code: int, tail: list[str], errors: list[str]
    ) -> None:
        self.command = " ".join(command)
        self.code = code
        self.tail = tail
        self.errors = errors  # every error line, however early: the tap's may be long gone
        super().__init__(f"`{self.command}` exited {code}")

    @property
    def verdict(self) -> Verdict:
        """Why it failed (the tap's one-line error where it wrote one), and whether another
        try could pass."""
        return classify([*self.errors, *self.tail])


@contextlib.contextmanager
def file_lock(path: os.PathLike[str], log: Log, what: str) -> Iterator[None]:
    """An exclusive flock on `path`, logged when it has to wait (another step holds it)."""
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {what}: another step holds {path}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def environ() -> dict[str, str]:
    """The step's environment for Meltano: the orchestrator's, less its own venv."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    return env


def run_streamed(command: Sequence[str], cwd: os.PathLike[str], log: Log) -> None:
    """Run `command`, passing each output line to `log` as it comes; raise MeltanoFailed with
    its error lines and last lines when it exits non-zero."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    errors: collections.deque[str] = collections.deque(maxlen=ERROR_LINES)
    with subprocess.Popen(  # noqa: S603 (our own meltano, arguments from meltano.yml and config)
        list(command),
        cwd=cwd,
        env=environ(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if line:
                tail.append(line)
                if any(mark in line for mark in ERROR_MARKS):
                    errors.append(line)
                log(line)
        code = proc.wait()
    if code != 0:
        raise MeltanoFailed(command, code, list(tail), list(errors))


def captured(command: Sequence[str], cwd: os.PathLike[str]) -> str:
    """`command`'s standard output, never logged (it may hold secrets); MeltanoFailed with its
    error output when it fails."""
    proc = subprocess.run(  # noqa: S603 (our own meltano, arguments from meltano.yml and config)
        list(command),
        cwd=cwd,
        env=environ(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if any(mark in line for mark in ERROR_MARKS)]
        raise MeltanoFailed(command, proc.returncode, lines[-TAIL_LINES:], errors)
    return proc.stdout


def ensure_system_database(project: MeltanoProject, meltano: str, log: Log) -> None:
    """Migrate the system database once per machine and database (a marker file remembers it),
    under a lock, so steps that start together never migrate a new database at once."""
    project.locks.mkdir(parents=True, exist_ok=True)
    uri = os.environ.get("MELTANO_DATABASE_URI", "")
    marker = project.locks / f"systemdb-{hashlib.sha256(uri.encode()).hexdigest()[:16]}.ready"
    if marker.exists():
        return
    with file_lock(project.locks / "systemdb.lock", log, "the system database's first migration"):
        if marker.exists():
            return
        log("initialising Meltano's system database before the first run (`meltano state list`)")
        run_streamed([meltano, "state", "list"], project.root, log)
        marker.touch()


@contextlib.contextmanager
def writer_slot(project: MeltanoProject, loader: str, environment: str, log: Log) -> Iterator[None]:
    """One step at a time per (loader, environment) unless the loader takes parallel writers."""
    if loader in PARALLEL_LOADERS:
        yield
        return
    project.locks.mkdir(parents=True, exist_ok=True)
    with file_lock(
        project.locks / f"{loader}.{environment}.lock", log, f"{loader} ({environment})"
    ):
        yield


def meltano_run(  # noqa: PLR0917 (one call site, each argument named there)
    project: MeltanoProject,
    meltano: str,
    extractor: str,
    loader: str,
    environment: str,
    log: Log,
) -> Mapping[str, object]:
    """`meltano --environment=ENV run EXTRACTOR LOADER` with both guards; what it did."""
    ensure_system_database(project, meltano, log)
    command = [meltano, f"--environment={environment}", "run", extractor, loader]
    with writer_slot(project, loader, environment, log):
        started = time.time()
        log(f"running `{' '.join(command[1:])}` in {project.root}")
        run_streamed(command, project.root, log)
        ended = time.time()
    log(f"meltano run took {ended - started:.2f} s")
    return {
        "command": " ".join(["meltano", *command[1:]]),
        "state_id": f"{environment}:{extractor}-to-{loader}",
        "started_at": started,
        "ended_at": ended,
    }
