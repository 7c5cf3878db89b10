"""A state handed to the tap, as users and orchestrators write it: checked before it is used.

Users edit bookmarks by hand and pass Meltano's `meltano state get` output to `--state`. The
SDK trusts a state's shape and crashes deep inside a sync (two partitions for one query raise
a bare ValueError), or silently ignores a wrapped one and counts everything again. Here a state
is unwrapped when Meltano wrapped it, and refused in one sentence when it cannot be used.
"""

from __future__ import annotations

import json
from typing import Any

MELTANO_WRAPPER = "singer_state"


def unwrap(state: Any) -> Any:
    """The Singer state inside Meltano's `{"singer_state": {...}}`, or `state` as it is."""
    if isinstance(state, dict) and MELTANO_WRAPPER in state and "bookmarks" not in state:
        return state[MELTANO_WRAPPER]
    return state


def problem(state: Any) -> str | None:
    """What makes `state` unusable as this tap's state, if anything."""
    if not isinstance(state, dict):
        return "it must be a JSON object"
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict) or not all(isinstance(v, dict) for v in bookmarks.values()):
        return "bookmarks must be an object of objects"
    for stream, stream_state in bookmarks.items():
        partitions = stream_state.get("partitions", [])
        if not isinstance(partitions, list) or not all(
            isinstance(p, dict) and isinstance(p.get("context"), dict) for p in partitions
        ):
            return f"bookmarks.{stream}.partitions must be a list of objects with a context"
        seen: set[str] = set()
        for partition in partitions:
            context = partition["context"]
            key = json.dumps(context, sort_keys=True, default=str)
            if key in seen:
                name = context.get("query_name", key)
                return (
                    f"bookmarks.{stream} has two partitions for query '{name}': keep one "
                    "(the one with the bookmark you trust) and delete the other"
                )
            seen.add(key)
    return None
