"""docs/state.md's "pipe into any Singer target" recipe, as written, with the real target-jsonl.

A target prints the tap's STATE only once the records before it are loaded, and the recipe
keeps the last line it prints as the next run's state. So every run that sent a record must end
with a STATE after its last record, even when no bookmark moved (a lookback re-count), or the
recipe's last line finds nothing and exits 1: a daily script would fail every day nothing new
arrived. Three runs: the first (everything), the second (only the lookback's re-count), a third
with lookback_days 0 (nothing at all to count); each exits 0 and leaves a complete state file.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig
from tests import oracle
from tests.conftest import bookmarks
from tests.e2e.helpers import REPO, Project, clean_env

START, END = datetime.date(2024, 3, 1), datetime.date(2024, 3, 20)


def recipe() -> str:
    """The bash block of docs/state.md's "Without Meltano" section, exactly as written."""
    guide = (REPO / "docs" / "state.md").read_text(encoding="utf-8")
    section = guide.split("## Without Meltano", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "docs/state.md's pipe recipe"
    return match.group(1)


def sample_config(emulator: Emulator, lookback_days: int) -> dict[str, Any]:
    """sample_config.json, pointed at this test's emulator and a fixed span of days."""
    config: dict[str, Any] = json.loads((REPO / "sample_config.json").read_text())
    config.update(
        api_url=emulator.url,
        start_date=START.isoformat(),
        end_date=END.isoformat(),
        lookback_days=lookback_days,
        poll_interval_seconds=0.05,
    )
    return config


def run_recipe(folder: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (folder / "sample_config.json").write_text(json.dumps(config))
    return subprocess.run(
        ["bash", "-c", recipe()],
        cwd=folder,
        env={**clean_env(), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_pipe_recipe_three_times_exits_0_with_a_complete_state(
    meltano_project: Project, tmp_path: Path
) -> None:
    # The recipe's paths, relative to a clone: this repo's .venv, the project's target-jsonl.
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / ".meltano").symlink_to(meltano_project.root / ".meltano")
    emulator = Emulator(EmulatorConfig(seed=15, job_seconds=0.05)).start()
    try:
        queries = sample_config(emulator, 0)["queries"]
        last = {
            q["name"]: oracle.all_periods(q.get("granularity", "day"), START, END)[-1][1]
            for q in queries
        }
        complete = {name: day.isoformat() for name, day in last.items()}
        output = tmp_path / "output" / "singer"
        lines_before = 0
        for run, lookback in enumerate((1, 1, 0), start=1):
            emulator.clear_log()
            done = run_recipe(tmp_path, sample_config(emulator, lookback))
            assert done.returncode == 0, f"run {run}: {done.stderr[-3000:]}"
            assert not (output / "state.json.new").exists()
            state = json.loads((output / "state.json").read_text())
            assert bookmarks(state) == complete, f"run {run}"
            records = (output / "profile_counts.jsonl").read_text().splitlines()
            new = [json.loads(line) for line in records[lines_before:]]
            lines_before = len(records)
            submits = [e for e in emulator.requests() if e["kind"] == "submit"]
            if run == 2:  # the lookback's re-count: each query's last period again
                assert sorted((r["query_name"], r["to_date"]) for r in new) == sorted(
                    complete.items()
                )
            if run == 3:
                assert new == [] and submits == []
            assert len(submits) == len(new)
    finally:
        emulator.stop()
