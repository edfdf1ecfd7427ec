"""The terms of the VAE loss (the negative ELBO), written with ``keras.ops`` only.

Every function returns one value per sample (summed over features and latent
dimensions); the models average over the batch.
"""

from __future__ import annotations

import keras
from keras import ops


def kl_divergence(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) in closed form, per sample.

    For a diagonal Gaussian q with mean mu and variance sigma^2:
    ``0.5 * sum(mu^2 + sigma^2 - log(sigma^2) - 1)``.
    """
    return 0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - z_log_var - 1.0, axis=-1)


def _sum_features(values):
    batch = ops.shape(values)[0]
    return ops.sum(ops.reshape(values, (batch, -1)), axis=-1)


def bernoulli_nll(x, logits):
    """Binary cross-entropy of targets in [0, 1] given decoder logits, per sample.

    Computed from logits (``max(l, 0) - l * x + log(1 + exp(-|l|))``), which stays
    finite where a sigmoid followed by a log would not.
    """
    per_value = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    return _sum_features(per_value)


def gaussian_nll(x, x_hat):
    """Gaussian negative log-likelihood with unit variance, less its constant, per sample.

    That is ``0.5 * sum((x - x_hat)^2)``: squared error on the scale of the ELBO.
    """
    return 0.5 * _sum_features(ops.square(x - x_hat))


def reconstruction_loss(x, decoder_output, kind: str):
    """Per-sample reconstruction term: ``kind`` is ``"bce"`` (logits) or ``"mse"``."""
    if kind == "bce":
        return bernoulli_nll(x, decoder_output)
    if kind == "mse":
        return gaussian_nll(x, decoder_output)
    raise ValueError(f"Expected reconstruction 'bce' or 'mse'. Received: {kind!r}")


def scale_for_replicas(loss):
    """Divide a model's total loss by the number of ``tf.distribute`` replicas.

    Under a strategy such as ``MirroredStrategy`` each replica computes the loss of
    its share of the global batch and the gradients are summed across replicas.
    Keras divides compiled losses by the replica count for that; a model whose own
    ``compute_loss`` returns the loss must do the same, or its steps are N times too
    large. The metrics keep the unscaled values. A no-op on other backends and
    without a strategy.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)
