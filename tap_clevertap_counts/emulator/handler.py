"""Socket-level HTTP: read a request, hand it to the API, write (or sabotage) the answer.

HTTP/1.1 with Content-Length on every answer, so `requests.Session` keeps connections alive as
it would against CleverTap. The standard library's own request logging is silenced: it would print
to stderr, and the emulator's log is the one place requests are recorded.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from typing_extensions import override

from tap_clevertap_counts.emulator import hostile
from tap_clevertap_counts.emulator import messages as m
from tap_clevertap_counts.emulator.api import CountsAPI
from tap_clevertap_counts.emulator.exchange import Incoming, Outgoing

MAX_BODY_BYTES = 16 * 1024 * 1024
_RESET_AFTER_BYTES = 8


class EmulatorServer(ThreadingHTTPServer):
    """Keeps a handle on the API and on open connections, so `stop` can cut keep-alive ones."""

    daemon_threads = True
    api: CountsAPI

    def __init__(self, address: tuple[str, int], api: CountsAPI) -> None:
        self.api = api
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    @override
    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup (`getfqdn`), which can stall for
        seconds on machines with a slow resolver."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @override
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (timeout, reset test, stop) is normal here; anything else is a
        bug worth a traceback on stderr."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its own thread
                connection.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """One connection; `handle_one_request` dispatches every method to `_serve`."""

    protocol_version = "HTTP/1.1"
    server: EmulatorServer
    # An idle keep-alive connection is dropped after this long (seconds), freeing its thread.
    timeout = 300

    @override
    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    @override
    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # a sabotaged ("reset") connection has nothing left to flush
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def _read_body(self) -> bytes | None:
        """The body by Content-Length or chunked encoding; None when there is none."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return None
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            return None
        if length <= 0:
            return b"" if length == 0 else None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                return b""
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            body, self.close_connection = None, True
        request = Incoming(self.command, self.path, self.headers, body)
        try:
            answer = self.server.api.handle(request)
        except Exception:
            # A bug in the emulator: say so on stderr (no headers there), answer as CleverTap would.
            traceback.print_exc(file=sys.stderr)
            answer = Outgoing(m.SERVER_ERROR[0], m.fail(m.SERVER_ERROR[1]))
        self._write(answer)

    def _write(self, answer: Outgoing) -> None:
        body = answer.body()
        self.send_response(answer.status)
        content_type = answer.content_type()
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if answer.location is not None:
            self.send_header("Location", answer.location)
        self.end_headers()
        if answer.action == "reset":
            self.wfile.write(body[:_RESET_AFTER_BYTES])
            self.wfile.flush()
            hostile.reset_connection(self.connection)
            self.close_connection = True
            return
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    @override
    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request log is the record, and stderr must stay clean for users."""
