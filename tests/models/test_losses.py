"""The math: closed-form KL, reconstruction terms, and gradients through sampling."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from vaewidget.models import Sampling, kl_divergence, reconstruction_loss
from vaewidget.models.losses import bernoulli_nll, gaussian_nll


def _normal_logpdf(z, mean, var):
    return -0.5 * (np.log(2 * np.pi * var) + (z - mean) ** 2 / var)


def test_kl_closed_form_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(3, 4)).astype(np.float32)
    log_var = rng.normal(scale=0.7, size=(3, 4)).astype(np.float32)
    closed = ops.convert_to_numpy(kl_divergence(mean, log_var))
    assert closed.shape == (3,)

    # KL(q || p) = E_q[log q(z) - log p(z)], estimated with 200,000 draws per row.
    var = np.exp(log_var.astype(np.float64))
    z = mean[:, None, :] + np.sqrt(var)[:, None, :] * rng.standard_normal((3, 200_000, 4))
    log_q = _normal_logpdf(z, mean[:, None, :], var[:, None, :]).sum(-1)
    log_p = _normal_logpdf(z, 0.0, 1.0).sum(-1)
    monte_carlo = (log_q - log_p).mean(axis=1)
    np.testing.assert_allclose(closed, monte_carlo, rtol=0.02, atol=0.01)


def test_kl_is_zero_for_the_prior_and_positive_elsewhere():
    zeros = np.zeros((2, 5), np.float32)
    np.testing.assert_allclose(ops.convert_to_numpy(kl_divergence(zeros, zeros)), 0.0, atol=1e-7)
    assert (ops.convert_to_numpy(kl_divergence(zeros + 0.1, zeros)) > 0).all()


def test_bernoulli_term_matches_hand_computation():
    x = np.array([[0.0, 1.0, 0.25], [1.0, 0.5, 0.0]], np.float32)
    logits = np.array([[-2.0, 3.0, 0.5], [6.0, -1.0, -8.0]], np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    expected = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1)
    got = ops.convert_to_numpy(reconstruction_loss(x, logits, "bce"))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(bernoulli_nll(x, logits)), expected, rtol=1e-5)


def test_bernoulli_term_stays_finite_for_extreme_logits():
    x = np.array([[0.0, 1.0]], np.float32)
    logits = np.array([[1e4, -1e4]], np.float32)  # confidently wrong: sigmoid saturates
    got = ops.convert_to_numpy(bernoulli_nll(x, logits))
    np.testing.assert_allclose(got, [2e4], rtol=1e-6)


def test_gaussian_term_matches_hand_computation():
    x = np.array([[1.0, -2.0], [0.5, 0.0]], np.float32)
    x_hat = np.array([[0.0, -1.0], [0.5, 3.0]], np.float32)
    expected = 0.5 * ((x - x_hat) ** 2).sum(axis=1)  # [1.0, 4.5]
    np.testing.assert_allclose(ops.convert_to_numpy(gaussian_nll(x, x_hat)), expected)
    np.testing.assert_allclose(
        ops.convert_to_numpy(reconstruction_loss(x, x_hat, "mse")), [1.0, 4.5]
    )


def test_reconstruction_terms_sum_over_image_axes():
    x = np.full((2, 3, 3, 1), 0.5, np.float32)
    per_row = ops.convert_to_numpy(gaussian_nll(x, np.zeros_like(x)))
    np.testing.assert_allclose(per_row, [0.5 * 9 * 0.25] * 2)


def test_unknown_reconstruction_kind_is_refused():
    with pytest.raises(ValueError, match="Expected reconstruction .* Received: 'l1'"):
        reconstruction_loss(np.zeros((1, 2)), np.zeros((1, 2)), "l1")


def test_sampling_draws_from_the_right_distribution_with_a_seed():
    mean = np.full((50_000, 2), [1.0, -3.0], np.float32)
    log_var = np.full((50_000, 2), np.log([0.25, 4.0]), np.float32)
    z = ops.convert_to_numpy(Sampling(seed=3)([mean, log_var]))
    np.testing.assert_allclose(z.mean(0), [1.0, -3.0], atol=0.03)
    np.testing.assert_allclose(z.std(0), [0.5, 2.0], rtol=0.02)
    again = ops.convert_to_numpy(Sampling(seed=3)([mean, log_var]))
    np.testing.assert_array_equal(z, again)


def test_gradients_reach_the_encoder_through_sampling(trained_vae, digits):
    x = trained_vae.prepare(digits[0][:16])
    encoder_weights = trained_vae.encoder.trainable_variables
    with tf.GradientTape() as tape:
        out = trained_vae(x, training=True)
        loss = ops.mean(reconstruction_loss(x, out["reconstruction"], trained_vae.reconstruction))
    grads = tape.gradient(loss, encoder_weights)
    by_name = {w.path: g for w, g in zip(encoder_weights, grads)}
    # The reconstruction alone reaches z_mean AND z_log_var only through z = mean + sigma*eps.
    for name in ("z_mean/kernel", "z_log_var/kernel", "dense_0/kernel"):
        grad = next(g for path, g in by_name.items() if path.endswith(name))
        assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0, name


def test_sampling_is_not_a_lambda_and_round_trips_its_config():
    layer = Sampling(seed=7, name="s")
    clone = Sampling.from_config(layer.get_config())
    assert clone.seed == 7 and not isinstance(layer, keras.layers.Lambda)
