"""How the tap's Singer messages reach stdout: whole, in order, and with a STATE after records.

Two rules a target relies on and the SDK does not quite keep:
- A signal must never cut a message in two or write into the middle of one. The SDK's
  SIGTERM handler writes a STATE from inside whatever the main thread was doing, which may be
  a write to stdout (Python then raises "reentrant call") or a batch file half written. Every
  write, and every stretch the tap marks as one step (a batch file, its BATCH message and the
  bookmarks it covers), runs inside a `Guard`; a signal arriving there is held until the
  guard is left, then handled.
- A target confirms state only after the records it loaded, so every RECORD or BATCH must be
  followed by a STATE, even when no bookmark moved (a lookback re-count). The SDK's state
  writer skips a STATE equal to the last one; `ConfirmingStateWriter` writes it anyway when
  records went out since.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from singer_sdk.helpers import types
from singer_sdk.io_base import SingerMessageType, SingerWriter
from singer_sdk.singerlib.encoding.simple import Message, StateMessage
from singer_sdk.singerlib.json import serialize_json
from typing_extensions import override

from .sdk_private import StateWriter

DELIVERING = frozenset({SingerMessageType.RECORD, SingerMessageType.BATCH})


def clock() -> float:
    """Seconds for pacing STATE (`delivery`): monotonic; tests put their own clock here."""
    return time.monotonic()


class Guard:
    """A stretch of work a signal handler must not interrupt; reentrant (a depth count)."""

    def __init__(self) -> None:
        self._depth = 0
        self._held: Callable[[], None] | None = None

    @property
    def busy(self) -> bool:
        return self._depth > 0

    def hold(self, action: Callable[[], None]) -> None:
        """Run `action` when the outermost guarded stretch ends (only the first one held)."""
        if self._held is None:
            self._held = action

    def __enter__(self) -> None:
        self._depth += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0 and self._held is not None and kind is None:
            action, self._held = self._held, None
            action()


class GuardedWriter(SingerWriter):
    """The SDK's stdout writer, each message written inside the guard; remembers whether a
    RECORD or BATCH went out since the last STATE, how many records, and when that STATE was
    written: one account for every stream, since each STATE is the whole state."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = Guard()
        self.unconfirmed = False  # a RECORD or BATCH went out after the last STATE
        self.since_state = 0  # records delivered since the last STATE (the streams count them)
        self.state_time = clock()  # when the last STATE went out (or the writer was made)

    @override
    def serialize_message(self, message: Message) -> str:
        """A STATE without the SDK's `dataclasses.asdict`, which deep-copies the whole state
        for every STATE: ten times json's own cost, 20 ms a STATE for a query whose state keeps
        10,000 ranges (`counted`). The message is serialized at once, the state unchanged."""
        if isinstance(message, StateMessage):
            return serialize_json({"type": message.type, "value": message.value})
        return super().serialize_message(message)

    @override
    def write_message(self, message: Message) -> None:
        with self.guard:
            super().write_message(message)
            kind = message.type
            if kind == SingerMessageType.STATE:
                self.unconfirmed = False
                self.since_state = 0
                self.state_time = clock()
            elif kind in DELIVERING:
                self.unconfirmed = True


class ConfirmingStateWriter(StateWriter):
    """The SDK's state writer, except that a STATE equal to the last one is written again
    when records went out after it: the target needs it to confirm them. The last STATE is
    kept as its JSON text, not a deep copy: a copy of a large state (a query's `counted`
    ranges) cost five times the text."""

    def __init__(self, writer: GuardedWriter) -> None:
        super().__init__(writer)
        self._writer = writer
        self._last: str | None = None

    @override
    def write_state(self, state: types.TapState) -> None:
        text = serialize_json(state)
        if text != self._last or self._writer.unconfirmed:
            self._writer.write_message(StateMessage(value=state))
            self._last = text


def guarded_writer(writer: Any) -> GuardedWriter:
    """The tap's writer as a `GuardedWriter` (a custom writer given to the tap is refused)."""
    if not isinstance(writer, GuardedWriter):
        raise TypeError(f"expected the tap's GuardedWriter, got {type(writer).__name__}")
    return writer
