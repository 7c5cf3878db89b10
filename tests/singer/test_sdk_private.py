"""The private singer-sdk members the tap relies on (`singer/sdk_private.py`) are still there.

A singer-sdk release may rename or re-sign any private member without notice; then the tap
would silently stop overriding a hook, or fail mid-sync. Each member `sdk_private.MEMBERS`
lists is looked up in the installed SDK with the signature relied on, and a failure names it.
And no other module of the package touches a private member of the SDK, so that list is all of
them: a scan of their source finds none.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from singer_sdk import Stream, Tap
from singer_sdk.io_base import SingerWriter

from tap_clevertap_counts.singer import sdk_private
from tap_clevertap_counts.singer.messages import ConfirmingStateWriter
from tap_clevertap_counts.singer.sdk_private import MEMBERS, Private, SdkStream, SdkTap
from tap_clevertap_counts.singer.streams import EventCountsStream
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import REPO

PACKAGE = REPO / "tap_clevertap_counts"
HOME = PACKAGE / "singer" / "sdk_private.py"
# The SDK's classes the tap subclasses or writes through: their private members, and the
# members of the classes they derive from within the SDK, are what the scan looks for.
SDK_CLASSES = (Stream, Tap, SingerWriter, sdk_private.StateWriter)


def member_id(member: Private) -> str:
    owner = member.owner
    return f"{getattr(owner, '__qualname__', None) or owner.__name__}.{member.name}"


def bare(signature: inspect.Signature) -> str:
    """A signature without annotations: the parameters' names, kinds and defaults."""
    parameters = [
        p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()
    ]
    return str(signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty))


def defined_in_source(cls: type, name: str) -> bool:
    """Whether a class of `cls`'s MRO within the SDK sets `self.<name>`."""
    pattern = re.compile(rf"\bself\.{re.escape(name)}\b\s*(:[^=\n]*)?=")
    return any(
        base.__module__.startswith("singer_sdk") and pattern.search(inspect.getsource(base))
        for base in cls.__mro__
    )


def problem(member: Private) -> str | None:
    """How the installed SDK differs from what the tap relies on for `member`, if it does."""
    where = member_id(member)
    if member.instance_attribute:
        if not defined_in_source(member.owner, member.name):
            return f"{where}: no longer set by the SDK (the tap relies on it: {member.why})"
        return None
    if not hasattr(member.owner, member.name):
        return f"{where}: gone from the SDK (the tap relies on it: {member.why})"
    value = getattr(member.owner, member.name)
    if member.signature is not None:
        found = bare(inspect.signature(value))
        if found != member.signature:
            return f"{where}: signature {found}, the tap relies on {member.signature}"
    if member.fields:
        names = {field.name for field in dataclasses.fields(value)}
        if missing := sorted(set(member.fields) - names):
            return f"{where}: no field(s) {', '.join(missing)} (the tap relies on them)"
    return None


@pytest.mark.parametrize("member", MEMBERS, ids=member_id)
def test_the_sdk_still_has_the_private_member_as_the_tap_relies_on_it(member: Private) -> None:
    assert problem(member) is None


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(SdkStream, Stream), (SdkTap, Tap)],
    ids=["SdkStream", "SdkTap"],
)
def test_each_override_takes_what_the_sdk_passes(ours: type, theirs: type) -> None:
    """Our override of each private hook accepts exactly the SDK's parameters (mypy's
    `@override` also checks types, but only at `make lint`, not after an upgrade in place)."""
    overridden = [
        name
        for name in vars(ours)
        if name.startswith("_") and callable(getattr(theirs, name, None)) and name[1] != "_"
    ]
    assert overridden, "the hooks are overridden here"
    for name in overridden:
        mine, sdk = inspect.signature(getattr(ours, name)), inspect.signature(getattr(theirs, name))
        assert bare(mine) == bare(sdk), name


def test_a_renamed_or_re_signed_member_is_reported_by_name() -> None:
    class Renamed:  # as if a release renamed `_write_record_message` and changed `_sync_batches`
        def _write_message(self, record: Any) -> None: ...

        def _sync_batches(self, batch_config: Any) -> None: ...

    gone = Private(Renamed, "_write_record_message", "why", signature="(self, record)")
    resigned = Private(
        Renamed, "_sync_batches", "why", signature="(self, batch_config, context=None)"
    )
    unset = Private(Stream, "_no_such_attribute", "why", instance_attribute=True)
    assert "Renamed._write_record_message: gone" in (problem(gone) or "")
    assert "Renamed._sync_batches: signature (self, batch_config)," in (problem(resigned) or "")
    assert "Stream._no_such_attribute: no longer set" in (problem(unset) or "")


