"""How a stream's records and bookmarks go out: STATE at a pace linear in the work, and in
BATCH mode, bookmarks that wait for the batch file holding their records to be announced.

A killed run counts again at most what its last STATE did not cover, so STATE should go out
often; but each STATE is the whole state, a partition per query, so a STATE after every record
costs bytes per record in proportion to the number of queries. STATE therefore goes out once
as many records as the state has partitions are out (at least `STATE_EVERY_RECORDS`): bytes per
record stay flat whatever the number of queries. When answers are slow (CleverTap's 30 s
polls, 3 jobs at a time: about 6 records a minute) that can take long, so a STATE also goes out
once `STATE_EVERY_SECONDS` (2 minutes) have passed since the last while records flow: a kill
costs at most 2 minutes of counting, and a slow run writes at most one STATE per 2 minutes,
however many queries. Every sync that sent a record still ends with a STATE after it.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from singer_sdk import Stream, metrics
from singer_sdk.batch import Batcher
from singer_sdk.helpers import types
from singer_sdk.helpers._batch import BatchConfig
from typing_extensions import override

from .messages import guarded_writer

STATE_EVERY_RECORDS = 10  # at least; more when the state itself is larger (many queries)
# Slow answers (CleverTap's 30 s polls): a STATE at least this often while records flow, so a
# kill costs at most this much counting again. Minutes, not seconds: each STATE is the whole
# state (a partition per query), and a STATE every few seconds would cost more bytes per record
# the more queries there are.
STATE_EVERY_SECONDS = 120.0


class DeliveringStream(Stream):
    """A stream whose subclass says how a period moves its bookmark (`_advance`); this class
    says when: at once for a RECORD, after the announcement for a BATCH, with STATE paced."""

    def __init__(self, tap: Any) -> None:
        super().__init__(tap)
        self._since_state = 0
        self._last_state = time.monotonic()
        # BATCH mode: records read but in no announced batch file yet, with their periods
        self._batch_config: BatchConfig | None = None
        self._batch_counter: metrics.Counter | None = None
        self._unannounced: list[tuple[types.Record, str, str]] = []

    def _advance(self, name: str, to_date: str) -> None:
        """Move query `name`'s bookmark to `to_date` (never back)."""
        raise NotImplementedError

    def _deliver(self, record: types.Record, name: str, to_date: str) -> None:
        """`record`, of query `name`'s period ending `to_date`, was written or read."""
        if self._batch_config is not None:
            self._unannounced.append((record, name, to_date))
            return
        self._advance(name, to_date)
        self._since_state += 1
        self._pace()

    def _pace(self) -> None:
        if self._since_state >= self._state_every or (
            time.monotonic() - self._last_state >= STATE_EVERY_SECONDS
        ):
            self._write_state_message()

    @override
    def _write_state_message(self) -> None:
        super()._write_state_message()
        self._since_state = 0
        self._last_state = time.monotonic()

    @functools.cached_property
    def _state_every(self) -> int:
        """Records between STATEs: at least as many as the state has partitions, so that the
        bytes of STATE per record stay flat however many queries there are. Read at the first
        record, once the run's plan has made every partition; not again per record."""
        bookmarks = self.tap_state.get("bookmarks", {})
        partitions = sum(len(entry.get("partitions", ())) for entry in bookmarks.values())
        return max(STATE_EVERY_RECORDS, partitions)

    # --- BATCH mode ------------------------------------------------------------------------

    @override
    def _sync_batches(
        self, batch_config: BatchConfig, context: types.Context | None = None
    ) -> None:
        """Batch files of `batch_size` records, each announced before its bookmarks move.

        The SDK's version moves bookmarks as records are read and writes a file only once it
        is full, so a STATE (paced, or the one written on SIGTERM) could pass periods whose
        records were in no announced file: lost on resume. Here the records wait in
        `_unannounced` with their periods, and only `announce_batch` moves bookmarks.
        """
        self._batch_config = batch_config
        try:
            with self.get_batch_counter() as counter:
                self._batch_counter = counter
                for _ in self._sync_records(context, write_messages=False):
                    if len(self._unannounced) >= batch_config.batch_size:
                        self.announce_batch()
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
        with guarded_writer(self._tap.message_writer).guard:
            chunk = list(self._unannounced)
            batcher = Batcher(tap_name=self.tap_name, stream_name=self.name, batch_config=config)
            for manifest in batcher.get_batches(records=iter([entry[0] for entry in chunk])):
                self._write_batch_message(encoding=config.encoding, manifest=manifest)
                if self._batch_counter is not None:
                    self._batch_counter.increment()
            for _, name, to_date in chunk:
                self._advance(name, to_date)
            del self._unannounced[: len(chunk)]
            self._since_state += len(chunk)
        self._pace()
