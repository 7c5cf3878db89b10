"""`make test-loaded`: `make test` while two other processes burn a CPU each.

A test that only passes on an idle machine will one day keep a good change from landing: this
runs the whole suite the way a busy CI runner or a shared workstation would. The burners are
started here, known by their PIDs, and stopped by those PIDs however the run ends (an error,
Ctrl-C, SIGTERM; never by name, so nothing else on the machine is touched).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BURN = "while True: pass"


def start_burners(count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.DEVNULL)  # noqa: S603
        for _ in range(count)
    ]


def stop(burners: list[subprocess.Popen[bytes]]) -> None:
    for burner in burners:
        if burner.poll() is None:
            os.kill(burner.pid, signal.SIGKILL)
    for burner in burners:
        burner.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burners", type=int, default=2, help="CPU-burning processes (2)")
    parser.add_argument("--make", default=os.environ.get("MAKE", "make"), help="make to run")
    args = parser.parse_args()
    # SIGTERM, like Ctrl-C, unwinds through the `finally` below, which stops the burners.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    burners = start_burners(args.burners)
    pids = " ".join(str(b.pid) for b in burners)
    print(f"test-loaded: {args.burners} CPU burners running, PIDs {pids}", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run([args.make, "test"], cwd=ROOT, check=False)  # noqa: S603
    finally:
        stop(burners)
    minutes = (time.monotonic() - started) / 60
    load = os.getloadavg()[0]
    verdict = "passed" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
    print(
        f"test-loaded: make test {verdict} in {minutes:.1f} min beside {args.burners} burners "
        f"(stopped: PIDs {pids}); 1-min load at the end {load:.1f}",
        flush=True,
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
