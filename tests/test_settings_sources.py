"""Every description of the settings says what the tap's schema says.

The schema (tap_clevertap_counts/singer/config_schema.py, what `--about` shows) is their one source;
meltano.yml's extractor, the Meltano Hub definition, the README's Configuration tables and its
`--about` section are generated from it (`make hub`, `make readme`). Here each of them is read as
a user or Meltano reads it and compared with the schema, setting by setting: present everywhere,
the same description word for word, the same default, a Meltano kind that fits the JSON type, the
label, secrecy and requiredness. Any two copies that disagree disagree with the schema, so the
check fails on them; a second test changes one copy at a time to show that it does.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tap_clevertap_counts.config.settings import TAP_KEYS
from tap_clevertap_counts.singer.config_schema import CONFIG_SCHEMA

from .conftest import CONTRACT_SETTINGS, REPO
from .test_packaging import run_script

TAP = "tap-clevertap-counts"
# Meltano's kind for each JSON type. Numbers are `string`: Meltano 4.4 crashes on a `decimal`
# given through the environment (tests/e2e/test_meltano_settings.py runs every way).
KINDS = {"string": "string", "number": "string", "integer": "integer", "boolean": "boolean"}
KINDS |= {"array": "array"}

Sources = dict[str, Any]  # "meltano", "hub": their settings lists; "readme": the README's text


def read_sources() -> Sources:
    meltano = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = [p for p in meltano["plugins"]["extractors"] if p["name"] == TAP]
    hub = yaml.safe_load((REPO / "meltano-hub" / f"{TAP}.yml").read_text(encoding="utf-8"))
    return {
        "meltano": tap["settings"],
        "hub": hub["settings"],
        "readme": (REPO / "README.md").read_text(encoding="utf-8"),
    }


def _between(text: str, begin: str, end: str) -> str:
    (found,) = re.findall(re.escape(begin) + r"[^\n]*\n(.*?)" + re.escape(end), text, re.DOTALL)
    return str(found)


def _cells(line: str) -> list[str]:
    """A markdown table row's cells, as a reader sees them (escapes and entities undone)."""
    raw = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [html.unescape(c.strip().replace("\\|", "|").replace("\\*", "*")) for c in raw]


