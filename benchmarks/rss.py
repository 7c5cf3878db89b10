"""A process's own peak memory, read from /proc while it runs.

Not `wait4`'s `ru_maxrss`: when a child execs, Linux starts its `maxrss` at the high-water mark
of the memory it replaces (fs/exec.c, `exec_mmap`), which after `vfork` is the parent's. So a
benchmark process that has grown (it keeps every run's outcome) was reported as the peak of
every tap it started, and "flat" rows compared the benchmark's memory with itself. `VmHWM` in
/proc/<pid>/status is the high-water mark of the tap's own address space, from its exec on.
"""

from __future__ import annotations

import pathlib
import threading

SAMPLE_SECONDS = 0.02  # the peak is a high-water mark: a sample only misses its last moments


class HighWater:
    """Samples `VmHWM` of `pid` until it exits (a zombie has no memory, hence no line)."""

    def __init__(self, pid: int) -> None:
        self._status = pathlib.Path(f"/proc/{pid}/status")
        self._kib = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _read(self) -> int | None:
        try:
            text = self._status.read_text(encoding="ascii", errors="replace")
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return None

    def _sample(self) -> None:
        while (kib := self._read()) is not None:
            self._kib = max(self._kib, kib)
            if self._done.wait(SAMPLE_SECONDS):
                return

    def mib(self) -> float:
        """The peak seen, once the process has exited (call after reaping it)."""
        self._done.set()
        self._thread.join()
        return self._kib / 1024
