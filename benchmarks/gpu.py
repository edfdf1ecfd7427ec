"""Training samples/s of vaewidget's VAE on a GPU against the CPU of the same machine.

For each device (``/CPU:0``, then ``/GPU:0`` when TensorFlow sees one) and each batch
size, the same VAE (``hidden_units=(512, 256)``, ``latent_dim=32``, the estimator's
defaults) trains on 64-feature synthetic rows with ``steps_per_execution`` 1 and the
Trainer's ``"auto"`` value; the table gives the median samples/s of ``--repeats``
timed epochs after one warm-up epoch, and the GPU/CPU ratio.

Without a GPU it measures the CPU, says so, and exits with status 0 (status 1 with
``--require-gpu``), so it runs anywhere; its GPU figures go into the README only
once measured on a machine with one.

Run: ``.venv/bin/python benchmarks/gpu.py`` (``--rows 20000 --repeats 2`` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vaewidget import VAE, datasets  # noqa: E402
from vaewidget.training.execution import choose_steps_per_execution  # noqa: E402


def measure(device: str, x: np.ndarray, batch_size: int, steps: int, repeats: int) -> float:
    """Median samples/s of one epoch of ``fit`` on ``device``."""
    with tf.device(device):
        keras.utils.set_random_seed(0)
        model = VAE.from_data(x, latent_dim=32, hidden_units=(512, 256), seed=0)
        model.compile(steps_per_execution=steps)
        prepared = model.prepare(x)
        model.fit(prepared, epochs=1, batch_size=batch_size, verbose=0)  # trace, warm up
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.fit(prepared, epochs=1, batch_size=batch_size, verbose=0)
            rates.append(len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--require-gpu", action="store_true")
    args = parser.parse_args()

    gpus = tf.config.list_physical_devices("GPU")
    devices = ["/CPU:0"] + (["/GPU:0"] if gpus else [])
    if not gpus:
        print("No GPU visible to TensorFlow (tf.config.list_physical_devices('GPU') is empty): "
              "measuring the CPU only. Install the GPU build (see README, Install) on a machine "
              "with a GPU to compare.", flush=True)
    x, _ = datasets.make_manifold_clusters(n_samples=args.rows, n_clusters=8, n_features=64,
                                           random_state=0)
    x = np.ascontiguousarray(x, dtype=np.float32)
    probe = VAE.from_data(x[:1000], latent_dim=32, hidden_units=(512, 256), seed=0)
    print("| batch | steps/execution | " + " | ".join(f"{d} samples/s" for d in devices)
          + (" | GPU/CPU |" if gpus else " |"))
    print("|---|---|" + "---|" * len(devices) + ("---|" if gpus else ""))
    for batch in args.batch_sizes:
        for steps in sorted({1, choose_steps_per_execution(probe, batch)}):
            rates = [measure(d, x, batch, steps, args.repeats) for d in devices]
            ratio = f" | {rates[1] / rates[0]:.1f}x |" if gpus else " |"
            print(f"| {batch} | {steps} | " + " | ".join(f"{r:,.0f}" for r in rates) + ratio,
                  flush=True)
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") \
        if gpus else "none"
    print(f"\nrows={args.rows}, repeats={args.repeats}, GPU: {name}, keras {keras.__version__}, "
          f"tensorflow {tf.__version__}, {os.cpu_count()} CPU cores")
    return 1 if (args.require_gpu and not gpus) else 0


if __name__ == "__main__":
    sys.exit(main())