def readme_tables(readme: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The Configuration section's two tables: key -> [type, default, meaning]."""
    section = _between(readme, "<!-- settings:begin", "<!-- settings:end -->")
    settings_part, _, queries_part = section.partition("Each element of `queries`")

    def rows(part: str) -> dict[str, list[str]]:
        found = [_cells(line) for line in part.splitlines() if line.startswith("| `")]
        return {key.strip("`"): rest for key, *rest in found}

    return rows(settings_part), rows(queries_part)


def readme_about(readme: str) -> dict[str, list[str]]:
    """The `--about` section's settings table: name -> [required, default, description]."""
    section = _between(readme, "<!-- about:begin", "<!-- about:end -->")
    table = section.partition("| Setting |")[2].partition("\n\n")[0]
    found = [_cells(line) for line in table.splitlines()[2:]]
    return {name: rest for name, *rest in found}


def disagreements(sources: Sources) -> list[str]:
    """What any copy says of a setting that the schema does not."""
    props = {n: p for n, p in CONFIG_SCHEMA["properties"].items() if n in TAP_KEYS}
    required = set(CONFIG_SCHEMA["required"])
    meltano = {s["name"]: s for s in sources["meltano"]}
    hub = {s["name"]: s for s in sources["hub"]}
    table, query_table = readme_tables(sources["readme"])
    about = readme_about(sources["readme"])
    found = [
        f"{where} lists {sorted(names)}, the schema {sorted(props)}"
        for where, names in (
            ("meltano.yml", set(meltano)),
            ("the Hub definition", set(hub)),
            ("the README's table", set(table)),
            ("the README's --about", set(about) & TAP_KEYS),
        )
        if names != set(props)
    ]
    for name, prop in props.items():
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        (json_type,) = set(types) - {"null"}
        kind = KINDS[json_type]
        kind = "date_iso8601" if prop.get("format") == "date" else kind
        kind = "options" if "enum" in prop else kind
        for where, setting in (("meltano.yml", meltano.get(name)), ("Hub", hub.get(name))):
            if setting is None:
                continue
            said = {
                "description": setting.get("description"),
                "label": setting.get("label"),
                "default": setting.get("value"),
                "kind": setting.get("kind"),
                "sensitive": bool(setting.get("sensitive")),
                "options": [o["value"] for o in setting.get("options", [])] or None,
            }
            truth = {
                "description": prop["description"],
                "label": prop.get("title"),
                "default": prop.get("default"),
                "kind": kind,
                "sensitive": bool(prop.get("secret")),
                "options": prop.get("enum"),
            }
            found += [
                f"{where}: {name}'s {key} is {said[key]!r}, the schema's {truth[key]!r}"
                for key in truth
                if said[key] != truth[key]
            ]
        if name in table:
            type_cell, default_cell, meaning = table[name]
            shown = prop["default"] if isinstance(prop.get("default"), str) else None
            default = f"`{shown or json.dumps(prop['default'])}`" if "default" in prop else ""
            if meaning != prop["description"]:
                found.append(f"the README's table: {name}'s description is {meaning!r}")
            if default_cell != default:
                found.append(f"the README's table: {name}'s default is {default_cell!r}")
            if ("required" in type_cell) != (name in required):
                found.append(f"the README's table: {name} required is {type_cell!r}")
            if ("secret" in type_cell) != bool(prop.get("secret")):
                found.append(f"the README's table: {name} secret is {type_cell!r}")
        if name in about:
            is_required, default_cell, description = about[name]
            if description != prop["description"]:
                found.append(f"the README's --about: {name}'s description is {description!r}")
            if default_cell != str(prop.get("default")) or is_required != str(name in required):
                found.append(f"the README's --about: {name}'s default or required is wrong")
    query = CONFIG_SCHEMA["properties"]["queries"]["items"]["properties"]
    if {k: row[2] for k, row in query_table.items()} != {
        k: p["description"] for k, p in query.items()
    }:
        found.append(f"the README's query table says {query_table}")
    return found


def test_every_copy_of_the_settings_says_what_the_schema_says() -> None:
    assert set(TAP_KEYS) == CONTRACT_SETTINGS
    assert disagreements(read_sources()) == []


def _set(where: str, name: str, **values: Any) -> Callable[[Sources], None]:
    def change(sources: Sources) -> None:
        (setting,) = [s for s in sources[where] if s["name"] == name]
        setting.update(values)

    return change


def _drop(where: str, name: str) -> Callable[[Sources], None]:
    def change(sources: Sources) -> None:
        sources[where] = [s for s in sources[where] if s["name"] != name]

    return change


def _readme(old: str, new: str) -> Callable[[Sources], None]:
    def change(sources: Sources) -> None:
        assert old in sources["readme"], old
        sources["readme"] = sources["readme"].replace(old, new, 1)

    return change


COUNT_EVENTS = CONFIG_SCHEMA["properties"]["count_events"]["description"]
TRENDS = CONFIG_SCHEMA["properties"]["backfill_with_trends"]["description"]


# Each change to one copy, and the start of the complaint it must draw.
CHANGES: list[tuple[str, Callable[[Sources], None]]] = [
    (
        "meltano.yml: backfill_with_trends's description",
        _set("meltano", "backfill_with_trends", description="first and latest day"),
    ),
    ("Hub: count_events's description", _set("hub", "count_events", description="events")),
    ("meltano.yml lists", _drop("meltano", "count_events")),
    ("the Hub definition lists", _drop("hub", "busy_timeout_seconds")),
    ("meltano.yml: account_id's label", _set("meltano", "account_id", label="Account")),
    ("Hub: account_id's sensitive", _set("hub", "account_id", sensitive=True)),
    ("meltano.yml: passcode's sensitive", _set("meltano", "passcode", sensitive=False)),
    ("meltano.yml: lookback_days's default", _set("meltano", "lookback_days", value=7)),
    ("Hub: poll_interval_seconds's kind", _set("hub", "poll_interval_seconds", kind="decimal")),
    ("meltano.yml: region's options", _set("meltano", "region", options=[{"value": "eu1"}])),
    (
        "the README's table lists",
        _readme(f"| `count_events` | boolean | `false` | {COUNT_EVENTS} |\n", ""),
    ),
    (
        "the README's table: backfill_with_trends's description",
        _readme(f"| {TRENDS} |", "| 7 sampled days |"),
    ),
    (
        "the README's table: lookback_days's default",
        _readme(
            "| `lookback_days` | integer, ≥ 0 | `0` |", "| `lookback_days` | integer, ≥ 0 | `1` |"
        ),
    ),
    (
        "the README's --about: passcode's default or required",
        _readme("| passcode | True |", "| passcode | False |"),
    ),
    (
        "the README's --about: count_events's description",
        _readme(f"| {COUNT_EVENTS} |\n| busy", "| events |\n| busy"),
    ),
    (
        "the README's --about lists",
        _readme(f"| count_events | False | False | {COUNT_EVENTS} |\n", ""),
    ),
    (
        "the README's query table",
        _readme("| `granularity` | string | `day` | The", "| `granularity` | string | `day` | A"),
    ),
]


@pytest.mark.parametrize(("complaint", "change"), CHANGES, ids=[c for c, _ in CHANGES])
def test_a_copy_that_says_something_else_is_caught(
    complaint: str, change: Callable[[Sources], None]
) -> None:
    sources = copy.deepcopy(read_sources())
    change(sources)
    found = disagreements(sources)
    assert any(line.startswith(complaint) for line in found), found


def test_meltano_yml_is_what_the_schema_generates() -> None:
    done = run_script("meltano_settings", "--check")
    assert done.returncode == 0, done.stderr  # "... run `make hub` and commit meltano.yml"


def test_env_example_names_every_setting() -> None:
    """.env.example (docs/real-account.md: "every TAP_CLEVERTAP_COUNTS_* variable") names them all
    and nothing else: Meltano ignores a variable of no declared setting, so a misspelt one there
    would be copied into `.env` and do nothing, silently."""
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?TAP_CLEVERTAP_COUNTS_([A-Z_]+)=", text, re.MULTILINE))
    assert named == {name.upper() for name in TAP_KEYS}


def test_descriptions_are_plain_text_the_sdks_markdown_table_can_hold() -> None:
    """`--about --format=markdown` puts each description in a table cell as it is."""
    for name, prop in CONFIG_SCHEMA["properties"].items():
        if name in TAP_KEYS:
            assert not set(prop["description"]) & set("|<>*`\n"), name
            assert prop.get("title"), f"{name}: the schema's title is Meltano's label"
