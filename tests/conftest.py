"""Session-wide test fixtures: small data and one small trained VAE, shared by every test.

Data fixtures are read-only numpy arrays (writing to them raises), so no test can
change what another test sees; copy them (``x.copy()``) before editing.

=====================  ===================================================================
Fixture                What it is
=====================  ===================================================================
``digits``             ``(X, y)``: scikit-learn's digits, X float32 (1797, 64), values 0-16
                       (3 constant pixels), y int (1797,) the digit.
``digits_images``      ``(X, y)``: the same digits as (1797, 8, 8) images.
``small_digits``       ``(X, y)``: the first 300 digits, (300, 64), for quick fits.
``tiny_data``          ``(X, y)``: synthetic clusters, X float32 (200, 12), y int (200,),
                       3 clusters, standardized-scale values (negative and positive).
``trained_vae``        A :class:`vaewidget.VAE` (latent_dim=4, hidden_units=(32,), seed=0)
                       trained 10 epochs on ``digits`` with the defaults: ``compile()``
                       (Adam 1e-3), Keras's batch size 32, validation_split=0.1. Treat it as READ-ONLY: do
                       not fit it, assign its beta or change its weights; build your own
                       model for that (``make_vae`` helps).
``trained_vae_history``  The ``History.history`` dict of that training.
``make_vae``           A factory: ``make_vae(x, epochs=0, **kwargs)`` builds a small
                       compiled VAE (latent_dim=2, hidden_units=(32,), seed=0 unless
                       given) with ``VAE.from_data`` and fits it ``epochs`` epochs on
                       ``x`` (batch 64). Function-scoped, so each test gets its own model.
=====================  ===================================================================

The TensorFlow backend and quiet C++ logging are set before Keras is imported.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# isort: off
import vaewidget  # noqa: E402, F401  (first: it imports TensorFlow without its start-up lines)
# isort: on
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vaewidget import datasets  # noqa: E402
from vaewidget.models import VAE  # noqa: E402


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for a in arrays:
        a.setflags(write=False)
    return arrays


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Digits as rows: X float32 (1797, 64) in 0-16, y int (1797,)."""
    return _frozen(*datasets.load_digits())


@pytest.fixture(scope="session")
def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """Digits as images: X float32 (1797, 8, 8) in 0-16, y int (1797,)."""
    return _frozen(*datasets.load_digits(images=True))


@pytest.fixture(scope="session")
def small_digits(digits) -> tuple[np.ndarray, np.ndarray]:
    """The first 300 digits: X float32 (300, 64), y int (300,)."""
    x, y = digits
    return _frozen(x[:300].copy(), y[:300].copy())


@pytest.fixture(scope="session")
def count_table() -> tuple[np.ndarray, np.ndarray]:
    """Negative-binomial counts: X float32 (300, 40), y int (300,) with 3 types, rows
    differing about 5-fold in depth (a lognormal factor of sigma 0.5)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    mean = np.exp(rng.normal(0.5, 1.0, (3, 40)))
    mu = rng.lognormal(0.0, 0.5, 300)[:, None] * mean[y]
    x = rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(np.float32)
    return _frozen(x, y)


@pytest.fixture(scope="session")
def tiny_data() -> tuple[np.ndarray, np.ndarray]:
    """Synthetic clustered table: X float32 (200, 12), y int (200,) with 3 clusters."""
    return _frozen(
        *datasets.make_manifold_clusters(
            n_samples=200, n_clusters=3, n_features=12, noise_features=2, random_state=0
        )
    )


@pytest.fixture(scope="session")
def _trained(digits):
    x, _ = digits
    keras.utils.set_random_seed(0)
    model = VAE.from_data(x, latent_dim=4, hidden_units=(32,), seed=0)
    model.compile()
    history = model.fit(model.prepare(x), epochs=10, validation_split=0.1, verbose=0)
    return model, history.history


@pytest.fixture(scope="session")
def trained_vae(_trained) -> VAE:
    """A small VAE trained 10 epochs on digits. Read-only: see the module docstring."""
    return _trained[0]


@pytest.fixture(scope="session")
def trained_vae_history(_trained) -> dict[str, list[float]]:
    """The per-epoch metrics of ``trained_vae``'s training (with ``val_*``)."""
    return _trained[1]


@pytest.fixture
def make_vae():
    """Factory for a fresh small compiled VAE, optionally fitted a few epochs."""

    def make(x, epochs: int = 0, batch_size: int = 64, **kwargs) -> VAE:
        kwargs = {"latent_dim": 2, "hidden_units": (32,), "seed": 0, **kwargs}
        model = VAE.from_data(x, **kwargs)
        model.compile()
        if epochs:
            model.fit(model.prepare(x), epochs=epochs, batch_size=batch_size, verbose=0)
        return model

    return make
