"""A throw-away PostgreSQL server for the tests: its own cluster in a temp dir, on a free
loopback port, password authentication (scram), stopped and deleted afterwards.

The server binaries come from `$PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin`
(Debian's postgresql-common layout), else `initdb` on the PATH. initdb and postgres refuse to
run as root: as root, they run as the `postgres` user (`runuser`), which owns the cluster.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile


class PostgresUnavailable(Exception):
    """No server binaries here (or no user to run them as): the caller skips or fails."""


def find_bindir() -> pathlib.Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    override = os.environ.get("PG_BINDIR")
    if override:
        bindir = pathlib.Path(override)
        return bindir if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists() else None
    candidates = sorted(
        pathlib.Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    initdb = shutil.which("initdb")
    return pathlib.Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclasses.dataclass
class PostgresServer:
    """A running cluster: connect to 127.0.0.1:`port` as `user`/`password`, database `database`."""

    bindir: pathlib.Path
    base: pathlib.Path
    port: int
    user: str = "loader"
    password: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(16))
    database: str = "warehouse"
    run_as: str | None = None

    @property
    def data(self) -> pathlib.Path:
        return self.base / "data"

    @property
    def log(self) -> pathlib.Path:
        return self.base / "server.log"

    @property
    def conninfo(self) -> str:
        return (
            f"host=127.0.0.1 port={self.port} user={self.user} password={self.password}"
            f" dbname={self.database}"
        )

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, *args]

    def _run(self, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run(
            self._cmd(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.base,
        )
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:2])} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
                f"\n--- server log (end)\n{log}"
            )

    @classmethod
    def start(cls) -> PostgresServer:
        """initdb a new cluster in a temp dir, start it, and create the loader's database."""
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries (initdb, pg_ctl): install postgresql"
                " (Debian: apt-get install postgresql) or set PG_BINDIR"
            )
        run_as = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no `postgres` user to run the server as"
                ) from None
            run_as = "postgres"
        base = pathlib.Path(tempfile.mkdtemp(prefix="tap-clevertap-pg-"))
        server = cls(bindir=bindir, base=base, port=free_port(), run_as=run_as)
        pwfile = base / "pwfile"
        pwfile.write_text(server.password + "\n", encoding="utf-8")
        if run_as:
            os.chown(base, owner.pw_uid, owner.pw_gid)
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        pwfile.chmod(0o600)
        try:
            server._run(
                str(bindir / "initdb"),
                f"--pgdata={server.data}",
                f"--username={server.user}",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={server.port}"
                f" -c unix_socket_directories={base} -c fsync=off"
            )
            server._run(
                str(bindir / "pg_ctl"),
                "start",
                "--wait",
                "--timeout=60",
                f"--pgdata={server.data}",
                f"--log={server.log}",
                f"--options={options}",
            )
            server.psql("postgres", f"CREATE DATABASE {server.database}")
        except BaseException:
            server.stop()
            raise
        return server

    def psql(self, database: str, sql: str) -> str:
        """Run one statement with the server's own psql (no Python driver needed)."""
        env = {**os.environ, "PGPASSWORD": self.password}
        proc = subprocess.run(
            [
                str(self.bindir / "psql"),
                "--no-psqlrc",
                "--tuples-only",
                "--no-align",
                "--set=ON_ERROR_STOP=1",
                "--host=127.0.0.1",
                f"--port={self.port}",
                f"--username={self.user}",
                f"--dbname={database}",
                "--command",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"psql {sql!r} exited {proc.returncode}: {proc.stderr}")
        return proc.stdout

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it runs, and delete the cluster."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "stop",
                    "--wait",
                    "--mode=fast",
                    f"--pgdata={self.data}",
                    timeout=60,
                )
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
