"""Save and load with safe_mode=True: config, weights, beta, warm-up, preparer, optimizer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from vaewidget.models import VAE, Autoencoder


def _round_trip(model, tmp_path, name="m.keras"):
    path = tmp_path / name
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def _assert_same(model, loaded, x):
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert loaded.preparer.get_config() == model.preparer.get_config()
    for a, b in zip(np.atleast_1d(model.encode(x)), np.atleast_1d(loaded.encode(x))):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    for w, v in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(w.numpy(), v.numpy(), err_msg=w.path)


def test_dense_vae_after_warmup_l1_l2_and_beta_change(small_digits, tmp_path):
    x = small_digits[0]
    model = VAE.from_data(
        x, latent_dim=3, hidden_units=(16,), beta=2.0, kl_warmup_epochs=3,
        l1=1e-5, l2=1e-4, noise_std=0.1, seed=4,
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(model.prepare(x), epochs=2, batch_size=64, verbose=0)
    model.beta = 0.75
    loaded = _round_trip(model, tmp_path)
    _assert_same(model, loaded, x)
    assert float(loaded.beta.numpy()) == 0.75
    assert float(loaded.kl_weight.numpy()) == pytest.approx(1 / 3)  # mid warm-up
    assert (loaded.kl_warmup_epochs, loaded.l1, loaded.l2, loaded.noise_std, loaded.seed) == (
        3, 1e-5, 1e-4, 0.1, 4,
    )
    # It comes back compiled, with its optimizer state, and goes on training.
    assert loaded.compiled
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    assert float(loaded.optimizer.learning_rate.numpy()) == pytest.approx(2e-3)
    h = loaded.fit(loaded.prepare(x), epochs=4, initial_epoch=2, batch_size=64, verbose=0).history
    assert "regularization_loss" in h and np.isfinite(h["loss"]).all()
    assert float(loaded.kl_weight.numpy()) == 1.0


def test_conv_vae_round_trip(digits_images, tmp_path):
    x = digits_images[0][:128]
    model = VAE.from_data(x, latent_dim=2, hidden_units=(8,), conv_filters=(4, 8), seed=0)
    model.compile()
    model.fit(model.prepare(x), epochs=1, batch_size=64, verbose=0)
    loaded = _round_trip(model, tmp_path)
    assert loaded.architecture_ == "conv"
    _assert_same(model, loaded, x)


def test_conv_vae_with_l2_on_odd_4d_images_round_trip(tmp_path):
    x = np.random.default_rng(1).uniform(0, 255, size=(40, 9, 7, 3)).round().astype(np.float32)
    model = VAE.from_data(x, latent_dim=2, hidden_units=(8,), conv_filters=(4,), l2=1e-3)
    model.compile()
    model.fit(model.prepare(x), epochs=1, batch_size=20, verbose=0)
    loaded = _round_trip(model, tmp_path)
    _assert_same(model, loaded, x)
    assert loaded.preparer.summary()["scaling"] == "minmax"


def test_autoencoder_round_trip_on_standardized_table(tiny_data, tmp_path):
    x = tiny_data[0]
    model = Autoencoder.from_data(x, latent_dim=2, hidden_units=(8,), l1=1e-4)
    model.compile()
    model.fit(model.prepare(x), epochs=1, batch_size=50, verbose=0)
    loaded = _round_trip(model, tmp_path)
    assert loaded.reconstruction == "mse"
    _assert_same(model, loaded, x)


def test_vae_on_counts_round_trip(count_table, tmp_path):
    x = count_table[0]
    model = VAE.from_data(x, latent_dim=2, hidden_units=(8,), seed=0)
    model.compile()
    model.fit(model.prepare(x), epochs=1, batch_size=50, verbose=0)
    loaded = _round_trip(model, tmp_path)
    assert loaded.preparer.scaling_ == "counts"
    assert loaded.preparer.count_total_ == pytest.approx(float(x.sum(1).mean()), rel=1e-5)
    _assert_same(model, loaded, x)
    assert (loaded.reconstruct(x[:5]) >= 0).all()  # counts per mean row total


def test_uncompiled_model_round_trip(tiny_data, tmp_path):
    model = VAE.from_data(tiny_data[0], latent_dim=2, hidden_units=(8,), seed=1)
    loaded = _round_trip(model, tmp_path)
    _assert_same(model, loaded, tiny_data[0][:5])


def test_shared_trained_vae_round_trip(trained_vae, digits, tmp_path):
    loaded = _round_trip(trained_vae, tmp_path)
    _assert_same(trained_vae, loaded, digits[0])
    np.testing.assert_array_equal(loaded.sample(3, seed=0), trained_vae.sample(3, seed=0))


def test_safe_mode_needs_no_lambda_layers(trained_vae):
    layers = [layer for net in (trained_vae.encoder, trained_vae.decoder) for layer in net.layers]
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in layers)
