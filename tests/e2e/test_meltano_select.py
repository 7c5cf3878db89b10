"""Meltano's selection of the tap's streams: event_counts stays opt-in, and `select` opts in.

Meltano selects every stream (`*.*`) unless the plugin says otherwise, which would double a
user's API calls; `meltano.yml` selects profile_counts only, and the README's recipe adds
event_counts. Checked with `meltano select --list`, which runs the tap's discovery and applies
the rules as `meltano run` does.
"""

from __future__ import annotations

import re

from .helpers import TAP, Project


def selected_streams(project: Project) -> dict[str, bool]:
    """stream -> whether any of its properties is selected, from `meltano select --list --all`."""
    out = project.meltano("select", TAP, "--list", "--all").stdout
    streams: dict[str, bool] = {}
    for state, stream in re.findall(r"\[(\w+)\s*\] (\w+)\.\w+", out):
        streams[stream] = streams.get(stream, False) or state in ("selected", "automatic")
    return streams


def test_event_counts_is_opt_in_and_select_turns_it_on(pristine_project: Project) -> None:
    assert selected_streams(pristine_project) == {"profile_counts": True, "event_counts": False}

    data = pristine_project.load_yml()
    (tap,) = [p for p in data["plugins"]["extractors"] if p["name"] == TAP]
    tap["select"] = [*tap["select"], "event_counts.*"]  # the README's recipe
    pristine_project.save_yml(data)
    assert selected_streams(pristine_project) == {"profile_counts": True, "event_counts": True}
