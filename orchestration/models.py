"""The dbt project of the Meltano project (transform/) as Dagster assets, run by the Meltano
utility's own dbt (`.meltano/utilities/dbt-duckdb/venv/bin/dbt`), downstream of every account.

The manifest dagster-dbt reads is written by that dbt's `dbt parse` when the definitions load,
and cached in `.meltano/dagster/dbt/<utility>/<hash>/`: the hash covers the dbt project's files
(not target/, logs/, dbt_packages/) and the dbt executable, so a changed model parses again and
every other load (each Dagster process, each step) reads the cache. dbt's environment is the
utility's, as Meltano resolves it for the environment (`meltano --environment=ENV config
--unsafe print UTILITY --format=env`): the same profile, paths and schemas as `meltano invoke`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version
from typing_extensions import override

from orchestration.project import MeltanoProject, ProjectError, meltano_executable
from orchestration.runner import captured, ensure_system_database, file_lock

UTILITY_VARIABLE = "CLEVERTAP_DBT_UTILITY"
DEFAULT_UTILITY = "dbt-duckdb"
OFF = ("none", "off", "false", "0")
# A dbt utility that writes the file a loader writes takes that loader's lock (runner.py).
WRITES_WITH = {"dbt-duckdb": "target-duckdb"}
SKIPPED = frozenset({"target", "logs", "dbt_packages"})


@dataclasses.dataclass(frozen=True)
class DbtSetup:
    utility: str
    executable: pathlib.Path
    project_dir: pathlib.Path
    manifest: pathlib.Path

    @property
    def lock_name(self) -> str:
        return WRITES_WITH.get(self.utility, self.utility)


class UtilityDbtCli(DbtCliResource):
    """dagster-dbt's resource for a dbt in another venv (the utility's, with its adapter):
    its version is the manifest's (no `dbt --version` per run), and no adapter handle in
    Dagster's venv, which has dbt-core but not the adapter (dagster-dbt would log a traceback
    each run and then go on without one). Both override dagster-dbt 0.29's private methods:
    the pins (constraints/dagster.txt) hold them; tests/e2e/test_orchestration.py runs them."""

    manifest_dbt_version: str

    @property
    @override
    def _cli_version(self) -> version.Version:
        return version.parse(self.manifest_dbt_version)

    @override
    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None


def chosen_utility(project: MeltanoProject) -> str | None:
    """CLEVERTAP_DBT_UTILITY (`none`: no dbt assets), else dbt-duckdb when meltano.yml has it."""
    named = os.environ.get(UTILITY_VARIABLE, "").strip()
    if named.lower() in OFF:
        return None
    names = {str(p["name"]) for p in project.utilities()}
    if named and named not in names:
        raise ProjectError(
            f"{UTILITY_VARIABLE}={named}: {project.yml} has no such utility"
            f" (it has: {', '.join(sorted(names)) or 'none'}); `none` turns dbt off"
        )
    utility = named or DEFAULT_UTILITY
    return utility if utility in names else None


def executable_of(project: MeltanoProject, utility: str) -> pathlib.Path:
    """The dbt `meltano install` put in the utility's venv (its parent's, when inherited)."""
    plugins = {str(p["name"]): p for p in project.utilities()}
    name: object = utility
    while isinstance(name, str) and name in plugins:
        plugin = plugins[name]
        found = project.root / ".meltano" / "utilities" / name / "venv" / "bin"
        found = found / str(plugin.get("executable") or "dbt")
        if found.exists():
            return found
        name = plugin.get("inherit_from")
    raise ProjectError(
        f"the {utility} utility is not installed in {project.root}: run `meltano install`"
        f" there (or set {UTILITY_VARIABLE}=none for no dbt assets)"
    )


def project_dir_of(project: MeltanoProject, utility: str) -> pathlib.Path:
    """The utility's project_dir setting from meltano.yml, else `<project>/transform`."""
    for plugin in project.utilities():
        if plugin["name"] != utility:
            continue
        for setting in plugin.get("settings") or []:
            if setting.get("name") == "project_dir" and setting.get("value"):
                value = str(setting["value"]).replace("${MELTANO_PROJECT_ROOT}", str(project.root))
                return pathlib.Path(os.path.expandvars(value))
    return project.root / "transform"


