"""Hostile raw answers, and the foreign host a hostile redirect points to.

These are what proxies, load balancers and half-dead backends really send in front of an API:
an HTML error page, a cut-off body, nothing at all, far too much, or a redirect elsewhere. A
client must turn each into a retry or a clear error, never into a record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import socket
import socketserver
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from typing_extensions import override

_HTML = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head>"
    "<body><h1>{status} {reason}</h1><p>The server encountered a temporary error.</p>"
    "<hr><center>nginx</center></body></html>"
)
HUGE_BYTES = 5 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class RawAnswer:
    """Bytes to send as they are; `description` goes to the request log instead of a body."""

    status: int
    content_type: str | None
    body: bytes
    description: str


@functools.cache
def _huge_body() -> bytes:
    """Valid JSON shaped like a success, several megabytes long: built once, then reused."""
    filler = ["0123456789abcdef" * 4] * (HUGE_BYTES // 67 + 1)
    return json.dumps({"status": "success", "count": 7138, "debug": filler}).encode()


def raw_answer(kind: str) -> RawAnswer:
    """The bytes of a hostile raw kind other than `reset` and `redirect` (they need a socket)."""
    if kind in ("html_200", "html_502"):
        status = 200 if kind == "html_200" else 502
        reason = "OK" if status == 200 else "Bad Gateway"
        page = _HTML.format(status=status, reason=reason).encode()
        return RawAnswer(status, "text/html; charset=utf-8", page, "html")
    if kind == "truncated_json":
        return RawAnswer(200, "application/json", b'{"status":"succ', "truncated json")
    if kind == "empty_body":
        return RawAnswer(200, "application/json", b"", "empty body")
    if kind == "huge_body":
        return RawAnswer(200, "application/json", _huge_body(), "huge body")
    raise ValueError(f"not a raw answer kind: {kind}")


def reset_connection(sock: socket.socket) -> None:
    """Make the close an abortive one (RST), like a crashed backend, not a clean FIN."""
    # If the socket is already gone, the client sees the cut either way.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _QuickServer(ThreadingHTTPServer):
    daemon_threads = True

    @override
    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup, which can stall on slow resolvers."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class RedirectTarget:
    """A second host that a hostile 302 points to, recording whether credentials followed.

    CleverTap's headers are custom, so HTTP clients that strip `Authorization` on a cross-host
    redirect still forward them; only a client that refuses redirects keeps the passcode home.
    It answers a plausible success so that a client following redirects writes a wrong record.
    """

    FAKE_COUNT = 999_999

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits = 0
        self._saw_credentials = False
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def _record(self, header_names: list[str]) -> None:
        with self._lock:
            self._hits += 1
            if any(name.lower().startswith("x-clevertap-") for name in header_names):
                self._saw_credentials = True

    @property
    def hits(self) -> int:
        with self._lock:
            return self._hits

    @property
    def saw_credentials(self) -> bool:
        with self._lock:
            return self._saw_credentials

    def start(self) -> str:
        """Bind 127.0.0.2 (another host to any client); fall back to the name "localhost"."""
        with self._lock:
            if self._server is not None:
                return self.base_url
            record = self._record

            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"

                def _answer(self) -> None:
                    record(list(self.headers.keys()))
                    length = int(self.headers.get("Content-Length") or 0)
                    if length:
                        self.rfile.read(length)
                    body = json.dumps({"status": "success", "count": RedirectTarget.FAKE_COUNT})
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body.encode())

                do_GET = do_POST = _answer

                @override
                def log_message(self, format: str, *args: object) -> None:
                    """Silent: request lines are the emulator log's business."""

            try:
                server = _QuickServer(("127.0.0.2", 0), Handler)
                host = "127.0.0.2"
            except OSError:
                server = _QuickServer(("127.0.0.1", 0), Handler)
                host = "localhost"
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            ).start()
            self._server = server
            self.base_url = f"http://{host}:{server.server_address[1]}"
            return self.base_url

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
