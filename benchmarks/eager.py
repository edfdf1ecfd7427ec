"""Eager against traced (compiled) training steps, through the package's own recipe.

Side by side in one run, alternating: the same model, data and steps trained with
``run_eagerly=True`` and with the step traced, timed from building the model to the end of
training (so tracing is counted). Shapes: a small table (150 x 4, like iris) and a wide one
(83 x 2,308, like the Khan gene table), with the default networks, one VAE and an ensemble
of three, at 10 to 200 steps. Prints the median of ``--repeats`` runs each and the median
ratio eager / traced (above 1: eager is slower).

Run: ``.venv/bin/python benchmarks/eager.py`` (``--repeats 1`` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vaewidget.clustering import _defaults, recipe  # noqa: E402
from vaewidget.training import Trainer  # noqa: E402


def run_once(x: np.ndarray, steps: int, members: int, eager: bool) -> float:
    """Seconds to build and train the default VAE for ``steps`` steps (batch 32)."""
    batches = -(-len(x) // 32)
    params = _defaults.resolve({"members": members, "batch_size": 32,
                                "epochs": max(1, steps // batches)}, x)
    start = time.perf_counter()
    model = recipe.build_model(x, params, 0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=eager)
    trainer = Trainer(model, x, batch_rate=None, **recipe.trainer_options(params))
    trainer.start()
    trainer.wait()
    assert trainer.state == "finished", trainer.error
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shapes = {"150 x 4": rng.normal(size=(150, 4)), "83 x 2,308": rng.normal(size=(83, 2308))}
    print("| data | members | steps | eager s | traced s | eager / traced |")
    print("|---|---|---|---|---|---|")
    for name, x in shapes.items():
        x = x.astype(np.float32)
        batches = -(-len(x) // 32)
        for members in (1, 3):
            for steps in (10, 50, 200):
                eager, traced, ratios = [], [], []
                for _ in range(args.repeats):
                    e = run_once(x, steps, members, True)
                    t = run_once(x, steps, members, False)
                    eager.append(e)
                    traced.append(t)
                    ratios.append(e / t)
                real = max(1, steps // batches) * batches
                print(f"| {name} | {members} | {real} | {statistics.median(eager):.2f} | "
                      f"{statistics.median(traced):.2f} | {statistics.median(ratios):.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
