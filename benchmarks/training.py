"""Benchmark the background Trainer against plain ``model.fit`` and a keras.io-style VAE.

Three measurements, all in one process on the same data (digits, 1,797 x 64):

1. Throughput (samples/s) of ``Trainer`` with a batch and an epoch listener
   attached, against ``model.fit(verbose=0)`` on the same model, alternating
   run by run; the median of ``--repeats`` runs each and the median of the paired
   ratios (target >= 0.95). On a shared machine the wall clock is noisy, so the
   same figures per CPU second of this process are printed too.
2. Stop latency: the time from ``stop()`` to the training thread's end (median).
3. A keras.io "Variational AutoEncoder" style model (custom ``train_step`` with
   ``tf.GradientTape``) on the same networks and loss terms, with its ratio to
   ``model.fit`` of vaewidget's VAE (``compute_loss``, backend-agnostic).

Run: ``.venv/bin/python benchmarks/training.py`` (``--repeats 3 --epochs 1`` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from vaewidget import VAE, Trainer, datasets  # noqa: E402
from vaewidget.models.layers import Sampling  # noqa: E402
from vaewidget.models.losses import kl_divergence, reconstruction_loss  # noqa: E402


class KerasIOVAE(keras.Model):
    """The keras.io VAE example's pattern: a ``train_step`` written with ``tf.GradientTape``."""

    def __init__(self, encoder, decoder, kind: str, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.kind = encoder, decoder, kind
        self.sampler = Sampling(seed=seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(data, training=True)
            z = self.sampler([z_mean, z_log_var])
            recon = ops.mean(reconstruction_loss(data, self.decoder(z, training=True), self.kind))
            kl = ops.mean(kl_divergence(z_mean, z_log_var))
            total = recon + kl
        grads = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(recon)
        self.kl_loss_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}


def make_vae(x: np.ndarray, args) -> VAE:
    model = VAE.from_data(x, latent_dim=10, hidden_units=tuple(args.hidden), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  steps_per_execution=args.steps_per_execution)
    return model


def rates(samples: int, wall: float, cpu: float) -> tuple[float, float]:
    """Samples per wall-clock second and per CPU second of this process (all threads)."""
    return samples / wall, samples / cpu


def time_fit(model, xp: np.ndarray, args) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(xp, epochs=args.epochs, batch_size=args.batch_size, verbose=0, shuffle=True)
    return rates(len(xp) * args.epochs, time.perf_counter() - wall, time.process_time() - cpu)


def time_trainer(model, x: np.ndarray, args) -> tuple[float, float]:
    trainer = Trainer(
        model, x, validation_split=0.0, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=1e-3, steps_per_execution=args.steps_per_execution,
    )
    seen = {"batches": 0, "epochs": 0}
    trainer.on_batch(lambda info: seen.__setitem__("batches", seen["batches"] + 1))
    trainer.on_epoch(lambda epoch, logs: seen.__setitem__("epochs", seen["epochs"] + 1))
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.start()
    trainer.wait()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if trainer.state != "finished" or seen["epochs"] != args.epochs or not seen["batches"]:
        raise RuntimeError(f"Trainer run did not finish cleanly: {trainer!r} {trainer.error}")
    return rates(len(x) * args.epochs, wall, cpu)


def stop_latency(model, x: np.ndarray, args, mid_epoch: bool) -> float:
    """Seconds from ``stop()`` to the thread's end.

    ``mid_epoch``: stop right after the middle batch of the first epoch. Otherwise stop
    50 ms after the second batch, wherever training then is (validation included).
    """
    trainer = Trainer(model, x, validation_split=0.1, epochs=1000, batch_size=args.batch_size,
                      batch_rate=None, steps_per_execution=args.steps_per_execution)
    ready = threading.Event()
    middle = trainer.progress["batches"] // 2
    target = middle if mid_epoch else 2
    trainer.on_batch(lambda info: ready.set() if info["batch"] >= target else None)
    trainer.start()
    if not ready.wait(60):
        raise RuntimeError("training did not reach its batch within 60 s")
    if not mid_epoch:
        time.sleep(0.05)
    start = time.perf_counter()
    trainer.stop()
    trainer.wait()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    # The same for fit and the Trainer (the Trainer's own default is "auto": benchmarks/scale.py).
    parser.add_argument("--steps-per-execution", type=int, default=1)
    args = parser.parse_args()

    x, _ = datasets.load_digits()
    model = make_vae(x, args)
    xp = model.prepare(x)
    kio_base = VAE.from_data(x, latent_dim=10, hidden_units=tuple(args.hidden), seed=0)
    kio = KerasIOVAE(kio_base.encoder, kio_base.decoder, kio_base.reconstruction)
    kio.compile(optimizer=keras.optimizers.Adam(1e-3),
                steps_per_execution=args.steps_per_execution)
    # Warm up: trace every train function once, outside the timings.
    model.fit(xp, epochs=1, batch_size=args.batch_size, verbose=0)
    kio.fit(xp, epochs=1, batch_size=args.batch_size, verbose=0)
    time_trainer(model, x, argparse.Namespace(**{**vars(args), "epochs": 1}))

    # Compile the validation step once too, so stop latency measures no tracing.
    warm = Trainer(model, x, validation_split=0.1, epochs=1, batch_size=args.batch_size,
                   steps_per_execution=args.steps_per_execution)
    warm.start()
    warm.wait()

    runs = {"fit": lambda: time_fit(model, xp, args),
            "trainer": lambda: time_trainer(model, x, args),
            "keras.io": lambda: time_fit(kio, xp, args)}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for r in range(args.repeats):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]  # alternate: drift hits all
        for name in order:
            results[name].append(runs[name]())
        print(f"repeat {r + 1}/{args.repeats}: " + ", ".join(
            f"{name} {results[name][-1][0]:.0f}" for name in runs) + " samples/s", flush=True)
    latencies = [stop_latency(model, x, args, mid_epoch=False) for _ in range(args.repeats)]
    mid = [stop_latency(model, x, args, mid_epoch=True) for _ in range(args.repeats)]

    def summary(name: str) -> tuple[float, float, float, float]:
        """Median samples/s, median of paired ratios to fit (wall), same per CPU second."""
        wall = statistics.median(w for w, _ in results[name])
        paired = statistics.median(
            a[0] / b[0] for a, b in zip(results[name], results["fit"])
        )
        cpu = statistics.median(c for _, c in results[name])
        paired_cpu = statistics.median(
            a[1] / b[1] for a, b in zip(results[name], results["fit"])
        )
        return wall, paired, cpu, paired_cpu

    fit, trainer, kio_s = summary("fit"), summary("trainer"), summary("keras.io")
    print("\n| measurement | median samples/s | ratio to fit (median of paired runs) "
          "| samples per CPU-s | CPU ratio |")
    print("|---|---|---|---|---|")
    print(f"| `model.fit(verbose=0)` | {fit[0]:.0f} | 1.00 | {fit[2]:.0f} | 1.00 |")
    print(f"| `Trainer` + batch and epoch listeners | {trainer[0]:.0f} | {trainer[1]:.3f} "
          f"(target >= 0.95) | {trainer[2]:.0f} | {trainer[3]:.3f} |")
    print(f"| keras.io-style `train_step` + `GradientTape` | {kio_s[0]:.0f} | {kio_s[1]:.3f} "
          f"| {kio_s[2]:.0f} | {kio_s[3]:.3f} |")
    for label, values in (("50 ms after batch 2 (anywhere)", latencies),
                          ("right after a mid-epoch batch", mid)):
        print(f"\nstop latency, `stop()` to thread end, {label}: median "
              f"{1000 * statistics.median(values):.1f} ms, max {1000 * max(values):.1f} ms "
              f"over {len(values)} stops")
    print(f"\nsettings: repeats={args.repeats}, epochs={args.epochs}, batch_size="
          f"{args.batch_size}, hidden={args.hidden}, latent_dim=10, rows={len(x)}, "
          f"steps_per_execution={args.steps_per_execution}, "
          f"keras {keras.__version__}, tensorflow {tf.__version__}")


if __name__ == "__main__":
    main()