# --- no private member of the SDK outside sdk_private.py -----------------------------------


def sdk_private_names() -> set[str]:
    names: set[str] = set()
    for root in SDK_CLASSES:
        for cls in root.__mro__:
            if cls.__module__.startswith("singer_sdk"):
                names |= {n for n in vars(cls) if n.startswith("_") and not n.startswith("__")}
                names |= set(re.findall(r"\bself\.(_[A-Za-z]\w*)", inspect.getsource(cls)))
    return names - {"_abc_impl"}  # Python's abc machinery, not the SDK's


def private_uses(source: str, names: set[str]) -> list[tuple[int, str, str]]:
    """Each use in `source` of a private module or name of the SDK, or of a private member
    (`names`) of its classes: imported, read, set, overridden, or looked up by string; as
    (line, the private name, how)."""
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            module = node.module or ""
            found += [(line, p, f"from {module}") for p in module.split(".") if p[0] == "_"][:1]
            found += [(line, a.name, "import") for a in node.names if a.name[0] == "_"]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                private = [p for p in parts if p[0] == "_"]
                if parts[0] == "singer_sdk" and private:
                    found.append((line, private[0], f"import {alias.name}"))
        elif isinstance(node, ast.Attribute) and node.attr in names:
            found.append((line, node.attr, "attribute"))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                targets: list[ast.expr] = []
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in names:
                    found.append((item.lineno, item.name, "override"))
                elif isinstance(item, ast.Assign):
                    targets = item.targets
                elif isinstance(item, ast.AnnAssign):
                    targets = [item.target]
                found += [
                    (item.lineno, t.id, "class attribute")
                    for t in targets
                    if isinstance(t, ast.Name) and t.id in names
                ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr", "setattr", "delattr"}
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in names
        ):
            found.append((line, str(node.args[1].value), node.func.id))
    return sorted(found)


def sdk_using_modules() -> list[Path]:
    """The modules of the layers that may use singer-sdk (pyproject's import-linter contract
    keeps it out of the others), but for `sdk_private` itself."""
    top = [PACKAGE / name for name in ("__init__.py", "__main__.py", "tap.py", "cli.py")]
    return [path for path in [*top, *sorted((PACKAGE / "singer").glob("*.py"))] if path != HOME]


def test_no_other_module_touches_a_private_member_of_the_sdk() -> None:
    names = sdk_private_names()
    uses = {
        str(path.relative_to(REPO)): found
        for path in sdk_using_modules()
        if (found := private_uses(path.read_text(encoding="utf-8"), names))
    }
    assert uses == {}, "reach these through singer/sdk_private.py, saying why there"


def test_the_scan_finds_every_kind_of_private_use() -> None:
    source = """
import singer_sdk.helpers._state
from singer_sdk.helpers._batch import BatchConfig
from singer_sdk.plugin_base import _ConfigInput
class S(Stream):
    _mask = None
    def _write_record_message(self, record): ...
    def run(self):
        self._tap.write_message(1)
        return hasattr(self, "_streams")
"""
    assert private_uses(source, sdk_private_names()) == [
        (2, "_state", "import singer_sdk.helpers._state"),
        (3, "_batch", "from singer_sdk.helpers._batch"),
        (4, "_ConfigInput", "import"),
        (6, "_mask", "class attribute"),
        (7, "_write_record_message", "override"),
        (9, "_tap", "attribute"),
        (10, "_streams", "hasattr"),
    ]


def test_sdk_private_lists_every_private_member_it_touches_and_no_other() -> None:
    uses = private_uses(HOME.read_text(encoding="utf-8"), sdk_private_names())
    modules = {name for _, name, how in uses if how.startswith(("from ", "import "))}
    listed = {member.name for member in MEMBERS if member.name.startswith("_")}
    assert {name for _, name, _ in uses} - modules == listed
    # the private modules: each one's listed members come from it
    assert {member.owner.__name__.rsplit(".", 1)[-1] for member in MEMBERS} >= modules


# --- the instance attributes do what the tap relies on ---------------------------------------


def test_the_private_attributes_hold_what_the_tap_reads_from_them() -> None:
    tap = TapClevertapCounts(config=None, validate_config=False)
    assert tap.streams_begun
    assert isinstance(tap.state_writer, ConfirmingStateWriter)  # `_state_writer` replaced
    streams = tap.streams
    assert tap.streams_made() == streams  # `_streams`: those `streams` made
    events = streams["event_counts"]
    assert isinstance(events, EventCountsStream)
    assert events.owning_tap is tap
    events.selected = False
    assert events.mask[()] is False  # `_mask` refreshed with the selection
    events.selected = True
    assert events.mask[()] is True
