"""Memory of the panel over Train/Reset cycles (issue 16, defect 5).

What a notebook user does again and again: click **Train**, let it finish (the
plots, the reconstructions and the Clusters tab update), then **Reset** for new
weights. This script does that ``--cycles`` times on the quickstart's panel
(digits as 8 x 8 images, ``latent_dim=2``, conv by default) and reads the
process's resident set size (``VmRSS`` in ``/proc/self/status``) after each
cycle, after a ``gc.collect()``. With ``--trim`` it also calls glibc's
``malloc_trim(0)`` first, which hands freed heap pages back to the system: what
is left is memory still in use (a leak), not memory the allocator keeps for reuse.

One warm-up cycle runs first: it pays the one-time costs (TensorFlow's kernels,
matplotlib's fonts, HDBSCAN's imports), which are not a leak. The growth is then
measured over the ``--cycles`` cycles that follow (target: <= 20 MB over 20).

Run::

    .venv/bin/python benchmarks/panel_memory.py              # 20 cycles, Clusters tab open
    .venv/bin/python benchmarks/panel_memory.py --no-clusters
    .venv/bin/python benchmarks/panel_memory.py --trim

Prints one line per cycle, then the total growth and the mean per cycle.
"""

from __future__ import annotations

import argparse
import gc
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def wait_for(predicate, timeout: float = 300.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def cycle(panel, clusters: bool) -> None:
    trainer = panel.train()
    if trainer is None or not trainer.wait(600) or trainer.state != "finished":
        raise RuntimeError(f"training did not finish: {panel.status.text}")
    panel.refresh()
    if clusters:  # the Clusters tab is open: the UI thread builds or refreshes the viewer
        if not wait_for(lambda: panel.viewer is not None):
            raise RuntimeError(f"the cluster viewer never appeared: {panel.status.text}")
    panel.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--no-clusters", dest="clusters", action="store_false",
                        help="keep the Clusters tab closed")
    parser.add_argument("--trim", action="store_true",
                        help="malloc_trim(0) before each reading (glibc only)")
    args = parser.parse_args()

    def settle() -> None:
        gc.collect()
        if args.trim:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)

    from vaewidget import VAEPanel
    from vaewidget.datasets import load_digits

    x, y = load_digits(images=True)
    panel = VAEPanel(x, labels=y, latent_dim=2, epochs=args.epochs)
    if args.clusters:
        panel.tab.selected_index = 1
    start = rss_mb()
    cycle(panel, args.clusters)  # warm-up
    settle()
    base = rss_mb()
    print(f"start {start:.1f} MB, after the warm-up cycle {base:.1f} MB", flush=True)
    values = []
    for i in range(args.cycles):
        cycle(panel, args.clusters)
        settle()
        values.append(rss_mb())
        print(f"cycle {i + 1:2d}: {values[-1]:.1f} MB ({values[-1] - base:+.1f})", flush=True)
    panel.close()
    growth = values[-1] - base
    print(f"growth over {args.cycles} cycles: {growth:+.1f} MB "
          f"({growth / args.cycles:+.2f} MB per cycle); "
          f"growth over the last half: {values[-1] - values[len(values) // 2 - 1]:+.1f} MB")


if __name__ == "__main__":
    main()
