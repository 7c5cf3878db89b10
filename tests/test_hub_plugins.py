"""meltano-hub/target-duckdb.yml and meltano-hub/dbt-duckdb.yml: the loader and dbt utility a
user's own project adds beside the tap (docs/own-meltano-project.md), generated from meltano.yml
with the packages pinned exactly (tests/test_hub_definition.py checks they are not stale).

Meltano Hub's own loader and utility schemas are not vendored here: each is checked against the
vendored parts every plugin type shares (common.schema.json with its settings, hub_metadata),
with no property beyond those. The pins and the defaults that must meet are checked directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from .conftest import REPO

HUB = REPO / "meltano-hub"
SCHEMAS = HUB / "schema"


def shared_validator() -> Draft7Validator:
    """Every plugin type's shared Hub schema, closed: the properties it and hub_metadata name."""

    def load(path: Path) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def retrieve(uri: str) -> Resource[Any]:
        path = Path(uri.removeprefix("file://"))
        assert path.is_relative_to(SCHEMAS), uri  # never the network
        return Resource.from_contents(load(path))

    common = load(SCHEMAS / "common" / "common.schema.json")
    metadata = load(SCHEMAS / "plugin_definitions" / "hub_metadata.schema.json")
    names = {*common["properties"], *metadata["properties"]}
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": (SCHEMAS / "plugin_definitions" / "shared.schema.json").as_uri(),
        "type": "object",
        "allOf": [
            {"$ref": "../common/common.schema.json"},
            {"$ref": "hub_metadata.schema.json"},
            {
                "additionalProperties": False,
                "properties": {name: {} for name in names},
                "required": ["quality"],
            },
        ],
    }
    return Draft7Validator(schema, registry=Registry(retrieve=retrieve))  # type: ignore[call-arg]


def definition(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((HUB / f"{name}.yml").read_text(encoding="utf-8"))
    return loaded


def pins(constraints: str) -> dict[str, str]:
    text = (REPO / "constraints" / constraints).read_text(encoding="utf-8")
    return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, re.M)}


@pytest.mark.parametrize("name", ["target-duckdb", "dbt-duckdb"])
def test_the_definition_is_valid_under_the_hubs_shared_schema(name: str) -> None:
    assert [e.message for e in shared_validator().iter_errors(definition(name))] == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.pop("quality"), "'quality' is a required property"),
        (lambda d: d.update(config={}), "'config' was unexpected"),
        (lambda d: d["settings"][0].update(kind="text"), "'text' is not one of"),
    ],
)
def test_the_shared_schema_sees_every_part(
    change: Callable[[dict[str, Any]], object], complaint: str
) -> None:
    broken = definition("target-duckdb")
    change(broken)
    messages = [e.message for e in shared_validator().iter_errors(broken)]
    assert any(complaint in m for m in messages), messages


def test_each_package_is_pinned_as_the_repository_tests_it() -> None:
    loader, dbt = definition("target-duckdb"), definition("dbt-duckdb")
    # target-duckdb 0.8.0 with duckdb 1.2.2 (a newer duckdb drops a row); dbt at the utility's
    # constraints; no `--constraint=` file, which another project does not have.
    for plugin, constraints in ((loader, "target-duckdb.txt"), (dbt, "dbt-duckdb.txt")):
        words = plugin["pip_url"].split()
        assert all("==" in w and not w.startswith("-") for w in words), words
        locked = pins(constraints)
        assert {w.split("==")[0].lower(): w.split("==")[1] for w in words}.items() <= (
            locked.items()
        )
    assert "duckdb==1.2.2" in loader["pip_url"].split()
    assert {w.split("==")[0] for w in dbt["pip_url"].split()} == {
        "dbt-core",
        "dbt-duckdb",
        "duckdb",
    }


def test_the_loader_and_dbt_meet_in_one_file_and_schema_by_default() -> None:
    loader = {s["name"]: s.get("value") for s in definition("target-duckdb")["settings"]}
    dbt = definition("dbt-duckdb")
    settings = {s["name"]: s.get("value") for s in dbt["settings"]}
    assert settings["path"] == loader["filepath"]
    assert settings["source_schema"] == loader["default_target_schema"]
    assert dbt["executable"] == "dbt"
    assert {"deps", "run", "test", "build"} <= set(dbt["commands"])
    assert dbt["commands"]["deps"]["args"] == "deps"
