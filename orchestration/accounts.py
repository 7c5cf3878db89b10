"""Which extractors are CleverTap accounts: the partitions of `clevertap_counts`.

An account is an extractor that is `tap-clevertap-counts` or inherits from it (directly or
through another), *and has an `account_id` of its own*, read from the files and variables Meltano
would read, without running it:

- the extractor's `config: account_id` in meltano.yml (or a file of its `include_paths`), or in
  the loaded environment's `config:` for that extractor;
- its own variable, `<NAME>_ACCOUNT_ID` (`TAP_CLEVERTAP_APP_B_ACCOUNT_ID`,
  `TAP_CLEVERTAP_COUNTS_ACCOUNT_ID`), in the process's environment, the project's `.env`, the
  environment's `env:` or meltano.yml's top-level `env:`.

Inherited values do not count: an inheriting extractor with no account of its own runs its
parent's account, a second partition of one account. `CLEVERTAP_ACCOUNTS=a,b` names the
partitions instead (for accounts whose id only the workers' environment holds).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from dotenv import dotenv_values

from orchestration.project import MeltanoProject, ProjectError

TAP = "tap-clevertap-counts"
SETTING = "account_id"
EXPLICIT = "CLEVERTAP_ACCOUNTS"
REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def variable(extractor: str) -> str:
    """Meltano's variable for the extractor's own account_id."""
    return re.sub(r"[^A-Z0-9]", "_", extractor.upper()) + "_ACCOUNT_ID"


def family(extractors: list[dict[str, Any]]) -> list[str]:
    """The tap and every extractor inheriting from it, through any chain, in file order."""
    parents = {str(p["name"]): p.get("inherit_from") for p in extractors}
    found = []
    for name in parents:
        seen: set[str] = set()
        at: object = name
        while isinstance(at, str) and at != TAP and at not in seen:
            seen.add(at)
            at = parents.get(at)
        if at == TAP:
            found.append(name)
    return found


def variables(project: MeltanoProject, environment: dict[str, Any]) -> dict[str, str]:
    """The variables Meltano's settings read, lowest layer first (a later one wins)."""
    found = project.project_env()
    dotenv = project.root / ".env"
    if dotenv.is_file():
        found.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    found.update(os.environ)
    found.update({str(k): str(v) for k, v in (environment.get("env") or {}).items()})
    return found


def expanded(value: object, env: Mapping[str, str]) -> str:
    """A setting's value with `${VAR}` references filled in, as Meltano expands them."""
    if value is None:
        return ""
    return REFERENCE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), str(value))


def configured(extractors: list[dict[str, Any]], environment: dict[str, Any]) -> dict[str, object]:
    """Each extractor's own `account_id` in its definition, the environment's config winning."""
    found: dict[str, object] = {}
    for plugin in extractors:
        if SETTING in (plugin.get("config") or {}):
            found[str(plugin["name"])] = plugin["config"][SETTING]
    overrides = ((environment.get("config") or {}).get("plugins") or {}).get("extractors") or []
    for plugin in overrides:
        if isinstance(plugin, dict) and SETTING in (plugin.get("config") or {}):
            found[str(plugin["name"])] = plugin["config"][SETTING]
    return found


def accounts(project: MeltanoProject, environment: str | None) -> list[str]:
    """The partition keys: CLEVERTAP_ACCOUNTS when set, else every account extractor."""
    extractors = project.extractors()
    members = family(extractors)
    explicit = [n.strip() for n in os.environ.get(EXPLICIT, "").split(",") if n.strip()]
    if explicit:
        strangers = [n for n in explicit if n not in members]
        if strangers:
            raise ProjectError(
                f"{EXPLICIT} names {', '.join(strangers)}: not an extractor of {project.yml}"
                f" that is or inherits from {TAP} (those are: {', '.join(members) or 'none'})"
            )
        return list(dict.fromkeys(explicit))
    block = project.environment(environment) if environment else {}
    env = variables(project, block)
    own = configured(extractors, block)
    found = [
        name
        for name in members
        if expanded(own.get(name), env).strip() or env.get(variable(name), "").strip()
    ]
    if not found:
        raise ProjectError(
            f"no CleverTap account in {project.yml} (environment {environment or 'none'}):"
            f" no extractor of {', '.join(members) or TAP} has an account_id of its own; set"
            f" one (e.g. {variable(members[0] if members else TAP)} in .env) or name the"
            f" extractors in {EXPLICIT}"
        )
    return found
