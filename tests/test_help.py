"""`tap-clevertap-counts --help` says where the config keys are described, not only the SDK's
"Execute the Singer tap."."""

from __future__ import annotations

import re
import subprocess

from .conftest import REPO, TAP_COMMAND


def test_help_names_about_and_the_readme_section() -> None:
    done = subprocess.run(
        [*TAP_COMMAND, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "Execute the Singer tap." not in text
    assert "`tap-clevertap-counts --about`" in text
    # the link is whole (not wrapped at a hyphen) and its anchor is the README's heading
    (link,) = re.findall(r"https://\S+", done.stdout)
    assert link.endswith("/tap-clevertap-counts#configuration")
    assert "## Configuration" in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert "--config" in text and "--discover" in text  # the SDK's options are still there
