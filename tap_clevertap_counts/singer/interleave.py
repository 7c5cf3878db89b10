"""Every selected stream's records as soon as they are counted, not one stream after another.

The SDK syncs streams one after the other, while this tap counts all of them at once (`run`):
with both streams selected, the counts of the stream synced second waited in memory until the
first stream was done, and a kill lost them however long ago they were counted (117 finished
profile jobs at a kill on the 115th `event_counts` record). Here each stream's sync is taken one
record at a time (`DeliveringStream.sync_steps`) and every stream whose next record is ready
goes next: RECORD (or BATCH) messages of the streams interleave, as Singer allows (each names
its stream, whose SCHEMA went out before its first record).

Within one stream records stay in plan order (a bookmark passes a period only once its record
is out), so a count waits at most for the counts before it in its own stream, which its API's
pool is counting first. Once `STATE_EVERY_SECONDS` have passed since the last STATE, the BATCH
records read so far are announced and a STATE goes out, whether records flow or all streams
wait: a count, once read, is out and covered by a STATE within that span.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Protocol

from .delivery import DeliveringStream, state_overdue
from .messages import GuardedWriter

IDLE_WAIT_SECONDS = 1.0  # while no stream is ready: how often the STATE deadline is looked at
_ENDED = object()


class Waiter(Protocol):
    """What the counting behind the streams says of them (`run.Run`)."""

    def ready(self, stream: str) -> bool:
        """Whether `stream`'s next step would not wait for a count."""
        ...

    def wait(self, streams: Sequence[str], timeout: float) -> None:
        """Until one of `streams` is ready, or `timeout` seconds passed."""
        ...


class NeverWaits:
    """Streams whose records are at hand: always ready."""

    def ready(self, stream: str) -> bool:
        return True

    def wait(self, streams: Sequence[str], timeout: float) -> None:
        return None


def sync_streams(
    streams: Sequence[DeliveringStream],
    waiter: Waiter,
    writer: GuardedWriter,
    write_state: Callable[[], None],
) -> None:
    """Sync `streams` together: a record of each ready stream in turn, and once a STATE is
    overdue, what BATCH streams read announced and a STATE (records flowing or not); each
    stream's progress markers finalized when it ends."""
    running: list[tuple[DeliveringStream, Generator[None, None, None]]] = [
        (stream, stream.sync_steps()) for stream in streams
    ]
    try:
        while running:
            if state_overdue(writer):
                _confirm(streams, writer, write_state)
            ready = [entry for entry in running if waiter.ready(entry[0].name)]
            if not ready:
                waiter.wait([stream.name for stream, _ in running], IDLE_WAIT_SECONDS)
                continue
            for entry in ready:
                stream, steps = entry
                if next(steps, _ENDED) is _ENDED:
                    running.remove(entry)
                    stream.finalize_state_progress_markers()
    finally:
        for _, steps in running:  # a failure or a signal: the other streams stop too
            steps.close()


def _confirm(
    streams: Sequence[DeliveringStream], writer: GuardedWriter, write_state: Callable[[], None]
) -> None:
    """Announce what BATCH streams have read, then a STATE if anything went out uncovered."""
    for stream in streams:
        stream.announce_batch()
    if writer.unconfirmed:
        write_state()
