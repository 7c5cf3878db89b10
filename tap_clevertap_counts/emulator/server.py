"""`Emulator`: the in-process handle tests, the demo and the CLI use to run the fake API.

It runs a ThreadingHTTPServer in a daemon thread, so a test starts it on port 0, points a client
at `url`, and changes its behaviour while the client runs (clock, maintenance, faults, forced
answers) without restarting it.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from tap_clevertap_counts.emulator.api import CountsAPI
from tap_clevertap_counts.emulator.config import EmulatorConfig
from tap_clevertap_counts.emulator.handler import EmulatorServer
from tap_clevertap_counts.emulator.store import EventStore


class Emulator:
    """CleverTap's counts API on loopback; a context manager that starts and stops it."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` times jobs and req_ids: a `ManualClock` makes them end when a test says."""
        self._api = CountsAPI(config if config is not None else EmulatorConfig(), clock)
        self.host = host
        self.port = port
        self.url = ""
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> EventStore:
        """The ground truth the answers are computed from (a new one after a seed change)."""
        return self._api.store

    @property
    def config(self) -> EmulatorConfig:
        """The configuration in force (a snapshot; change it with `update`)."""
        return self._api.config

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        config = self._api.config
        self._api.log.reopen(config.log_path, config.passcode)
        server = EmulatorServer((self.host, self.port), self._api)
        self._server = server
        self.port = int(server.server_address[1])
        host = self.host if ":" not in self.host else f"[{self.host}]"
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"clevertap-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections, as a dying server would."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._api.redirect.stop()
        self._api.log.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def open_connections(self) -> int:
        """Client connections open now. 0 once every client has hung up and each request it
        sent is answered (so logged): a test waits for that instead of sleeping."""
        server = self._server
        if server is None:
            return 0
        with server.connections_lock:
            return len(server.connections)

    def requests(self) -> list[dict[str, Any]]:
        """The request log so far (a copy): one dict per request, headers never included."""
        return self._api.log.entries()

    def clear_log(self) -> None:
        self._api.log.clear()

    def update(self, **changes: object) -> None:
        """Change any `EmulatorConfig` field while serving; unknown names raise TypeError."""
        self._api.update(**changes)

    def set_today(self, day: datetime.date) -> None:
        self.update(today=day)

    def set_maintenance(self, on: bool) -> None:
        self.update(maintenance=on)

    def inject(self, kind: str, times: int = 1, on: str = "any", after: int = 0) -> None:
        """Force the next `times` authenticated requests of kind `on` to get answer `kind`,
        once `after` of them have been answered as usual (the k-th submit from now: after=k-1)."""
        self._api.injections.add(kind, times, on, after)
        if kind == "redirect":
            self._api.redirect.start()

    def clear_injections(self) -> None:
        """Forget the forced answers not yet given: a fault that lasts until the test ends it."""
        self._api.injections.clear()

    def inflight_peak(self) -> int:
        """The most slots one API (or the account, with shared_limit) ever held at once, counting
        rejected arrivals too."""
        return self._api.jobs.peak

    def running_jobs(self) -> int:
        """Jobs accepted (their req_id sent) and not yet ended. A test that changes `job_seconds`
        or moves the clock waits on this, not on `inflight_peak`: the peak counts a submit while
        it is read, before its job (and its end time) exists."""
        return self._api.jobs.running()

    def redirect_target_saw_credentials(self) -> bool:
        """Whether any X-CleverTap-* header reached the foreign host of a hostile redirect."""
        return self._api.redirect.saw_credentials

    def redirect_target_hits(self) -> int:
        return self._api.redirect.hits
