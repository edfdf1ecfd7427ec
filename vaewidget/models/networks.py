"""Encoder and decoder builders: dense networks for vectors, convolutional ones for images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras

from vaewidget.models.layers import SplitMembers

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
    members: int = 1,
) -> keras.Model:
    """Build the encoder. It outputs ``[z_mean, z_log_var]`` when variational, else ``z``.

    With ``members > 1`` it holds that many independent towers reading the same
    input; their codes are concatenated, member by member, so each output has
    ``members * latent_dim`` columns.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    shapes = dict(architecture=architecture, hidden_units=hidden_units,
                  conv_filters=conv_filters, activation=activation, regularizer=regularizer)
    if members == 1:
        outs = _encoder_tower(inputs, latent_dim, variational, "", **shapes)
    else:
        towers = [_encoder_tower(inputs, latent_dim, variational, f"m{i}_", **shapes)
                  for i in range(members)]
        outs = [keras.layers.Concatenate(name=name)([t[j] for t in towers])
                for j, name in enumerate(("z_mean", "z_log_var")[: len(towers[0])])]
    return keras.Model(inputs, outs if variational else outs[0], name="encoder")


def _encoder_tower(inputs, latent_dim, variational, prefix, *, architecture, hidden_units,
                   conv_filters, activation, regularizer) -> list:
    """One encoder's layers from ``inputs``: ``[z_mean, z_log_var]`` or ``[z]``."""
    h = inputs
    if architecture == "conv":
        for i, filters in enumerate(conv_filters):
            h = keras.layers.Conv2D(
                filters, 3, strides=2, padding="same", activation=activation,
                kernel_regularizer=regularizer, name=f"{prefix}conv_{i}",
            )(h)
        h = keras.layers.Flatten(name=f"{prefix}flatten")(h)
        units = hidden_units[-1:]
    else:
        if len(inputs.shape) > 2:
            h = keras.layers.Flatten(name=f"{prefix}flatten")(h)
        units = hidden_units
    for i, n in enumerate(units):
        h = keras.layers.Dense(
            n, activation=activation, kernel_regularizer=regularizer, name=f"{prefix}dense_{i}"
        )(h)
    names = ("z_mean", "z_log_var") if variational else ("z_mean",)
    return [keras.layers.Dense(latent_dim, kernel_regularizer=regularizer,
                               name=f"{prefix}{name}")(h) for name in names]


def build_decoder(
    output_shape: Sequence[int],
    latent_dim: int,
    *,
    architecture: str,
    hidden_units: Sequence[int],
    conv_filters: Sequence[int],
    activation: str,
    regularizer: keras.regularizers.Regularizer | None = None,
    members: int = 1,
) -> keras.Model:
    """Build the decoder. Its last layer is linear: logits for ``"bce"``, values for ``"mse"``.

    With ``members > 1`` its input is the members' concatenated codes; each member
    decodes its own ``latent_dim`` columns, and the output has a members axis:
    ``(rows, members, *output_shape)``.
    """
    inputs = keras.Input(shape=(members * latent_dim,), name="z")
    shapes = dict(architecture=architecture, hidden_units=hidden_units,
                  conv_filters=conv_filters, activation=activation, regularizer=regularizer)
    if members == 1:
        return keras.Model(inputs, _decoder_tower(inputs, output_shape, "", **shapes),
                           name="decoder")
    codes = SplitMembers(members, name="members")(inputs)
    outs = [keras.layers.Reshape((1, *output_shape), name=f"m{i}_stack")(
        _decoder_tower(z, output_shape, f"m{i}_", **shapes)) for i, z in enumerate(codes)]
    return keras.Model(inputs, keras.layers.Concatenate(axis=1, name="shape")(outs),
                       name="decoder")


def _decoder_tower(inputs, output_shape, prefix, *, architecture, hidden_units, conv_filters,
                   activation, regularizer):
    """One decoder's layers from its code ``inputs`` to an output of ``output_shape``."""
    h = inputs
    units = hidden_units[-1:] if architecture == "conv" else hidden_units
    for i, n in enumerate(reversed(units)):
        h = keras.layers.Dense(
            n, activation=activation, kernel_regularizer=regularizer, name=f"{prefix}dense_{i}"
        )(h)
    if architecture == "conv":
        height, width, channels = output_shape
        n_up = len(conv_filters)
        small_h, small_w = height, width
        for _ in range(n_up):
            small_h, small_w = math.ceil(small_h / 2), math.ceil(small_w / 2)
        h = keras.layers.Dense(
            small_h * small_w * conv_filters[-1], activation=activation,
            kernel_regularizer=regularizer, name=f"{prefix}to_grid",
        )(h)
        h = keras.layers.Reshape((small_h, small_w, conv_filters[-1]), name=f"{prefix}grid")(h)
        for i, filters in enumerate(reversed(conv_filters)):
            h = keras.layers.Conv2DTranspose(
                filters, 3, strides=2, padding="same", activation=activation,
                kernel_regularizer=regularizer, name=f"{prefix}deconv_{i}",
            )(h)
        h = keras.layers.Conv2D(
            channels, 3, padding="same", kernel_regularizer=regularizer, name=f"{prefix}out"
        )(h)
        extra_h, extra_w = small_h * 2**n_up - height, small_w * 2**n_up - width
        if extra_h or extra_w:
            h = keras.layers.Cropping2D(((0, extra_h), (0, extra_w)), name=f"{prefix}crop")(h)
        return h
    h = keras.layers.Dense(
        int(math.prod(output_shape)), kernel_regularizer=regularizer, name=f"{prefix}out"
    )(h)
    return keras.layers.Reshape(tuple(output_shape), name=f"{prefix}shape")(h)
