"""Who may take SIGINT and SIGTERM: the tap's command, for as long as it runs, and nobody else.

The SDK installs a tap's handlers when the tap object is built and never removes them. In the
command that is right (the process ends with the sync). But a tap built inside another process
(a test run, an orchestrator using the tap as a library) would leave behind a handler that, long
after the tap is gone, turns the host's SIGTERM into the tap's exit: a state written for a
finished tap, `SystemExit(143)` raised in unrelated code. Signals belong to the program, so a
tap installs its handlers only inside `command()` (the body of `cli.main`), and the handlers
that were there before come back when that block ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import signal
import threading
from collections.abc import Iterator

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))
_IN_COMMAND = contextvars.ContextVar("tap_clevertap_counts_in_command", default=False)


def in_command() -> bool:
    """Whether a tap built now is the command's own (and so may install handlers)."""
    return _IN_COMMAND.get()


@contextlib.contextmanager
def command() -> Iterator[None]:
    """The block in which this process is the tap's command; on leaving it, by any way, the
    SIGINT and SIGTERM handlers of before are back."""
    main = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS} if main else {}
    token = _IN_COMMAND.set(True)
    try:
        yield
    finally:
        _IN_COMMAND.reset(token)
        for signum, old in previous.items():
            # None: a handler not set from Python; the default is the closest to restore.
            signal.signal(signum, signal.SIG_DFL if old is None else old)


def ignore_from_now() -> None:
    """For the command's process once its block has ended: all that is left is the interpreter's
    exit. A SIGINT or SIGTERM arriving then (a Ctrl-C, an orchestrator's stop, as the run ends)
    would meet Python's own handlers in the middle of shutdown: a KeyboardInterrupt traceback
    from a finalizer, or a kill before the last flush. Every message is written by then (the
    final STATE included), so the signal has nothing left to stop: it is ignored."""
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
