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


@keras.saving.register_keras_serializable(package="vaewidget")
class SplitMembers(keras.layers.Layer):
    """Split the concatenated codes of an ensemble into one code per member.

    Input ``(rows, members * latent_dim)``; output a list of ``members`` arrays of
    ``(rows, latent_dim)``, in member order.

    Parameters
    ----------
    members
        Number of members whose codes were concatenated.
    """

    def __init__(self, members: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.members = int(members)

    def call(self, inputs):
        return ops.split(inputs, self.members, axis=-1)

    def compute_output_shape(self, input_shape):
        width = None if input_shape[-1] is None else input_shape[-1] // self.members
        return [(*input_shape[:-1], width)] * self.members

    def get_config(self):
        return {**super().get_config(), "members": self.members}
