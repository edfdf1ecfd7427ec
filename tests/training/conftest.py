"""Shared fixtures for the Trainer tests: a slice of digits, tiny real models, a batch log.

Models are tiny (one hidden layer of 16 units, 2-D latent) and data is 480 rows,
so a run of a few epochs takes well under a second once its functions are traced.
One compiled VAE is shared by the tests that do not care about its weights, to
pay the tracing cost once.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vaewidget import VAE, Autoencoder, datasets  # noqa: E402

#: Generous bound for "this should happen soon" waits on a busy 2-core CI box.
SOON = 60.0


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    x, _ = datasets.load_digits()
    return x[:480]


@pytest.fixture
def make_vae(digits):
    def make(**kwargs):
        kwargs = {"latent_dim": 2, "hidden_units": (16,), "seed": 0, **kwargs}
        return VAE.from_data(digits, **kwargs)

    return make


@pytest.fixture
def make_autoencoder(digits):
    def make(**kwargs):
        kwargs = {"latent_dim": 2, "hidden_units": (16,), "seed": 0, **kwargs}
        return Autoencoder.from_data(digits, **kwargs)

    return make


@pytest.fixture(scope="session")
def _shared_vae(digits):
    return VAE.from_data(digits, latent_dim=2, hidden_units=(16,), seed=1)


@pytest.fixture
def vae(_shared_vae):
    """The shared VAE, with beta reset (its weights go on from earlier tests)."""
    _shared_vae.beta.assign(1.0)
    return _shared_vae


class BatchLog(keras.callbacks.Callback):
    """A real Keras callback that logs each finished training batch: (epoch, batch, time).

    ``reached(n)`` gives an Event set once ``n`` batches have finished.
    """

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[int, int, float]] = []
        self._epoch = 0
        self._lock = threading.Lock()
        self._waits: list[tuple[int, threading.Event]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        with self._lock:
            self.batches.append((self._epoch, batch, time.monotonic()))
            n = len(self.batches)
            for target, event in self._waits:
                if n >= target:
                    event.set()

    def reached(self, n: int) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._waits.append((len(self.batches) + n, event))
        return event

    def count(self) -> int:
        with self._lock:
            return len(self.batches)


@pytest.fixture
def batch_log() -> BatchLog:
    return BatchLog()


def state_events(trainer) -> tuple[list[str], dict[str, threading.Event]]:
    """Record every state of ``trainer``; one Event per state name, set when reached."""
    seen: list[str] = []
    events = {name: threading.Event() for name in
              ("running", "paused", "stopping", "stopped", "finished", "failed")}

    def listener(state: str) -> None:
        seen.append(state)
        events[state].set()

    trainer.on_state(listener)
    return seen, events


@pytest.fixture
def watch_states():
    return state_events


def thread_stacks() -> str:
    """Every thread's name and stack, for the message of a wait that timed out."""
    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(
        f"--- thread {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame))
        for ident, frame in sys._current_frames().items()
    )


@pytest.fixture
def stacks():
    """:func:`thread_stacks`, for tests that wait on a training thread."""
    return thread_stacks
