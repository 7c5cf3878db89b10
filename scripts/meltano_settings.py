"""`make hub` (first step): write meltano.yml's tap-clevertap-counts settings from the tap's schema.

The schema (tap_clevertap_counts/singer/config_schema.py, what `--about` shows) is the one source of
every setting's label (`title`), default and description; this script adds what only Meltano
needs: the `kind` each JSON type takes in Meltano, `sensitive` for secrets, and the labels of
the region options. Only the extractor's `settings:` list is rewritten, as text, so that the
comments and layout of the rest of meltano.yml stay as they are. `--check` changes nothing and
exits 1 when meltano.yml is stale (tests/test_settings_sources.py runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from tap_clevertap_counts.config.settings import TAP_KEYS
from tap_clevertap_counts.singer.config_schema import CONFIG_SCHEMA

REPO = Path(__file__).resolve().parent.parent
MELTANO_YML = REPO / "meltano.yml"
NAME = "tap-clevertap-counts"
# What Meltano's settings UI shows for each option; the values are the schema's `enum`.
OPTION_LABELS = {
    "region": {
        "eu1": "Europe (default; api.clevertap.com)",
        "global": "Europe (alias of eu1)",
        "in1": "India",
        "sg1": "Singapore",
        "us1": "United States",
        "aps3": "Indonesia",
        "mec1": "UAE",
    }
}


def kind(name: str, prop: dict[str, Any]) -> str:
    """Meltano's kind for a setting of this JSON schema.

    Numbers are `string` on purpose: Meltano 4.4 turns a `kind: decimal` value given through the
    environment (or .env) into a Decimal it cannot serialize, and `meltano run` crashes; the tap
    takes numbers and numeric text alike (tests/e2e/test_meltano_settings.py runs each way).
    """
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    (json_type,) = [t for t in types if t != "null"]
    if "enum" in prop:
        return "options"
    if prop.get("format") == "date":
        return "date_iso8601"
    kinds = {"string": "string", "number": "string", "integer": "integer"}
    kinds |= {"boolean": "boolean", "array": "array"}
    if json_type not in kinds:
        raise SystemExit(f"{name}: no Meltano kind for JSON type {json_type!r}")
    return kinds[json_type]


def setting(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    if not prop.get("title") or not prop.get("description"):
        raise SystemExit(f"{name}: the schema needs a title (the label) and a description")
    out: dict[str, Any] = {"name": name, "kind": kind(name, prop)}
    if "default" in prop:
        out["value"] = prop["default"]
    out["label"] = prop["title"]
    out["description"] = prop["description"]
    if prop.get("secret"):
        out["sensitive"] = True
    if "enum" in prop:
        labels = OPTION_LABELS[name]
        out["options"] = [{"label": labels[value], "value": value} for value in prop["enum"]]
    return out


def settings() -> list[dict[str, Any]]:
    """The tap's own settings in the schema's order (not the SDK's: Meltano passes those on)."""
    props = CONFIG_SCHEMA["properties"]
    return [setting(name, prop) for name, prop in props.items() if name in TAP_KEYS]


class _Folded(str):
    """A description, written as a folded block (`>-`) as a person would."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Folded, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, ">")
)


def _extractor(data: dict[str, Any]) -> dict[str, Any]:
    (tap,) = [p for p in data["plugins"]["extractors"] if p["name"] == NAME]
    return tap  # type: ignore[no-any-return]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def render(text: str) -> str:
    """meltano.yml's text with the extractor's `settings:` list replaced, all else kept."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"  - name: {NAME}\n")
    head = next(n for n in range(start + 1, len(lines)) if lines[n] == "    settings:\n")
    end = head + 1
    while end < len(lines) and (
        not lines[end].strip()
        or _indent(lines[end]) > 4
        or (_indent(lines[end]) == 4 and lines[end][4:].startswith("- "))
    ):
        end += 1
    while not lines[end - 1].strip():  # blank lines after the list stay where they were
        end -= 1
    folded = [{**s, "description": _Folded(s["description"])} for s in settings()]
    dumped = yaml.dump(folded, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=80)
    body = "".join(f"    {line}\n" if line else "\n" for line in dumped.splitlines())
    fresh = "".join(lines[: head + 1]) + body + "".join(lines[end:])
    _same_but_settings(text, fresh)
    return fresh


def _same_but_settings(old: str, new: str) -> None:
    """Refuse to write a meltano.yml that differs anywhere but in the extractor's settings."""
    before, after = yaml.safe_load(old), yaml.safe_load(new)
    popped = [_extractor(data).pop("settings") for data in (before, after)]
    if popped[1] != settings() or before != after:
        raise SystemExit("meltano.yml: could not replace the extractor's settings list alone")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if meltano.yml is stale")
    args = parser.parse_args()
    current = MELTANO_YML.read_text(encoding="utf-8")
    fresh = render(current)
    if fresh == current:
        return 0
    if args.check:
        print(
            f"meltano.yml's {NAME} settings differ from the tap's schema "
            "(tap_clevertap_counts/singer/config_schema.py): run `make hub` and commit meltano.yml",
            file=sys.stderr,
        )
        return 1
    MELTANO_YML.write_text(fresh, encoding="utf-8")
    print(f"meltano.yml: {NAME} settings written from the tap's schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
