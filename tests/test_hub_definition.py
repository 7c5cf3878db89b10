"""meltano-hub/tap-clevertap-counts.yml: the plugin definition other Meltano projects add the tap
from. It is generated from meltano.yml (one source), valid under Meltano Hub's own schema
(vendored in meltano-hub/schema/), and says what the tap itself says about its settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from tap_clevertap_counts.config.settings import TAP_KEYS
from tap_clevertap_counts.tap import TapClevertapCounts

from .conftest import REPO, about
from .test_packaging import run_script

DEFINITION = REPO / "meltano-hub" / "tap-clevertap-counts.yml"
SCHEMA = REPO / "meltano-hub" / "schema" / "plugin_definitions" / "extractors.schema.json"


def hub_validator() -> Draft7Validator:
    """The Hub's extractor schema, its relative `$ref`s read from the vendored tree."""

    def retrieve(uri: str) -> Resource[Any]:
        path = Path(uri.removeprefix("file://"))
        assert path.is_relative_to(SCHEMA.parent.parent), uri  # never the network
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    schema["$id"] = SCHEMA.as_uri()
    return Draft7Validator(schema, registry=Registry(retrieve=retrieve))  # type: ignore[call-arg]


def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    return loaded


def test_the_definition_is_what_meltano_yml_generates() -> None:
    done = run_script("hub_definition", "--check")
    assert done.returncode == 0, done.stderr  # "... run `make hub` and commit it"


def test_the_definition_is_valid_under_the_hubs_schema() -> None:
    errors = [e.message for e in hub_validator().iter_errors(definition())]
    assert errors == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.pop("quality"), "'quality' is a required property"),
        (lambda d: d.update(homepage="x"), "'homepage' was unexpected"),
        (lambda d: d["settings"][0].update(kind="text"), "'text' is not one of"),
        (lambda d: d["settings"][0].update(secret=True), "'secret' was unexpected"),
    ],
)
def test_the_schema_check_sees_every_part(change: Any, complaint: str) -> None:
    """The vendored schema's references are followed: a mistake in a setting is caught too."""
    broken = definition()
    change(broken)
    messages = [e.message for e in hub_validator().iter_errors(broken)]
    assert any(complaint in m for m in messages), messages


def test_the_definition_says_what_the_tap_says() -> None:
    hub = definition()
    info = about()
    assert hub["name"] == hub["executable"] == "tap-clevertap-counts"
    assert hub["namespace"] == "tap_clevertap_counts"
    assert hub["pip_url"] == "tap-clevertap-counts"  # from PyPI, not a checkout
    assert sorted(hub["capabilities"]) == sorted(info["capabilities"])
    assert hub["supported_python_versions"] == info["supported_python_versions"]
    assert hub["select"] == ["profile_counts.*"]
    for field in ("label", "description", "docs", "repo", "keywords"):
        assert hub[field], field

    settings = {s["name"]: s for s in hub["settings"]}
    assert set(settings) == set(TAP_KEYS)
    schema = TapClevertapCounts.config_jsonschema
    for name, setting in settings.items():
        assert setting["kind"] and setting["description"] and setting["label"], name
        assert setting["sensitive"] is (name == "passcode"), name
        if "default" in schema["properties"][name]:
            assert setting["value"] == schema["properties"][name]["default"], name
        else:
            assert "value" not in setting, name
    assert settings["count_events"]["kind"] == "boolean"
    assert settings["count_events"]["value"] is False
    (required,) = hub["settings_group_validation"]
    assert sorted(required) == sorted(schema["required"])
