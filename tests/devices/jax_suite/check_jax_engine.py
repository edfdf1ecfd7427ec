"""The engine on the JAX backend: run by tests/devices/test_devices.py in a subprocess with
``KERAS_BACKEND=jax`` and two forced CPU devices, as

    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 \\
        python -m pytest tests/devices/jax_suite -o python_files='check_*.py'

(The main test run does not collect these files: their names do not start with ``test_``.)
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from vaewidget import VAE, Trainer, VAEClusterer

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax",
                                reason="run with KERAS_BACKEND=jax (see the module docstring)")

SOON = 120.0


def test_the_backend_is_jax_with_two_devices():
    import jax

    assert keras.backend.backend() == "jax"
    assert len(jax.devices("cpu")) == 2, os.environ.get("XLA_FLAGS")


@pytest.fixture(scope="module")
def fitted(small_digits):
    """One small VAE, fitted once (each new model costs a JAX compilation)."""
    x, _ = small_digits
    model = VAE.from_data(x, latent_dim=2, hidden_units=(32,), seed=0)
    model.compile()
    history = model.fit(model.prepare(x), epochs=2, batch_size=64, verbose=0)
    return model, history.history


def test_vae_fits_and_encodes(small_digits, fitted):
    x, _ = small_digits
    model, history = fitted
    assert np.isfinite(history["loss"]).all() and history["loss"][1] < history["loss"][0]
    z_mean, z_log_var = model.encode(x[:10])
    assert z_mean.shape == z_log_var.shape == (10, 2) and np.isfinite(z_mean).all()
    assert model.sample(3, seed=0).shape == (3, 64)


def test_trainer_starts_stops_and_finishes(small_digits, fitted):
    x, _ = small_digits
    model, _ = fitted
    t = Trainer(model, x, epochs=1000, batch_size=64, steps_per_execution=1)
    t.start()
    assert t.state == "running"
    assert t.stop(wait=True, timeout=SOON) and t.state == "stopped", t.error
    t.epochs = 2
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert len(t.history["loss"]) >= 2 and np.isfinite(t.history["loss"]).all()


def test_trainer_streams_a_file(small_digits, fitted, tmp_path):
    x, _ = small_digits
    model, _ = fitted
    np.save(tmp_path / "x.npy", np.ascontiguousarray(x))
    t = Trainer(model, str(tmp_path / "x.npy"), epochs=1, batch_size=64, steps_per_execution=1)
    assert t._data.streaming
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert np.isfinite(t.history["val_loss"]).all()


def test_save_and_load_round_trip(small_digits, fitted, tmp_path):
    x, _ = small_digits
    model, _ = fitted
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.embed(x[:20]), model.embed(x[:20]), rtol=1e-5, atol=1e-6)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0
    assert loaded.preparer.get_config() == model.preparer.get_config()


def test_a_small_clusterer_fit(small_digits):
    x, _ = small_digits
    est = VAEClusterer(latent_dim=4, hidden_units=(32,), epochs=1, batch_size=64, projection=None,
                       random_state=0).fit(x)
    assert est.labels_.shape == (300,)  # a small model on 300 rows: "auto" gives nine members
    assert est.embedding_.shape == (300, 4 * est.model_.members) and est.model_.members == 9
    assert est.n_clusters_ >= 1
    assert est.predict(x[:10]).shape == (10,)


def test_data_parallel_gives_the_loss_of_one_device(small_digits):
    import jax

    x, _ = small_digits
    losses = {}
    start = None
    for name in ("one", "two"):
        distribution = (keras.distribution.DataParallel(devices=jax.devices("cpu"))
                        if name == "two" else None)
        keras.distribution.set_distribution(distribution)
        try:
            keras.utils.set_random_seed(0)
            model = VAE.from_data(x, latent_dim=2, hidden_units=(32,), seed=0)
            if start is None:
                start = model.get_weights()
            model.set_weights(start)
            model.compile()
            prepared = model.prepare(x)
            history = model.fit(prepared, epochs=3, batch_size=64, shuffle=False, verbose=0)
            losses[name] = history.history["loss"]
        finally:
            keras.distribution.set_distribution(None)
    np.testing.assert_allclose(losses["two"], losses["one"], rtol=1e-4)
