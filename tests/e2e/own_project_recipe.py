"""The guide's recipe for a team's own project (docs/own-meltano-project.md, "DuckDB, the models
and a daily schedule"), read and run as written, and the model it builds: test_own_project's
helpers for that section.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.e2e.helpers import MELTANO, REPO, Project, clean_env

GUIDE = REPO / "docs" / "own-meltano-project.md"
RECIPE = "## DuckDB, the models and a daily schedule"
MODEL = "clevertap_active_users"


def recipe_blocks() -> list[str]:
    """The bash blocks of the guide's DuckDB section, exactly as written."""
    section = GUIDE.read_text(encoding="utf-8").split(RECIPE, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert len(blocks) == 2, "the DuckDB section's set-up and run blocks"
    return blocks


def run_block(project: Project, block: str, env: dict[str, str]) -> str:
    """One block in the project with bash (stopping at the first failing line); its output."""
    full = {**clean_env(), **env, "PATH": f"{MELTANO.parent}:{clean_env()['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=project.root,
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (
        f"{block}\n--- stdout\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    )
    return done.stdout


def model_rows(db: Path) -> dict[tuple[str, str, str], int | None]:
    """(account, event, day) -> dau of the model, wherever dbt built it (one schema holds it)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        (schema,) = con.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = ?", [MODEL]
        ).fetchone() or ("",)
        rows = con.execute(
            f"SELECT account_id, event_name, day, dau FROM {schema}.{MODEL}"
        ).fetchall()
    finally:
        con.close()
    found = {(str(a), str(e), str(d)[:10]): c for a, e, d, c in rows}
    assert len(found) == len(rows), "one row per (account, event, day) for these queries"
    return found
