"""What it costs per batch to catch non-finite weights (issue 16, defect 1).

oneDNN's fused MatMul+BiasAdd+Relu turns NaN activations into 0, so NaN weights
can leave the loss finite. Three contenders, on the same model sizes and data,
interleaved epoch by epoch in one process: the median wall time per batch and the
median CPU time per batch (this process, all threads: less sensitive to other
processes on a shared machine):

* ``none``: no per-batch weight check at all (the guard switched off);
* ``loss guard`` (what vaewidget does): the model's loss adds
  ``where(isfinite(sum(weights)), 0, sum(weights))``, computed inside the
  compiled train step, outside the gradient;
* ``numpy callback``: the guard off, and a callback that copies every trainable
  weight to numpy after each batch and checks its sum.

Run: ``.venv/bin/python benchmarks/weight_guard.py`` (``--rounds 3`` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vaewidget import VAE  # noqa: E402

SIZES = (((64,), (16,)), ((64,), (256, 128)), ((784,), (512, 256)))


class BatchTimes(keras.callbacks.Callback):
    """Times between batch ends; optionally checks the weights in numpy after each batch."""

    def __init__(self, check: bool) -> None:
        super().__init__()
        self.check, self.stamps = check, []

    def on_train_batch_end(self, batch, logs=None):
        if self.check:
            total = sum(float(np.sum(v.numpy())) for v in self.model.trainable_variables)
            if not np.isfinite(total):
                self.model.stop_training = True
        self.stamps.append(time.perf_counter())


def _no_guard(model: VAE) -> VAE:
    # An instance attribute shadows the method before the train step is traced.
    model._weights_guard = lambda: 0.0
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rows", type=int, default=6400)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| model | parameters | contender | ms/batch (wall) | ratio | CPU ms/batch | CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    for shape, hidden in SIZES:
        x = rng.random((args.rows, *shape), dtype=np.float32)
        contenders = {
            "none": (_no_guard(VAE.from_data(x, hidden_units=hidden, seed=0)), False),
            "loss guard": (VAE.from_data(x, hidden_units=hidden, seed=0), False),
            "numpy callback": (_no_guard(VAE.from_data(x, hidden_units=hidden, seed=0)), True),
        }
        prepared = contenders["none"][0].prepare(x)
        for model, _ in contenders.values():
            model.compile()
            model.fit(prepared[:640], epochs=1, batch_size=64, verbose=0)  # trace first
        times: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                model, check = contenders[name]
                cb = BatchTimes(check)
                start = time.process_time()
                model.fit(prepared, epochs=1, batch_size=64, verbose=0, callbacks=[cb])
                cpu[name].append((time.process_time() - start) / len(cb.stamps))
                times[name].append(statistics.median(np.diff(cb.stamps)))
        n_params = sum(int(np.prod(v.shape)) for v in contenders["none"][0].trainable_variables)
        base, cpu_base = statistics.median(times["none"]), statistics.median(cpu["none"])
        for name in names:
            t, c = statistics.median(times[name]), statistics.median(cpu[name])
            print(f"| {shape[0]} -> {hidden} | {n_params:,} | {name} | {t * 1e3:.2f} | "
                  f"{t / base:.3f} | {c * 1e3:.2f} | {c / cpu_base:.3f} |", flush=True)


if __name__ == "__main__":
    main()
