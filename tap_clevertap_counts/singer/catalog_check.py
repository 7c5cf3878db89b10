"""What a user's catalog may change of a stream, checked before anything is sent.

A catalog may deselect a stream or its properties, and ask for `FULL_TABLE` (count
everything again). It may not take away what the records and the state rest on: the
replication key (`to_date`, by which every query's bookmark is kept), the key properties a
target upserts on, or the types the tap writes. The SDK would crash midway ("Field 'to_date'
is not in schema"), or worse, send a SCHEMA that contradicts its records. One line instead,
naming the stream and what to put back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL

FIX = 'use the catalog --discover writes, deselecting with "selected": false'


def _types(schema: Mapping[str, Any]) -> tuple[frozenset[str], Any]:
    kind = schema.get("type")
    kinds = frozenset([kind] if isinstance(kind, str) else kind or ())
    return kinds, schema.get("format")


def catalog_problem(
    *,
    discovered: Mapping[str, Any],
    given: Mapping[str, Any],
    replication_key: str | None,
    replication_method: str | None,
    key_properties: Sequence[str],
) -> str | None:
    """Why the catalog's entry (`given` schema, keys, method) cannot be synced, or None.

    `discovered` is the stream's own schema. Deselecting a property (`"selected": false`),
    even `to_date`, is the user's choice and works: the bookmarks come from what was counted,
    not from the record.
    """
    known: Mapping[str, Any] = discovered["properties"]
    properties = given.get("properties")
    if not isinstance(properties, Mapping):
        return f"its schema has no properties; {FIX}"
    for name, schema in properties.items():
        if name not in known:
            return f"it has a property '{name}' the tap does not write; {FIX}"
        if isinstance(schema, Mapping) and _types(schema) != _types(known[name]):
            kinds, form = _types(known[name])
            written = "/".join(sorted(kinds)) + (f" ({form})" if form else "")
            return f"property '{name}' is given another type than the tap writes ({written})"
    if replication_method not in (None, REPLICATION_INCREMENTAL, REPLICATION_FULL_TABLE):
        return (
            f"replication method {replication_method} is not supported: "
            f"{REPLICATION_INCREMENTAL} (the default) or {REPLICATION_FULL_TABLE}"
        )
    if replication_key not in (None, "to_date"):
        return (
            f"its replication key is '{replication_key}', but the tap bookmarks each query "
            "by 'to_date' only"
        )
    needed = {key: "a key property" for key in key_properties} | {"to_date": "the replication key"}
    for name, role in needed.items():
        if name not in known:
            return f"its key property '{name}' is not a field the tap writes; {FIX}"
        if name not in properties:
            return f"it leaves out '{name}', {role}; {FIX}"
    return None


def _entry_problem(entry: Any, streams: Sequence[str]) -> str | None:
    if not isinstance(entry, Mapping):
        return 'an entry of "streams" is not an object'
    name = entry.get("tap_stream_id")
    if not isinstance(name, str):
        return 'an entry of "streams" has no "tap_stream_id" string'
    if name not in streams:
        return f"stream '{name}' is not one of this tap's ({', '.join(streams)})"
    schema = {} if entry.get("schema") is None else entry["schema"]
    if not isinstance(schema, Mapping) or not isinstance(
        schema.get("properties", {}), Mapping | None
    ):
        return f'stream \'{name}\': "schema" is not a JSON schema with a "properties" object'
    keys = entry.get("key_properties") or []
    if not isinstance(keys, list | tuple) or not all(isinstance(key, str) for key in keys):
        return f"stream '{name}': \"key_properties\" is not a list of names"
    if not isinstance(entry.get("replication_key", ""), str | None):
        return f"stream '{name}': \"replication_key\" is not a name"
    metadata = entry.get("metadata") or []
    if not isinstance(metadata, list | tuple) or not all(
        isinstance(item, Mapping)
        and isinstance(item.get("breadcrumb"), list | tuple)
        and isinstance(item.get("metadata"), Mapping)
        for item in metadata
    ):
        return f"stream '{name}': \"metadata\" is not a list of {{breadcrumb, metadata}} objects"
    return None


def shape_problem(catalog: Any, streams: Sequence[str]) -> str | None:
    """Why `catalog` is not a Singer catalog of this tap's `streams`, or None; the SDK would
    stop on it with a KeyError or a TypeError."""
    if not isinstance(catalog, Mapping) or not isinstance(catalog.get("streams"), list | tuple):
        return 'it is not a Singer catalog: an object with a "streams" list'
    for entry in catalog["streams"]:
        if problem := _entry_problem(entry, streams):
            return problem
    return None
