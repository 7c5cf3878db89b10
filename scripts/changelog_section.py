"""Print one version's section of CHANGELOG.md: the body of its GitHub release.

`python scripts/changelog_section.py 0.2.0` prints what stands under `## [0.2.0] - DATE` up to
the next `## ` heading, without the heading itself. The release workflow passes the tag's
version; a version with no dated section exits 1 with one line, so a tag pushed before its
CHANGELOG entry fails before anything is published.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
DATED = re.compile(r"^## \[(?P<version>[^\]]+)\] - (?P<date>\d{4}-\d{2}-\d{2})\s*$")


def section(text: str, version: str) -> str | None:
    """The body under `## [version] - DATE`, stripped; None when there is no such heading."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        found = DATED.match(line)
        if found and found["version"] == version:
            end = next(
                (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                len(lines),
            )
            return "\n".join(lines[start + 1 : end]).strip()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="e.g. 0.2.0 (a leading v, as in a tag, is dropped)")
    parser.add_argument("--changelog", type=Path, default=CHANGELOG)
    args = parser.parse_args(argv)
    version = args.version.removeprefix("v")
    body = section(args.changelog.read_text(encoding="utf-8"), version)
    if not body:
        print(
            f"{args.changelog.name} has no dated section '## [{version}] - YYYY-MM-DD' with "
            "entries: add it before tagging the release",
            file=sys.stderr,
        )
        return 1
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
