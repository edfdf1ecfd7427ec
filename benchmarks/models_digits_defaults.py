"""Digits with the model defaults: the data-preparation rule and the batch size, side by side.

Compares, on the same machine in one run, a small VAE (latent_dim=4, hidden_units=(32,),
``compile()``'s Adam 1e-3) trained 10 epochs on the 1797x64 digits rows with:

* ``scaling="standard"``: per-column standardization + Gaussian loss (the old "auto" choice
  for digits rows);
* ``scaling="auto"``: what "auto" picks now for intensity tables, one min-max over all values
  + Bernoulli loss; with batch size 64 (the Trainer's default) and 32 (Keras's default).

Losses of different likelihoods are not comparable, so the shared yardstick is the mean
squared reconstruction error in the original pixel units (0-16), next to the error of
predicting every row by the column means. Medians over seeds, plus the worst seed's
drop and first-epoch KL (thousands of nats mean the first epoch blew up).

Usage: .venv/bin/python benchmarks/models_digits_defaults.py [--seeds 5] [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vaewidget.datasets import load_digits  # noqa: E402
from vaewidget.models import VAE  # noqa: E402

CONFIGS = [("standard", 64), ("auto", 64), ("auto", 32)]


def run(scaling: str, batch_size: int, seed: int, epochs: int, x: np.ndarray) -> dict:
    keras.utils.set_random_seed(seed)
    model = VAE.from_data(x, latent_dim=4, hidden_units=(32,), seed=seed, scaling=scaling)
    model.compile()
    data = model.prepare(x)
    start = time.perf_counter()
    history = model.fit(data, epochs=epochs, batch_size=batch_size, verbose=0).history
    loss = history["loss"]
    seconds = time.perf_counter() - start
    mse = float(np.mean((model.reconstruct(x) - x) ** 2))
    return {
        "max |prepared|": float(np.abs(data).max()),
        "loss epoch 1": loss[0],
        f"loss epoch {epochs}": loss[-1],
        "drop": 1 - loss[-1] / loss[0],
        "KL epoch 1": history["kl_loss"][0],
        "recon MSE": mse,
        "fit s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    x, _ = load_digits()
    baseline = float(np.mean((x.mean(axis=0) - x) ** 2))
    print(f"digits {x.shape}; MSE of predicting the column means: {baseline:.2f}")
    print(f"medians over {args.seeds} seeds, {args.epochs} epochs\n")
    rows = []
    for scaling, batch_size in CONFIGS:
        runs = [run(scaling, batch_size, s, args.epochs, x) for s in range(args.seeds)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        worst = (min(r["drop"] for r in runs), max(r["KL epoch 1"] for r in runs))
        rows.append((f"scaling={scaling!r}, batch {batch_size}", med, worst))
    header = ["config", *rows[0][1], "min drop", "max KL epoch 1", "MSE / baseline"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, med, worst in rows:
        cells = [name, *(f"{v:.3g}" for v in med.values()), f"{worst[0]:.3f}", f"{worst[1]:.3g}"]
        cells.append(f"{med['recon MSE'] / baseline:.2f}")
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
