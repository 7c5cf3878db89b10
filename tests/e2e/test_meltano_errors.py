"""The tap's fatal error reaches Meltano's log at error level (issue 21, item 8).

Meltano reads a plugin's stderr line by line: with the `structured-logging` capability it hands
the tap a singer-sdk logging config (SINGER_SDK_LOG_CONFIG) that writes JSON records, and logs
each at the record's own level; a plain line it logs at [info]. One `meltano run` with a
passcode the account refuses checks the line's level, its words, and that the passcode stays out.
"""

from __future__ import annotations

import datetime
import pathlib
import subprocess

from tap_clevertap_counts.emulator import DEMO_PASSCODE, Emulator, EmulatorConfig
from tests.e2e.helpers import MELTANO, TAP, Project, clean_env

DAY = datetime.date(2025, 1, 6)
OTHER_PASSCODE = "a-passcode-the-dev-environment-does-not-send"


def test_a_refused_passcode_is_logged_at_error_level_without_it(
    pristine_project: Project, tmp_path: pathlib.Path
) -> None:
    # The dev environment pins the demo passcode; this account wants another one: a 401.
    emulator = Emulator(EmulatorConfig(today=DAY, passcode=OTHER_PASSCODE)).start()
    try:
        env = {
            **clean_env(),
            "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path / 'state'}",
            "TARGET_JSONL_DESTINATION_PATH": str(tmp_path),
            "TAP_CLEVERTAP_COUNTS_API_URL": emulator.url,
            "TAP_CLEVERTAP_COUNTS_START_DATE": (DAY - datetime.timedelta(days=2)).isoformat(),
            "TAP_CLEVERTAP_COUNTS_END_DATE": (DAY - datetime.timedelta(days=1)).isoformat(),
        }
        proc = subprocess.run(
            [str(MELTANO), "--environment=dev", "run", TAP, "target-jsonl"],
            cwd=pristine_project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        statuses = [entry["status"] for entry in emulator.requests()]
    finally:
        emulator.stop()
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-4000:]
    assert statuses and set(statuses) == {401}, statuses  # (those in flight at once, no more)
    lines = [line for line in log.splitlines() if "tap-clevertap-counts: error:" in line]
    assert len(lines) == 1, log[-4000:]
    (line,) = lines
    assert "[error" in line, line  # the tap's own line, not only Meltano's "Extractor failed"
    assert "CleverTap refused the credentials: HTTP 401 'Invalid Credentials'" in line, line
    assert "{" not in line, "Meltano parsed the record: its message, not its JSON"
    assert "Extractor failed" in log
    assert DEMO_PASSCODE not in log
