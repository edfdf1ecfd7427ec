"""Custom layers. They are registered, so saved models load with ``safe_mode=True``."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vaewidget")
class Sampling(keras.layers.Layer):
    """The reparameterization trick: ``z = mean + exp(log_var / 2) * eps``, eps ~ N(0, I).

    Gradients reach the encoder through ``mean`` and ``log_var``, because the
    randomness enters only through ``eps``.

    Parameters
    ----------
    seed
        Seed of the layer's :class:`keras.random.SeedGenerator`.
    """

    def __init__(self, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
