"""`make test-loaded` (scripts/test_loaded.py) runs make beside CPU burners and stops exactly
those burners, by PID, whether make passes or fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "test_loaded.py"


@pytest.mark.parametrize(("fake_make", "code"), [("true", 0), ("false", 1)])
def test_the_burners_run_beside_make_and_are_stopped_by_pid(
    tmp_path: Path, fake_make: str, code: int
) -> None:
    # A stand-in for make that reports whether the burners are running while it runs.
    make = tmp_path / "make"
    make.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = test ] || exit 9\n'
        f"ps -eo pid=,args= > {tmp_path / 'during.txt'}\n"
        f"{fake_make}\n"
    )
    make.chmod(0o755)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--make", str(make)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == code, done.stdout + done.stderr
    (pids_text,) = re.findall(r"CPU burners running, PIDs ([\d ]+)", done.stdout)
    pids = [int(p) for p in pids_text.split()]
    assert len(pids) == 2
    during = {int(line.split()[0]) for line in (tmp_path / "during.txt").read_text().splitlines()}
    assert set(pids) <= during, "the burners ran while make did"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # stopped and reaped
    assert ("passed" if code == 0 else "FAILED") in done.stdout.splitlines()[-1]
