"""The request log: what each request asked and what it got, never who it claimed to be.

Tests read it to check what a client sent (retries, polls, concurrency); the JSON-lines file is
for humans and other processes. Headers are never recorded, and any text that contains the
passcode is masked, so the log can be attached to a bug report as is.
"""

from __future__ import annotations

import copy
import json
import pathlib
import threading
from typing import Any, cast

MASK = "***"


class RequestLog:
    """Entries in memory (always) and appended to `path` as JSON lines (when set)."""

    def __init__(self, path: pathlib.Path | None, secret: str) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._secret = secret
        self._path: pathlib.Path | None = None
        self._file: Any = None
        self.reopen(path, secret)

    def reopen(self, path: pathlib.Path | None, secret: str) -> None:
        """Follow a runtime change of `log_path` or of the passcode to mask."""
        with self._lock:
            self._secret = secret
            if path == self._path:
                return
            if self._file is not None:
                self._file.close()
                self._file = None
            self._path = path
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a", encoding="utf-8")

    def _mask(self, value: object) -> object:
        """The value with every occurrence of the passcode replaced, at any depth."""
        if isinstance(value, str):
            return value.replace(self._secret, MASK) if self._secret else value
        if isinstance(value, dict):
            return {self._mask(key): self._mask(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._mask(item) for item in value]
        return value

    def append(self, entry: dict[str, Any]) -> None:
        """Record one request (masked); the file copy is one JSON line per request."""
        with self._lock:
            masked = cast(dict[str, Any], self._mask(entry))
            self._entries.append(masked)
            if self._file is not None:
                self._file.write(json.dumps(masked, ensure_ascii=False, default=str) + "\n")
                self._file.flush()

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._path = None
