"""`SingerTap`: the SDK's `Tap`, with the Singer message stream kept trustworthy to the end.

What a target sees is the contract here: every record or batch followed by a STATE that covers
no more than what went out (`messages`, `streams`), a signal ending the run with what was read
announced and a final STATE, and no SCHEMA that disagrees with its records. The tap's own
settings and streams are in `tap.py`.
"""

from __future__ import annotations

import copy
import functools
import signal
from types import FrameType
from typing import Any, ClassVar

import click
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_clevertap_counts.config.settings import Settings
from tap_clevertap_counts.errors import ConfigError
from tap_clevertap_counts.running.run import Run

from . import interleave, signals
from .catalog_check import shape_problem
from .delivery import DeliveringStream
from .messages import ConfirmingStateWriter, GuardedWriter, guarded_writer
from .sdk_private import ConfigInput, SdkTap, get_selected_schema


class SingerTap(SdkTap):
    """What every stream of the tap shares at the Singer level: writing, stopping, testing."""

    message_writer_class = GuardedWriter

    _terminating = False

    known_streams: ClassVar[tuple[str, ...]] = ()  # what a catalog may name

    # What the streams ask of their tap (`tap.py` answers), declared here so that `streams`
    # needs no import of `tap` (which imports the streams).
    @property
    def settings(self) -> Settings:
        raise NotImplementedError

    def counting_run(self, stream: str, query: str) -> Run:
        raise NotImplementedError

    def __init__(self, **kwargs: Any) -> None:
        catalog = kwargs.get("catalog")
        if isinstance(catalog, dict) and (problem := shape_problem(catalog, self.known_streams)):
            raise ConfigError(f"the catalog: {problem}")
        super().__init__(**kwargs)
        # a STATE after the last record even when no bookmark moved (see `messages`)
        self.replace_state_writer(ConfirmingStateWriter(guarded_writer(self.message_writer)))

    @override  # type: ignore[misc]  # the SDK's `sync_all` is final by typing only
    def sync_all(self) -> None:
        """The SDK's, except that the selected streams are synced together, each record out
        as soon as it is counted, rather than one stream after the other (`interleave`).
        Its steps before and after the streams' syncs are the SDK's own, in the same order."""
        self.reset_state_progress_markers()
        self.set_compatible_replication_methods()
        if self.state:
            self.state_writer.write_state(self.state)
        delivering: list[DeliveringStream] = []
        for stream in self.streams.values():
            if not stream.selected and not stream.has_selected_descendents:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
            elif isinstance(stream, DeliveringStream) and not stream.parent_stream_type:
                delivering.append(stream)
        interleave.sync_streams(
            delivering,
            self.count_waiter(delivering),
            guarded_writer(self.message_writer),
            lambda: self.state_writer.write_state(self.state),
        )
        for stream in self.streams.values():
            stream.log_sync_costs()

    def count_waiter(self, streams: list[DeliveringStream]) -> interleave.Waiter:
        """What says whether each of `streams` has a record ready (the tap's counting run)."""
        return interleave.NeverWaits()

    @override
    def setup_signal_handlers(self) -> None:
        """Only in the tap's own command: a tap built in a host process leaves the host's
        signals alone (`signals` says why)."""
        if signals.in_command():
            super().setup_signal_handlers()

    @override
    def handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Announce what is read, write the state, and exit 128 + signal, not 0.

        A run stopped by SIGTERM or SIGINT did not finish: an orchestrator that timed it out
        must not see success. In BATCH mode the records read but in no announced file yet go
        out in one last batch first, so the final STATE covers them. A signal arriving in the
        middle of a message or a batch is handled once that is written (see `messages`).
        """
        if self._terminating:
            return
        writer = getattr(self, "message_writer", None)
        if not isinstance(writer, GuardedWriter) or not self.streams_begun:
            raise SystemExit(128 + signum)  # still being built: nothing was sent
        if writer.guard.busy:
            writer.guard.hold(functools.partial(self._terminate, signum))
            return
        self._terminate(signum)

    def _terminate(self, signum: int) -> None:
        self._terminating = True
        for stream in self.streams_made().values():
            if isinstance(stream, DeliveringStream):
                stream.announce_batch()
        self.state_writer.write_state(self.state)
        self.logger.info(
            "Gracefully shutting down (%s): the last STATE covers every record sent",
            signal.Signals(signum).name,
        )
        raise SystemExit(128 + signum)

    # `--help` above the options: the SDK's own line ("Execute the Singer tap.") leaves a user
    # with a config to write and no word of where its keys are described.
    HELP = (
        "Count CleverTap profiles (and events, opted in) per query and period, as a Singer "
        "tap.\n\nThe config keys, their types and defaults: `tap-clevertap-counts --about` "
        "(`--about --format=markdown` for a table), explained in the README's Configuration "
        "section:\n\n\b\nhttps://github.com/clevertap-counts/tap-clevertap-counts#configuration"
    )

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.help = cls.HELP
        return command

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`: count one period of the streams a sync of this config runs, and exit.

        The SDK's `--test` forces every stream on, the opt-in `event_counts` too: it sent a
        SCHEMA (with no properties) for a stream no sync of this config would touch, and
        planned counts for it. `--test` reads no catalog, so it cannot see a user's opt-in:
        it tests the streams selected by default (`profile_counts`), one count in all
        (`run.plan_run`). `--test=schema` still prints every stream's SCHEMA, whole.
        """
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config: ConfigInput = ctx.params.get("config", ConfigInput())
        tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True)
        tap.run_sync_dry_run(
            dry_run_record_limit=1,
            streams=[stream for stream in tap.streams.values() if stream.selected],
        )
        ctx.exit()

    @override
    def setup_mapper(self) -> None:
        """Map each stream's properties as if it were selected, whether it is yet or not.

        The SDK's mapper takes each stream's selected properties once, at start, and a stream
        off then has none. The SDK's `--test` and standard tests force every stream on
        afterwards, the opt-in `event_counts` too, which then sent a SCHEMA with no properties
        and records that did not match it. Properties a catalog deselects stay out.
        """
        super().setup_mapper()
        for entry in self.catalog.streams:
            metadata = copy.deepcopy(entry.metadata)
            metadata.root.selected = True
            name = entry.stream or entry.tap_stream_id
            schema = get_selected_schema(name, entry.schema.to_dict(), metadata.resolve_selection())
            self.mapper.register_raw_stream_schema(name, schema, entry.key_properties)
