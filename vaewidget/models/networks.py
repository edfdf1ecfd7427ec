"""Encoder and decoder builders: dense networks for vectors, convolutional ones for images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras

ARCHITECTURES = ("auto", "dense", "conv")


def choose_architecture(architecture: str, input_shape: Sequence[int]) -> str:
    """Resolve ``"auto"``: convolutional for image input ``(H, W, C)``, dense otherwise."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Expected architecture in {ARCHITECTURES}. Received: architecture={architecture!r}"
        )
    is_image = len(input_shape) == 3
    if architecture == "auto":
        return "conv" if is_image else "dense"
    if architecture == "conv" and not is_image:
        raise ValueError(
            "Expected image input (rows, height, width[, channels]) for architecture='conv'. "
            f"Received rows of shape {tuple(input_shape)}."
        )
    return architecture


def make_regularizer(l1: float, l2: float) -> keras.regularizers.Regularizer | None:
    """An L1/L2 weight regularizer, or ``None`` when both are zero."""
    if l1 < 0 or l2 < 0:
        raise ValueError(f"Expected l1 >= 0 and l2 >= 0. Received: l1={l1}, l2={l2}")
    if l1 == 0 and l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def build_encoder(
    input_shape: Sequence[int],
    latent_dim: int,
    *,
    architecture: str,
    hidden_units: Sequence[int],
    conv_filters: Sequence[int],
    activation: str,
    variational: bool,
    regularizer: keras.regularizers.Regularizer | None = None,
) -> keras.Model:
    """Build the encoder. It outputs ``[z_mean, z_log_var]`` when variational, else ``z``."""
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    h = inputs
    if architecture == "conv":
        for i, filters in enumerate(conv_filters):
            h = keras.layers.Conv2D(
                filters, 3, strides=2, padding="same", activation=activation,
                kernel_regularizer=regularizer, name=f"conv_{i}",
            )(h)
        h = keras.layers.Flatten(name="flatten")(h)
        units = hidden_units[-1:]
    else:
        if len(input_shape) > 1:
            h = keras.layers.Flatten(name="flatten")(h)
        units = hidden_units
    for i, n in enumerate(units):
        h = keras.layers.Dense(
            n, activation=activation, kernel_regularizer=regularizer, name=f"dense_{i}"
        )(h)
    z_mean = keras.layers.Dense(latent_dim, kernel_regularizer=regularizer, name="z_mean")(h)
    if not variational:
        return keras.Model(inputs, z_mean, name="encoder")
    z_log_var = keras.layers.Dense(latent_dim, kernel_regularizer=regularizer, name="z_log_var")(h)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_decoder(
    output_shape: Sequence[int],
    latent_dim: int,
    *,
    architecture: str,
    hidden_units: Sequence[int],
    conv_filters: Sequence[int],
    activation: str,
    regularizer: keras.regularizers.Regularizer | None = None,
) -> keras.Model:
    """Build the decoder. Its last layer is linear: logits for ``"bce"``, values for ``"mse"``."""
    inputs = keras.Input(shape=(latent_dim,), name="z")
    h = inputs
    units = hidden_units[-1:] if architecture == "conv" else hidden_units
    for i, n in enumerate(reversed(units)):
        h = keras.layers.Dense(
            n, activation=activation, kernel_regularizer=regularizer, name=f"dense_{i}"
        )(h)
    if architecture == "conv":
        height, width, channels = output_shape
        n_up = len(conv_filters)
        small_h, small_w = height, width
        for _ in range(n_up):
            small_h, small_w = math.ceil(small_h / 2), math.ceil(small_w / 2)
        h = keras.layers.Dense(
            small_h * small_w * conv_filters[-1], activation=activation,
            kernel_regularizer=regularizer, name="to_grid",
        )(h)
        h = keras.layers.Reshape((small_h, small_w, conv_filters[-1]), name="grid")(h)
        for i, filters in enumerate(reversed(conv_filters)):
            h = keras.layers.Conv2DTranspose(
                filters, 3, strides=2, padding="same", activation=activation,
                kernel_regularizer=regularizer, name=f"deconv_{i}",
            )(h)
        h = keras.layers.Conv2D(
            channels, 3, padding="same", kernel_regularizer=regularizer, name="out"
        )(h)
        extra_h, extra_w = small_h * 2**n_up - height, small_w * 2**n_up - width
        if extra_h or extra_w:
            h = keras.layers.Cropping2D(((0, extra_h), (0, extra_w)), name="crop")(h)
        outputs = h
    else:
        h = keras.layers.Dense(
            int(math.prod(output_shape)), kernel_regularizer=regularizer, name="out"
        )(h)
        outputs = keras.layers.Reshape(tuple(output_shape), name="shape")(h)
    return keras.Model(inputs, outputs, name="decoder")
