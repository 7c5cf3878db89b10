"""deploy/ run for real on this machine: "machines" that are project copies, each with its own
Celery worker, sharing Dagster's storage, the broker, the result backend and Meltano's state on
one PostgreSQL server. Used by tests/e2e/test_distributed.py and benchmarks/distributed.py.

Every process started here is its own session (process group): `Deployment.close` stops each
group by its id, the Celery worker's pool and any `meltano run` of a step with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Mapping

from tests.e2e.helpers import REPO, Project, clean_env
from tests.e2e.postgres import PostgresServer

DAGSTER_BIN = REPO / ".venv-dagster" / "bin"
START = REPO / "deploy" / "start.py"
READY_DEADLINE = 240.0  # seconds a loaded machine may take to start a worker
STOP_DEADLINE = 60.0  # seconds a worker may take to stop after SIGTERM before it is killed


def step_line(extractor: str, loader: str, root: pathlib.Path) -> str:
    """The line orchestration/runner.py logs as a step starts: names the project copy."""
    return f"run {extractor} {loader}` in {root}"


@dataclasses.dataclass
class Machine:
    """One project copy, its DAGSTER_HOME and its worker (listening on the queue `name`)."""

    name: str
    project: Project
    env: dict[str, str]
    log: pathlib.Path
    worker: subprocess.Popen[bytes] | None = None

    def set_dotenv(self, values: Mapping[str, str]) -> None:
        """The project's `.env`: what Meltano reads on every run (the worker's env stays)."""
        text = "".join(f"{key}={value}\n" for key, value in values.items())
        (self.project.root / ".env").write_text(text, encoding="utf-8")

    def worker_log(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclasses.dataclass
class Deployment:
    server: PostgresServer
    base: pathlib.Path
    installed: Project  # its plugin venvs are linked into every machine (no install per copy)
    machines: list[Machine] = dataclasses.field(default_factory=list)
    launched: list[subprocess.Popen[bytes]] = dataclasses.field(default_factory=list)
    shared: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        """New databases for Dagster, the broker (and result backend) and Meltano's state."""
        suffix = secrets.token_hex(4)
        names = {kind: f"{kind}_{suffix}" for kind in ("dagster", "celery", "meltano")}
        for name in names.values():
            self.server.psql("postgres", f"CREATE DATABASE {name}")
        s = self.server
        where = f"{s.user}:{s.password}@127.0.0.1:{s.port}"
        self.shared = {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(s.port),
            "DAGSTER_PG_USER": s.user,
            "DAGSTER_PG_PASSWORD": s.password,
            "DAGSTER_PG_DB": names["dagster"],
            "DAGSTER_CELERY_BROKER_URL": f"sqla+postgresql+psycopg2://{where}/{names['celery']}",
            "DAGSTER_CELERY_BACKEND_URL": f"db+postgresql+psycopg2://{where}/{names['celery']}",
            "DAGSTER_EXECUTOR": "celery",
            "MELTANO_DATABASE_URI": f"postgresql+psycopg://{where}/{names['meltano']}",
            # The accounts' steps only: no dbt assets (the copies link no utility venv).
            "CLEVERTAP_DBT_UTILITY": "none",
        }

    def machine(self, name: str, meltano_yml: str | None = None) -> Machine:
        """A project copy (meltano.yml replaced by `meltano_yml` if given) with its own home.

        Its plugin venvs are the installed project's, linked: so that Meltano finds them
        installed from the same pip_url (their fingerprint), each loader's constraints file is
        named by the installed project's path, not this copy's. (A copy whose pip_url expanded
        differently would have Meltano reinstall the shared venv on every run, at once.)
        """
        project = Project.create(self.base / name)
        text = project.yml.read_text(encoding="utf-8") if meltano_yml is None else meltano_yml
        own = "${MELTANO_PROJECT_ROOT}/constraints/"
        assert own in text, "the loaders' pip_urls name their constraints file"
        project.yml.write_text(
            text.replace(own, f"{self.installed.root}/constraints/"), encoding="utf-8"
        )
        (project.root / ".meltano").mkdir()
        for kind in ("extractors", "loaders"):
            (project.root / ".meltano" / kind).symlink_to(self.installed.root / ".meltano" / kind)
        env = clean_env()
        env.update(self.shared)
        env["MELTANO_PROJECT_ROOT"] = str(project.root)
        env["DAGSTER_HOME"] = str(self.base / f"{name}-dagster-home")
        made = Machine(name, project, env, self.base / f"{name}-worker.log")
        self.machines.append(made)
        return made

    def start(self, python: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
        """`deploy/start.py ARGS` to its end (init), as machine 1."""
        return subprocess.run(
            [str(python), str(START), *args],
            env=self.machines[0].env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def start_workers(self, python: pathlib.Path, concurrency: int = 1) -> None:
        """A worker per machine on its own queue (its name), then wait until each says ready."""
        for m in self.machines:
            with m.log.open("wb") as out:
                command = [str(python), str(START), "worker", "--queues", m.name]
                m.worker = subprocess.Popen(
                    [*command, "--concurrency", str(concurrency)],
                    env=m.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        for m in self.machines:
            self.wait(lambda m=m: " ready." in m.worker_log(), f"worker {m.name} ready")  # type: ignore[misc]

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        """Until `condition()` holds (checked every 0.1 s), failing at once if a worker died
        or a launched run failed."""
        deadline = time.monotonic() + READY_DEADLINE
        while not condition():
            for m in self.machines:
                if m.worker is not None and m.worker.poll() is not None:
                    raise AssertionError(f"worker {m.name} exited:\n{m.worker_log()[-4000:]}")
            failed = [p for p in self.launched if p.poll() not in (None, 0)]
            assert not failed, f"a launched run failed before {what}: {failed[0].args!r}"
            assert time.monotonic() < deadline, f"no {what} within {READY_DEADLINE:.0f} s"
            time.sleep(0.1)

    def launch(
        self, machine: Machine, partition: str, queue: str, run_config: Mapping[str, object]
    ) -> tuple[subprocess.Popen[bytes], pathlib.Path]:
        """`dagster job execute` of one account from `machine`, its step sent to `queue`."""
        tags = json.dumps({"dagster/partition": partition, "dagster-celery/queue": queue})
        stem = self.base / f"launch-{len(self.launched)}-{partition}-on-{queue}"
        config = stem.with_suffix(".json")
        config.write_text(json.dumps(run_config), encoding="utf-8")
        log = stem.with_suffix(".log")
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    *(str(DAGSTER_BIN / "dagster"), "job", "execute"),
                    *("-f", str(REPO / "orchestration" / "definitions.py")),
                    *("-j", "clevertap_counts_job", "--tags", tags, "-c", str(config)),
                ],
                cwd=REPO,
                env=machine.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.launched.append(proc)
        return proc, log

    def close(self) -> None:
        """Stop every process started here, by its process group: SIGTERM, then SIGKILL."""
        procs = [m.worker for m in self.machines if m.worker is not None] + self.launched
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_DEADLINE)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
