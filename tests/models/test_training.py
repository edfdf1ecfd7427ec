"""Training: the ELBO falls, each loss term is a metric, beta and KL warm-up act, noise."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from vaewidget.models import VAE, Autoencoder, KLWarmup, reconstruction_loss

VAE_TERMS = ["loss", "reconstruction_loss", "kl_loss", "weighted_kl_loss"]


def _mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - b) ** 2))


def test_auto_rule_picks_bernoulli_for_digits(trained_vae):
    assert trained_vae.reconstruction == "bce"
    assert trained_vae.preparer.scaling_ == "minmax"


def test_elbo_drops_30_percent_from_first_to_tenth_epoch(trained_vae_history):
    loss = trained_vae_history["loss"]
    assert len(loss) == 10 and np.isfinite(loss).all()
    assert loss[9] <= 0.7 * loss[0], loss
    assert trained_vae_history["val_loss"][9] < trained_vae_history["val_loss"][0]


def test_vae_reconstructs_better_than_the_data_mean(trained_vae, digits):
    x = digits[0]
    baseline = _mse(np.broadcast_to(x.mean(axis=0), x.shape), x)
    recon = trained_vae.reconstruct(x)
    assert recon.shape == x.shape
    assert _mse(recon, x) < baseline, (_mse(recon, x), baseline)


def test_autoencoder_reconstructs_better_than_the_data_mean(digits):
    x = digits[0]
    keras.utils.set_random_seed(0)
    model = Autoencoder.from_data(x, latent_dim=4, hidden_units=(32,), seed=0)
    model.compile()
    history = model.fit(model.prepare(x), epochs=5, verbose=0).history
    assert sorted(history) == ["loss", "reconstruction_loss"]
    baseline = _mse(np.broadcast_to(x.mean(axis=0), x.shape), x)
    assert _mse(model.reconstruct(x), x) < 0.9 * baseline
    assert model.encode(x[:3]).shape == (3, 4)  # a code, no variance


def test_each_term_is_a_metric_in_training_and_validation(trained_vae, trained_vae_history):
    assert sorted(trained_vae_history) == sorted(VAE_TERMS + [f"val_{t}" for t in VAE_TERMS])
    assert sorted(m.name for m in trained_vae.metrics) == sorted(VAE_TERMS)
    h = trained_vae_history
    for prefix in ("", "val_"):
        total = np.add(h[f"{prefix}reconstruction_loss"], h[f"{prefix}weighted_kl_loss"])
        np.testing.assert_allclose(h[f"{prefix}loss"], total, rtol=1e-4)
        assert (np.asarray(h[f"{prefix}kl_loss"]) > 0).all()


def test_regularization_is_its_own_metric_when_l1_or_l2_is_set(small_digits):
    x = small_digits[0]
    model = VAE.from_data(x, latent_dim=2, hidden_units=(16,), l1=1e-4, l2=1e-3, seed=0)
    model.compile()
    h = model.fit(model.prepare(x), epochs=2, validation_split=0.2, verbose=0).history
    for prefix in ("", "val_"):
        reg = np.asarray(h[f"{prefix}regularization_loss"])
        assert (reg > 0).all()
        total = np.add(h[f"{prefix}reconstruction_loss"], h[f"{prefix}weighted_kl_loss"]) + reg
        np.testing.assert_allclose(h[f"{prefix}loss"], total, rtol=1e-4)
    # Validation runs on the final weights: its metric is their L1/L2 penalty, every kernel.
    kernels = [w.numpy() for w in model.trainable_weights if w.path.endswith("kernel")]
    assert len(kernels) == 5  # dense_0, z_mean, z_log_var; decoder dense_0, out
    penalty = sum(1e-4 * np.abs(k).sum() + 1e-3 * np.square(k).sum() for k in kernels)
    np.testing.assert_allclose(h["val_regularization_loss"][-1], penalty, rtol=1e-4)


def test_assigning_beta_changes_the_kl_weight_in_the_next_fit(small_digits, make_vae):
    x = small_digits[0]
    model = make_vae(x, beta=1.0)
    data = model.prepare(x)
    h1 = model.fit(data, epochs=1, verbose=0).history
    np.testing.assert_allclose(h1["weighted_kl_loss"], h1["kl_loss"], rtol=1e-5)

    model.beta = 0.0  # the setter assigns the variable the compiled step reads
    assert isinstance(model.beta, keras.Variable)
    h2 = model.fit(data, epochs=1, verbose=0).history
    assert h2["weighted_kl_loss"] == [0.0] and h2["kl_loss"][0] > 0
    np.testing.assert_allclose(h2["loss"], h2["reconstruction_loss"], rtol=1e-6)

    model.beta.assign(2.5)
    h3 = model.fit(data, epochs=1, verbose=0).history
    np.testing.assert_allclose(h3["weighted_kl_loss"], np.multiply(2.5, h3["kl_loss"]), rtol=1e-5)
    assert model.get_config()["beta"] == 2.5


def test_negative_beta_is_refused_and_changes_nothing(make_vae, small_digits):
    model = make_vae(small_digits[0], beta=0.5)
    with pytest.raises(ValueError, match="Expected beta >= 0. Received: beta=-1.0"):
        model.beta = -1.0
    assert float(model.beta.numpy()) == 0.5
    with pytest.raises(ValueError, match="Expected beta >= 0"):
        VAE.from_data(small_digits[0], beta=-0.1)


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(float(self.model.kl_weight.numpy()))


def test_kl_warmup_raises_the_kl_weight_linearly(small_digits, make_vae):
    x = small_digits[0]
    model = make_vae(x, kl_warmup_epochs=4, beta=2.0)
    assert float(model.kl_weight.numpy()) == 0.0  # starts off
    record = _Record()
    h = model.fit(model.prepare(x), epochs=6, verbose=0, callbacks=[record]).history
    assert record.weights == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    ratio = np.divide(h["weighted_kl_loss"], h["kl_loss"])
    np.testing.assert_allclose(ratio, [2.0 * w for w in record.weights], rtol=1e-5)


def test_kl_warmup_keeps_its_place_when_training_continues(small_digits, make_vae):
    x = small_digits[0]
    model = make_vae(x, kl_warmup_epochs=4)
    data = model.prepare(x)
    record = _Record()
    model.fit(data, epochs=2, verbose=0, callbacks=[record])
    model.fit(data, epochs=4, initial_epoch=2, verbose=0, callbacks=[record])
    assert record.weights == [0.0, 0.25, 0.5, 0.75]
    # A user's own KLWarmup replaces the built-in one instead of doubling it.
    record2 = _Record()
    model.fit(data, epochs=2, verbose=0, callbacks=[KLWarmup(1), record2])
    assert record2.weights == [0.0, 1.0]


def test_denoising_noise_is_applied_only_in_training(small_digits, make_vae):
    x = small_digits[0][:32]
    model = make_vae(small_digits[0], noise_std=0.5)
    data = model.prepare(x)
    clean = model.encoder(data)[0].numpy()
    noisy_a = model(data, training=True)["z_mean"].numpy()
    noisy_b = model(data, training=True)["z_mean"].numpy()
    assert not np.allclose(noisy_a, clean) and not np.allclose(noisy_a, noisy_b)
    np.testing.assert_array_equal(model(data, training=False)["z_mean"].numpy(), clean)
    np.testing.assert_array_equal(model.embed(x), model.embed(x))
    np.testing.assert_allclose(model.embed(x), clean, rtol=1e-5, atol=1e-6)
    # Without noise, training mode sees the clean input.
    plain = make_vae(small_digits[0])
    np.testing.assert_allclose(
        plain(data, training=True)["z_mean"].numpy(), plain.encoder(data)[0].numpy(), rtol=1e-6
    )


def test_denoising_model_trains_and_evaluates_on_clean_input(digits):
    x = digits[0]
    keras.utils.set_random_seed(0)
    # An autoencoder: deterministic, so only the input noise separates the two passes.
    model = Autoencoder.from_data(x, latent_dim=4, hidden_units=(32,), noise_std=0.5, seed=0)
    model.compile()
    data = model.prepare(x)
    h = model.fit(data, epochs=3, verbose=0).history
    assert np.isfinite(h["loss"]).all()
    # evaluate() sees clean input; the training-mode forward pass sees noisy input,
    # and the clean target makes that visible as a worse reconstruction.
    clean = model.evaluate(data, batch_size=2048, verbose=0, return_dict=True)
    noisy = float(ops.mean(reconstruction_loss(data, model(data, training=True)["reconstruction"], "bce")))
    assert noisy > clean["reconstruction_loss"], (noisy, clean)
    np.testing.assert_allclose(
        clean["reconstruction_loss"],
        float(ops.mean(reconstruction_loss(data, model(data)["reconstruction"], "bce"))),
        rtol=1e-5,
    )


def test_sample_weights_scale_the_loss_terms_like_keras_losses(tiny_data):
    x = tiny_data[0][:64]
    model = Autoencoder.from_data(tiny_data[0], latent_dim=2, hidden_units=(8,))
    model.compile()
    data = model.prepare(x)
    plain = model.evaluate(data, batch_size=64, verbose=0, return_dict=True)
    # Keras drops sample_weight when y is None, so weighted calls pass the target.
    doubled = model.evaluate(
        data, data, sample_weight=np.full(64, 2.0), batch_size=64, verbose=0, return_dict=True
    )
    np.testing.assert_allclose(
        doubled["reconstruction_loss"], 2 * plain["reconstruction_loss"], rtol=1e-5
    )
    half = np.r_[np.ones(32), np.zeros(32)]
    first = model.evaluate(data, data, sample_weight=half, batch_size=64, verbose=0, return_dict=True)
    own = model.evaluate(data[:32], batch_size=32, verbose=0, return_dict=True)
    np.testing.assert_allclose(first["loss"], own["loss"] / 2, rtol=1e-5)
