"""Which failed `meltano run`s another try cannot fix, read from Meltano's and the tap's lines.

Meltano exits 1 whatever failed, so the output is all there is. The tap ends every failure with
one line, `tap-clevertap-counts: error: <what to do>`, whose wording says its class
(tap_clevertap_counts/errors.py). Permanent, failed once: a block Meltano does not know, an
environment it does not have, the tap's config errors, refused credentials (401), a rejected
query, an api_url that is not CleverTap's. Everything else keeps the retry policy: CleverTap's
bursts of 5xx and 429 that outlast the tap's own retries, a job still computing at
poll_timeout_seconds, a host not reachable yet, a loader's or Meltano's own failure.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

TAP = "tap-clevertap-counts"
TAP_ERROR = f"{TAP}: error: "
LOG_PREFIX = re.compile(r"^\S+Z \[[a-z ]+\] ")  # Meltano's `<time> [level    ] ` before a line

# (class, pattern): Meltano's own refusals, anywhere in a line.
MELTANO_PERMANENT = (
    ("unknown block", re.compile(r"Block .+ not found")),
    ("unknown environment", re.compile(r"Environment '.*' was not found")),
)
# (class, how the tap's error line's message starts, or what it holds), from its own messages.
TAP_PERMANENT = (
    (
        "config error",
        ("Invalid config", "cannot read the --", "the --", "the catalog", "the state"),
    ),
    ("config error", ("stream_maps in the config",)),
    ("refused credentials", ("CleverTap refused the credentials", "account_id or passcode holds")),
    ("query rejected", ("CleverTap rejected", "CleverTap refused the dates")),
)
TAP_PERMANENT_WITHIN = (("not CleverTap's API", "does not answer like CleverTap's counts API"),)
# Meltano's summary lines: never the cause.
GENERIC = ("Extractor failed", "Loader failed", "Block run completed", "Run completed", "Need help")


@dataclasses.dataclass(frozen=True)
class Verdict:
    kind: str  # a permanent class, or "failed" (may pass on a retry)
    permanent: bool
    line: str  # the line that says why: the tap's own where it wrote one


def bare(line: str) -> str:
    return LOG_PREFIX.sub("", line).strip()


def classify(lines: Iterable[str]) -> Verdict:
    """The verdict on one failed run's output lines (all of them, or its errors and tail)."""
    seen = [bare(line) for line in lines if line.strip()]
    for line in reversed(seen):
        at = line.find(TAP_ERROR)
        if at < 0:
            continue
        said = line[at + len(TAP_ERROR) :]
        for kind, starts in TAP_PERMANENT:
            if said.startswith(starts):
                return Verdict(kind, permanent=True, line=line)
        for kind, words in TAP_PERMANENT_WITHIN:
            if words in said:
                return Verdict(kind, permanent=True, line=line)
        return Verdict("failed", permanent=False, line=line)
    for line in reversed(seen):
        for kind, pattern in MELTANO_PERMANENT:
            if pattern.search(line):
                return Verdict(kind, permanent=True, line=line)
    return Verdict("failed", permanent=False, line=cause(seen))


def cause(lines: list[str]) -> str:
    """No line of the tap's: a plugin's last line mentioning an error, else the last line that
    is not one of Meltano's summaries."""
    useful = [line for line in lines if not line.startswith(GENERIC) and "meltano " not in line]
    found = [line for line in useful if "rror" in line]
    if found:
        return found[-1]
    return (useful or lines or ["no output"])[-1]