def fingerprint(project_dir: pathlib.Path, executable: pathlib.Path) -> str:
    digest = hashlib.sha256(str(executable.resolve()).encode())
    for path in sorted(project_dir.rglob("*")):
        parts = path.relative_to(project_dir).parts
        hidden = any(part.startswith(".") for part in parts)  # dbt's profiles/*/.user.yml
        if path.is_file() and not hidden and not SKIPPED & set(parts):
            digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def utility_env(
    project: MeltanoProject, meltano: str, utility: str, environment: str | None
) -> dict[str, str]:
    """The variables Meltano gives the utility (secrets included: kept out of every log)."""
    scope = [f"--environment={environment}"] if environment else []
    out = captured(
        [meltano, *scope, "config", "--unsafe", "print", utility, "--format=env"], project.root
    )
    pairs = (word.partition("=") for word in shlex.split(out))
    return {key: value for key, _, value in pairs if key}


@contextlib.contextmanager
def environ_with(extra: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `extra` for the block (dagster-dbt hands dbt os.environ)."""
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def parse(project: MeltanoProject, setup: DbtSetup, into: pathlib.Path) -> None:
    """`dbt parse` by the utility's dbt, writing manifest.json into `into`."""
    utility, executable = setup.utility, setup.executable
    environment = project.load_environment()
    meltano = meltano_executable()
    ensure_system_database(project, meltano, _quiet)
    env = {**os.environ, **utility_env(project, meltano, utility, environment)}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        {
            "DBT_PROJECT_DIR": str(setup.project_dir),
            "DBT_TARGET_PATH": str(into),
            "DBT_LOG_PATH": str(into),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    proc = subprocess.run(  # noqa: S603 (the project's own dbt)
        [str(executable), "parse"],
        cwd=setup.project_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not (into / "manifest.json").exists():
        said = [line for line in proc.stdout.splitlines() if "rror" in line] or ["no output"]
        raise ProjectError(f"`{executable} parse` failed for {utility}: {said[-1].strip()}")


def run_target(setup: DbtSetup, env: Mapping[str, str]) -> pathlib.Path:
    """A new target dir for one dbt run under the utility's target_path, seeded with the load's
    partial parse so dbt does not parse the whole project again."""
    base = pathlib.Path(env.get("DBT_TARGET_PATH") or setup.project_dir / "target")
    target = base / f"dagster-{uuid.uuid4().hex[:12]}"
    target.mkdir(parents=True)
    seed = setup.manifest.parent / "partial_parse.msgpack"
    if seed.exists():
        shutil.copyfile(seed, target / seed.name)
    return target


def resource(setup: DbtSetup) -> UtilityDbtCli:
    meta = json.loads(setup.manifest.read_text(encoding="utf-8")).get("metadata") or {}
    return UtilityDbtCli(
        project_dir=str(setup.project_dir),
        dbt_executable=str(setup.executable),
        manifest_dbt_version=str(meta.get("dbt_version") or "1.0.0"),
    )


def _quiet(_: str) -> None:
    """The load has no step log to write to."""


def setup(project: MeltanoProject) -> DbtSetup | None:
    """The dbt assets' setup, the manifest parsed now if the cache lacks it; None: no dbt."""
    utility = chosen_utility(project)
    if utility is None:
        return None
    executable = executable_of(project, utility)
    project_dir = project_dir_of(project, utility)
    cache = project.locks / "dbt" / utility
    found = DbtSetup(
        utility,
        executable,
        project_dir,
        cache / fingerprint(project_dir, executable) / "manifest.json",
    )
    if not found.manifest.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with file_lock(cache / "parse.lock", _quiet, "dbt parse"):
            if not found.manifest.exists():
                work = pathlib.Path(tempfile.mkdtemp(prefix="parsing-", dir=cache))
                try:
                    parse(project, found, work)
                    for old in cache.iterdir():
                        if old.is_dir() and old != work:
                            shutil.rmtree(old, ignore_errors=True)
                    work.rename(found.manifest.parent)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    return found
