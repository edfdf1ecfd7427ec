"""Run a command while CPU burners keep every core busy: ``make test-loaded`` uses it.

Usage::

    python tests/under_load.py [--workers N] -- COMMAND [ARGS...]

Starts ``N`` burner processes (default: one per core), each multiplying 400x400 float64
matrices in a loop on one BLAS thread, runs ``COMMAND``, stops the burners and exits with
the command's exit status. Burners also stop by themselves when this process goes away
(they watch their parent), so an interrupted run leaves none behind. The suite must pass
like this: tests wait on conditions, never on fixed sleeps, and give slow steps room.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

BURN = """
import os, sys, time
import numpy as np
parent = int(sys.argv[1])
a = np.random.default_rng(0).random((400, 400))
b = a.copy()
while os.getppid() == parent:
    for _ in range(20):
        b = a @ b
        b /= b.max()
"""


def start_burners(workers: int) -> list[subprocess.Popen]:
    """``workers`` burner processes, children of this one."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    return [subprocess.Popen([sys.executable, "-c", BURN, str(os.getpid())], env=env,
                             stdin=subprocess.DEVNULL)
            for _ in range(workers)]


def stop_burners(burners: list[subprocess.Popen]) -> None:
    for proc in burners:
        proc.terminate()
    for proc in burners:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="burner processes (default: one per core)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("Expected a command after '--'. Received: nothing")
    burners = start_burners(args.workers)
    started = time.monotonic()
    print(f"under_load: {args.workers} CPU burner(s) running (pids "
          f"{', '.join(str(p.pid) for p in burners)}); running: {' '.join(command)}",
          flush=True)
    try:
        status = subprocess.call(command)
    except KeyboardInterrupt:
        status = 130
    finally:
        stop_burners(burners)
    load = os.getloadavg()[0]
    print(f"under_load: exit status {status} after {time.monotonic() - started:.0f} s, "
          f"load average at the end {load:.1f}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
