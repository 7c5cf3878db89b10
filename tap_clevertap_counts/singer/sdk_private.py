"""Every private singer-sdk member the tap touches, in one place, each with why.

For: whoever upgrades singer-sdk. Its public hooks do not reach what the tap must control (a
RECORD and its bookmark as one step, a STATE after records, batch files announced before
bookmarks move, signals that never cut a message), and a private member may change in any
release. So all of them are here: private helpers re-exported, methods calling private ones, and
`SdkStream`/`SdkTap`, whose override of each private hook hands it to a public-named method
(by default the SDK's own). `tests/singer/test_sdk_private.py` checks `MEMBERS` against the
installed SDK, naming any member changed, and that no other module touches a private member.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from types import FrameType
from typing import Any

from singer_sdk import Stream, Tap, plugin_base
from singer_sdk.helpers import _batch, _catalog, _state, types
from singer_sdk.helpers._batch import BatchConfig
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk.helpers._state import StateWriter
from singer_sdk.plugin_base import _ConfigInput
from typing_extensions import override

ConfigInput = _ConfigInput

__all__ = [
    "MEMBERS",
    "BatchConfig",
    "ConfigInput",
    "Private",
    "SdkStream",
    "SdkTap",
    "StateWriter",
    "get_selected_schema",
]


@dataclasses.dataclass(frozen=True)
class Private:
    """One private member of singer-sdk the tap relies on, and how."""

    owner: Any  # the SDK's class or module holding it
    name: str
    why: str  # what the tap needs it for, and what breaks without it
    signature: str | None = None  # a callable: its parameters, without annotations
    fields: tuple[str, ...] = ()  # a dataclass: the fields the tap reads or sets
    instance_attribute: bool = False  # set by the owner's methods (`self.<name>`)


def _hook(name: str, signature: str, why: str) -> Private:
    return Private(Stream, name, why, signature=signature)


MEMBERS: tuple[Private, ...] = (
    # --- private helpers, re-exported above -------------------------------------------------
    Private(
        _state,
        "StateWriter",
        "The tap's STATE writer (`messages.ConfirmingStateWriter`) subclasses it: the SDK's "
        "skips a STATE equal to the last, and a target confirms records only with a STATE "
        "after them, so a lookback re-count's records would stay unconfirmed.",
        signature="(message_writer)",
    ),
    Private(
        StateWriter,
        "write_state",
        "Overridden by `ConfirmingStateWriter`; the SDK's streams and tap write STATE through it.",
        signature="(self, state)",
    ),
    Private(
        _batch,
        "BatchConfig",
        "What the SDK hands `_sync_batches`: the tap writes its own batch files of "
        "`batch_size` records in `encoding`, announced before their bookmarks move "
        "(`delivery`); without it BATCH mode could not be configured.",
        fields=("encoding", "batch_size"),
    ),
    Private(
        _catalog,
        "get_selected_schema",
        "`SingerTap.setup_mapper`: a stream's schema minus the properties a catalog "
        "deselects, exactly as the SDK computes it for its mapper; without it the tap would "
        "copy the SDK's selection rules.",
        signature="(stream_name, schema, mask)",
    ),
    Private(
        plugin_base,
        "_ConfigInput",
        "`SingerTap.cb_test`: what the SDK's CLI stores as the `config` parameter (the "
        "config files and whether to read the environment); `--test` builds its tap from it.",
        fields=("config", "parse_env"),
    ),
    # --- the tap ----------------------------------------------------------------------------
    Private(
        Tap,
        "_setup_signal_handlers",
        "Overridden (`SdkTap.setup_signal_handlers`): a tap built inside another process "
        "must leave the host's SIGINT/SIGTERM handlers alone (`signals`).",
        signature="(self)",
    ),
    Private(
        Tap,
        "_handle_termination",
        "Overridden (`SdkTap.handle_termination`): a signal must not cut a message in two, "
        "must announce what BATCH streams read, and must exit 128 + signal, not 0.",
        signature="(self, signum, frame)",
    ),
    Private(
        Tap,
        "_validate_config",
        "Overridden (`SdkTap.check_config`): the tap's keys are checked by `parse_settings`, "
        "which names keys and never quotes a value (a passcode), not by the JSON schema.",
        signature="(self, *, raise_errors=True)",
    ),
    Private(
        Tap,
        "_reset_state_progress_markers",
        "Called by `SingerTap.sync_all`: clears the progress markers a killed run left.",
        signature="(self)",
    ),
    Private(
        Tap,
        "_set_compatible_replication_methods",
        "Called by `SingerTap.sync_all`, which keeps every step of the SDK's around the syncs.",
        signature="(self)",
    ),
    Private(
        Tap,
        "_state_writer",
        "The writer `Tap.state_writer` returns and the SDK's streams write STATE through: "
        "replaced by a `ConfirmingStateWriter` (`SdkTap.replace_state_writer`).",
        instance_attribute=True,
    ),
    Private(
        Tap,
        "_streams",
        "The streams made so far, read in a signal handler without making them (`streams` "
        "would run discovery there); absent while `Tap.__init__` runs, when nothing was sent.",
        instance_attribute=True,
    ),
    # --- the streams ------------------------------------------------------------------------
    _hook(
        "_write_record_message",
        "(self, record)",
        "Overridden (`SdkStream.write_record_message`) to hold a RECORD until its bookmark "
        "moves, and called to write it then: a signal between the two wrote a STATE a period "
        "behind the last record, and a resumed run sent that record again.",
    ),
    _hook(
        "_increment_stream_state",
        "(self, latest_record, *, context=None)",
        "Overridden (`SdkStream.increment_stream_state`): the record and its bookmark as one "
        "guarded step, bookmarks that only move forward (a lookback re-count), STATE paced.",
    ),
    _hook(
        "_sync_records",
        "(self, context=None, *, write_messages=True)",
        "Overridden (`SdkStream.sync_records`): `sync_steps` takes the record loop `sync` "
        "sets up and runs it one record at a time, to interleave the streams.",
    ),
    _hook(
        "_sync_batches",
        "(self, batch_config, context=None)",
        "Overridden (`SdkStream.sync_batches`): the SDK's moves bookmarks past records in no "
        "announced batch file yet, lost when a run is stopped.",
    ),
    _hook(
        "_write_state_message",
        "(self)",
        "Called (`SdkStream.write_state_message`) to write STATE at the tap's pace (every "
        "partition's worth of records, or every 2 minutes) instead of the SDK's.",
    ),
    _hook(
        "_write_batch_message",
        "(self, encoding, manifest)",
        "Called (`SdkStream.write_batch_message`) to announce a batch file the tap wrote.",
    ),
    Private(
        Stream,
        "_tap",
        "The stream's tap (`SdkStream.owning_tap`): its message writer is shared by every "
        "stream, and so is the pace of STATE it keeps.",
        instance_attribute=True,
    ),
    Private(
        Stream,
        "_mask",
        "The selection `Stream.mask` caches; `event_counts` overrides `selected` (opt-in) and "
        "so re-implements its setter, which must refresh it (`SdkStream.refresh_mask`).",
        instance_attribute=True,
    ),
)


class SdkStream(Stream):
    """The SDK's `Stream`, whose private hooks the tap uses reached by public names.

    For each overridden hook `_x`, the SDK's call lands in `x`, whose default is the SDK's
    `_x`: a subclass overrides `x` and calls `super().x(...)` for the SDK's behaviour.
    """

    @property
    def owning_tap(self) -> Tap:
        return self._tap

    def refresh_mask(self) -> None:
        """After `metadata` changed its selection, as the SDK's `selected` setter does."""
        self._mask = self.metadata.resolve_selection()

    def write_state_message(self) -> None:
        self._write_state_message()

    def write_batch_message(self, encoding: Any, manifest: list[str]) -> None:
        self._write_batch_message(encoding=encoding, manifest=manifest)

    @override
    def _write_record_message(self, record: types.Record) -> None:
        self.write_record_message(record)

    def write_record_message(self, record: types.Record) -> None:
        super()._write_record_message(record)

    @override
    def _increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        self.increment_stream_state(latest_record, context=context)

    def increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        super()._increment_stream_state(latest_record, context=context)

    @override
    def _sync_records(
        self, context: types.Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        return self.sync_records(context, write_messages=write_messages)

    def sync_records(
        self, context: types.Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        return super()._sync_records(context, write_messages=write_messages)

    @override
    def _sync_batches(
        self, batch_config: BatchConfig, context: types.Context | None = None
    ) -> None:
        self.sync_batches(batch_config, context)

    def sync_batches(self, batch_config: BatchConfig, context: types.Context | None = None) -> None:
        super()._sync_batches(batch_config, context)


class SdkTap(Tap):
    """The SDK's `Tap`, whose private hooks the tap uses reached by public names (as in
    `SdkStream`: the SDK's `_x` lands in `x`, whose default is the SDK's `_x`)."""

    def reset_state_progress_markers(self) -> None:
        self._reset_state_progress_markers()

    def set_compatible_replication_methods(self) -> None:
        self._set_compatible_replication_methods()

    def replace_state_writer(self, writer: StateWriter) -> None:
        """Make `writer` the one `state_writer` returns, which the SDK's streams use too."""
        self._state_writer = writer

    @property
    def streams_begun(self) -> bool:
        """Whether `Tap.__init__` has reached its streams (before that nothing was sent)."""
        return hasattr(self, "_streams")

    def streams_made(self) -> dict[str, Stream]:
        """The streams made so far, without making them (`streams` would discover them)."""
        return getattr(self, "_streams", None) or {}

    @override
    def _setup_signal_handlers(self) -> None:
        self.setup_signal_handlers()

    def setup_signal_handlers(self) -> None:
        super()._setup_signal_handlers()

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.handle_termination(signum, frame)

    def handle_termination(self, signum: int, frame: FrameType | None) -> None:
        super()._handle_termination(signum, frame)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        return self.check_config(raise_errors=raise_errors)

    def check_config(self, *, raise_errors: bool = True) -> list[str]:
        return super()._validate_config(raise_errors=raise_errors)
