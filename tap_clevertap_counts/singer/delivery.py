"""How a stream's records and bookmarks go out: STATE at a pace linear in the work, and in
BATCH mode, bookmarks that wait for the batch file holding their records to be announced.

A killed run counts again at most what its last STATE did not cover (docs/state.md bounds it:
a STATE's worth of records, plus per stream the answers its pool may hold ahead of its records,
`running.run.run_ahead`, plus in BATCH mode a file not yet full), so STATE should go out often; but
each STATE is the whole state, a partition per query, so a STATE after every record
costs bytes per record in proportion to the number of queries. STATE therefore goes out once
as many records as the state has partitions are out (at least `STATE_EVERY_RECORDS`): bytes per
record stay flat whatever the number of queries. When answers are slow (CleverTap's 30 s
polls, 3 jobs at a time: about 6 records a minute) that can take long, so a STATE also goes out
once `STATE_EVERY_SECONDS` (2 minutes) have passed since the last (at the next record, or,
while every stream waits, from `interleave`): no record waits longer for its STATE, and a slow
run writes at most one STATE per 2 minutes, however many queries. The count and the
clock are the tap's, not a stream's (`GuardedWriter.since_state`, `state_time`): each STATE is
the whole state, so records of both streams count towards the next one. Every sync that sent a
record still ends with a STATE after it.

A RECORD and its bookmark go out as one guarded step (`messages.Guard`), so the final STATE a
signal writes covers every record written.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterator
from typing import Any

from singer_sdk import metrics
from singer_sdk.batch import Batcher
from singer_sdk.helpers import types
from typing_extensions import override

from . import messages
from .messages import GuardedWriter, guarded_writer
from .sdk_private import BatchConfig, SdkStream

STATE_EVERY_RECORDS = 10  # at least; more when the state itself is larger (many queries)
# Slow answers (CleverTap's 30 s polls): a STATE at least this often while records flow, so a
# kill costs at most this much counting again. Minutes, not seconds: each STATE is the whole
# state (a partition per query), and a STATE every few seconds would cost more bytes per record
# the more queries there are.
STATE_EVERY_SECONDS = 120.0


def iter_nothing() -> Generator[dict[str, Any], Any, None]:
    """An empty record loop: what `sync` runs when its real one was taken (`sync_steps`)."""
    yield from ()


def state_overdue(writer: GuardedWriter) -> bool:
    """Whether `STATE_EVERY_SECONDS` have passed since the last STATE went out."""
    return messages.clock() - writer.state_time >= STATE_EVERY_SECONDS


class DeliveringStream(SdkStream):
    """A stream whose subclass says which period a record is (`_period`) and how a period
    moves its bookmark (`_advance`); this class says when: with the RECORD itself, after the
    announcement for a BATCH, with STATE paced across every stream of the tap."""

    def __init__(self, tap: Any) -> None:
        super().__init__(tap)
        # RECORD mode: the record the SDK asked to write, written with its bookmark
        self._unwritten: types.Record | None = None
        # BATCH mode: records read but in no announced batch file yet, with their periods
        self._batch_config: BatchConfig | None = None
        self._batch_counter: metrics.Counter | None = None
        self._unannounced: list[tuple[types.Record, str, str]] = []
        # `sync_steps`: the record loop `sync` set up, taken rather than run
        self._capturing = False
        self._steps: Iterator[Any] | None = None

    def _period(self, context: types.Context | None) -> tuple[str, str] | None:
        """(query, to_date) of the record just read in partition `context`, if it has one."""
        raise NotImplementedError

    def _advance(self, name: str, to_date: str) -> None:
        """Move query `name`'s bookmark to `to_date` (never back)."""
        raise NotImplementedError

    @property
    def _writer(self) -> GuardedWriter:
        return guarded_writer(self.owning_tap.message_writer)

    # --- RECORD mode: a record and its bookmark in one step ----------------------------------

    @override
    def write_record_message(self, record: types.Record) -> None:
        """Held until `increment_stream_state`, which writes it and moves its bookmark as one
        guarded step. The SDK does the two apart: a SIGTERM landing between them wrote a final
        STATE a period behind the last record, and the resumed run sent that record again."""
        self._unwritten = record

    @override
    def increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        period = self._period(context)
        with self._writer.guard:
            if self._unwritten is not None:
                record, self._unwritten = self._unwritten, None
                super().write_record_message(record)
            if period is None:
                return
            if self._batch_config is not None:
                self._unannounced.append((latest_record, *period))
                return
            self._advance(*period)
            self._writer.since_state += 1
        self._pace()

    def _pace(self) -> None:
        writer = self._writer
        if writer.since_state >= self._state_every or state_overdue(writer):
            self.write_state_message()

    @functools.cached_property
    def _state_every(self) -> int:
        """Records between STATEs: at least as many as the state has partitions, so that the
        bytes of STATE per record stay flat however many queries there are. Read at the first
        record, once the run's plan has made every partition; not again per record."""
        bookmarks = self.tap_state.get("bookmarks", {})
        partitions = sum(len(entry.get("partitions", ())) for entry in bookmarks.values())
        return max(STATE_EVERY_RECORDS, partitions)

    # --- one record at a time, for a tap interleaving its streams (`interleave`) -------------

    def sync_steps(self) -> Generator[None, None, None]:
        """The SDK's `sync()`, paused after each record: the SCHEMA and the rest of what
        `sync` sends first go out at once, then each `next()` delivers one record (or ends
        the stream with its STATE).

        `sync` runs its record loop (`_sync_records`, or `_sync_batches` in BATCH mode) to
        the end; here it is taken instead of run (`_capturing`), and run step by step.
        """
        self._steps = None
        self._capturing = True
        try:
            self.sync()
        finally:
            self._capturing = False
        steps, self._steps = self._steps, None
        for _ in steps or ():
            yield

    @override
    def sync_records(
        self, context: types.Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        records = super().sync_records(context, write_messages=write_messages)
        if not self._capturing:
            return records
        self._capturing = False
        self._steps = records
        return iter_nothing()

    # --- BATCH mode ------------------------------------------------------------------------

    @override
    def sync_batches(self, batch_config: BatchConfig, context: types.Context | None = None) -> None:
        """Batch files of `batch_size` records, each announced before its bookmarks move.

        The SDK's version moves bookmarks as records are read and writes a file only once it
        is full, so a STATE (paced, or the one written on SIGTERM) could pass periods whose
        records were in no announced file: lost on resume. Here the records wait in
        `_unannounced` with their periods, and only `announce_batch` moves bookmarks.
        """
        steps = self._batch_steps(batch_config, context)
        if self._capturing:
            self._capturing = False
            self._steps = steps
            return
        for _ in steps:
            pass

    def _batch_steps(
        self, batch_config: BatchConfig, context: types.Context | None
    ) -> Iterator[None]:
        self._batch_config = batch_config
        try:
            with self.get_batch_counter() as counter:
                self._batch_counter = counter
                for _ in self.sync_records(context, write_messages=False):
                    if len(self._unannounced) >= batch_config.batch_size:
                        self.announce_batch()
                    yield
                self.announce_batch()
        finally:
            self._batch_config = None
            self._batch_counter = None

    def announce_batch(self) -> None:
        """Write the records read but not yet announced to a batch file, send its BATCH
        message, then move their bookmarks; STATE follows at the usual pace.

        Also called by the tap on SIGTERM/SIGINT, before its final STATE. The whole step runs
        inside the writer's guard: a signal arriving midway is handled once it is done.
        """
        config = self._batch_config
        if config is None or not self._unannounced:
            return
        with guarded_writer(self.owning_tap.message_writer).guard:
            chunk = list(self._unannounced)
            batcher = Batcher(tap_name=self.tap_name, stream_name=self.name, batch_config=config)
            for manifest in batcher.get_batches(records=iter([entry[0] for entry in chunk])):
                self.write_batch_message(encoding=config.encoding, manifest=manifest)
                if self._batch_counter is not None:
                    self._batch_counter.increment()
            for _, name, to_date in chunk:
                self._advance(name, to_date)
            del self._unannounced[: len(chunk)]
            self._writer.since_state += len(chunk)
        self._pace()
