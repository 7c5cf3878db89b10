"""The Meltano project Dagster runs: where it is, which accounts it has, which `meltano` runs it.

Read from meltano.yml on every load of the definitions, so an account extractor added to the
file (`inherit_from: tap-clevertap-counts`) is a new partition without a code change.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]  # .venv-dagster has no PyYAML stubs

TAP = "tap-clevertap-counts"
REPO = pathlib.Path(__file__).resolve().parent.parent


class ProjectError(Exception):
    """meltano.yml or the Meltano install is not usable: the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class MeltanoProject:
    root: pathlib.Path

    @classmethod
    def discover(cls) -> MeltanoProject:
        """Meltano's own MELTANO_PROJECT_ROOT when set (a deployed copy, a test's copy), else
        the repository this orchestration/ sits in."""
        override = os.environ.get("MELTANO_PROJECT_ROOT")
        return cls(pathlib.Path(override).resolve() if override else REPO)

    @property
    def yml(self) -> pathlib.Path:
        return self.root / "meltano.yml"

    def _load(self) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.yml.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ProjectError(
                f"cannot read {self.yml}: {error}; set MELTANO_PROJECT_ROOT to the Meltano project"
            ) from None
        if not isinstance(data, dict):
            raise ProjectError(f"{self.yml} is not a Meltano project file (no mapping at its top)")
        return data

    def accounts(self) -> list[str]:
        """The extractors that inherit from the tap, one per CleverTap account, in file order."""
        extractors = (self._load().get("plugins") or {}).get("extractors") or []
        return [
            str(plugin["name"])
            for plugin in extractors
            if isinstance(plugin, dict) and plugin.get("inherit_from") == TAP
        ]

    def default_environment(self) -> str | None:
        value = self._load().get("default_environment")
        return str(value) if value else None

    @property
    def locks(self) -> pathlib.Path:
        """Lock files and markers of the steps running on this machine (never shared)."""
        return self.root / ".meltano" / "dagster"


def meltano_executable() -> str:
    """The repository's own `.venv-meltano/bin/meltano` (`make install`), else `meltano` on
    PATH (an image that installed Meltano elsewhere)."""
    own = REPO / ".venv-meltano" / "bin" / "meltano"
    if own.exists():
        return str(own)
    found = shutil.which("meltano")
    if found is None:
        raise ProjectError(f"no Meltano: run `make install` (creates {own}) or put meltano on PATH")
    return found


def resolve_environment(configured: str | None, project: MeltanoProject) -> str:
    """Run config first, then MELTANO_ENVIRONMENT, then the project's default_environment:
    the order Meltano itself uses, made explicit so the step's log and metadata name it."""
    chosen = configured or os.environ.get("MELTANO_ENVIRONMENT") or project.default_environment()
    if not chosen:
        raise ProjectError(
            "no Meltano environment: set `environment` in the run config, MELTANO_ENVIRONMENT,"
            " or default_environment in meltano.yml"
        )
    return chosen
