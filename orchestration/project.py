"""The Meltano project Dagster runs: where it is, which `meltano` runs it, which environment.

Everything here is read from files and variables, never by running Meltano: the definitions are
loaded by every Dagster process (webserver, daemon, each step), so loading must be quick.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import pathlib
import shutil
from collections.abc import Iterator
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]  # .venv-dagster has no PyYAML stubs

REPO = pathlib.Path(__file__).resolve().parent.parent
EXECUTABLE_VARIABLE = "MELTANO_EXECUTABLE"


class ProjectError(Exception):
    """meltano.yml or the Meltano install is not usable: the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class MeltanoProject:
    root: pathlib.Path

    @classmethod
    def discover(cls) -> MeltanoProject:
        """Meltano's own MELTANO_PROJECT_ROOT when set; else the working directory when it
        holds a meltano.yml (Dagster started from the user's project); else this repository."""
        override = os.environ.get("MELTANO_PROJECT_ROOT")
        if override:
            return cls(pathlib.Path(override).resolve())
        here = pathlib.Path.cwd()
        return cls(here.resolve() if (here / "meltano.yml").is_file() else REPO)

    @property
    def yml(self) -> pathlib.Path:
        return self.root / "meltano.yml"

    def _read(self, path: pathlib.Path) -> dict[str, Any]:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ProjectError(
                f"cannot read {path}: {error}; set MELTANO_PROJECT_ROOT to the Meltano project"
            ) from None
        if not isinstance(data, dict):
            raise ProjectError(f"{path} is not a Meltano project file (no mapping at its top)")
        return data

    def load(self) -> dict[str, Any]:
        return self._read(self.yml)

    def _files(self) -> Iterator[dict[str, Any]]:
        """meltano.yml, then the files its `include_paths` globs name (Meltano merges them)."""
        main = self.load()
        yield main
        for pattern in main.get("include_paths") or []:
            for found in sorted(glob.glob(str(self.root / str(pattern)))):
                yield self._read(pathlib.Path(found))

    def extractors(self) -> list[dict[str, Any]]:
        """Every extractor definition, meltano.yml's first, in file order."""
        found: list[dict[str, Any]] = []
        for data in self._files():
            for plugin in (data.get("plugins") or {}).get("extractors") or []:
                if isinstance(plugin, dict) and plugin.get("name"):
                    found.append(plugin)
        return found

    def utilities(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for data in self._files():
            for plugin in (data.get("plugins") or {}).get("utilities") or []:
                if isinstance(plugin, dict) and plugin.get("name"):
                    found.append(plugin)
        return found

    def environment(self, name: str) -> dict[str, Any]:
        """The named environment's block ({} when the files do not define it)."""
        for data in self._files():
            for env in data.get("environments") or []:
                if isinstance(env, dict) and env.get("name") == name:
                    return env
        return {}

    def project_env(self) -> dict[str, str]:
        """meltano.yml's top-level `env:` (the lowest of Meltano's variable layers)."""
        return {str(k): str(v) for k, v in (self.load().get("env") or {}).items()}

    def default_environment(self) -> str | None:
        value = self.load().get("default_environment")
        return str(value) if value else None

    def load_environment(self) -> str | None:
        """The environment the definitions are loaded for: MELTANO_ENVIRONMENT, else
        default_environment (a run may still choose another in its config)."""
        return os.environ.get("MELTANO_ENVIRONMENT") or self.default_environment()

    @property
    def locks(self) -> pathlib.Path:
        """Lock files, markers and caches of the steps on this machine (never shared)."""
        return self.root / ".meltano" / "dagster"


def meltano_executable() -> str:
    """MELTANO_EXECUTABLE when set; else `meltano` on PATH (the user's own install, the one
    their project was made with); else this repository's `.venv-meltano/bin/meltano`."""
    chosen = os.environ.get(EXECUTABLE_VARIABLE)
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise ProjectError(
                f"{EXECUTABLE_VARIABLE}={chosen} is not an executable: point it at your meltano"
            )
        return found
    on_path = shutil.which("meltano")
    if on_path is not None:
        return on_path
    own = REPO / ".venv-meltano" / "bin" / "meltano"
    if own.exists():
        return str(own)
    raise ProjectError(
        f"no Meltano: put meltano on PATH, set {EXECUTABLE_VARIABLE}, or run `make install`"
        f" (creates {own})"
    )


def resolve_environment(configured: str | None, project: MeltanoProject) -> str:
    """Run config first, then MELTANO_ENVIRONMENT, then the project's default_environment:
    the order Meltano itself uses, made explicit so the step's log and metadata name it."""
    chosen = configured or project.load_environment()
    if not chosen:
        raise ProjectError(
            "no Meltano environment: set `environment` in the run config, MELTANO_ENVIRONMENT,"
            " or default_environment in meltano.yml"
        )
    return chosen
