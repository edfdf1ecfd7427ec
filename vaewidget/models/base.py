"""What the autoencoder and the VAE share: configuration, data preparation and numpy methods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from vaewidget._validation import as_float_array, positive_int
from vaewidget.models.callbacks import KLWarmup
from vaewidget.models.losses import reconstruction_loss
from vaewidget.models.networks import (
    build_decoder,
    build_encoder,
    choose_architecture,
    make_regularizer,
)
from vaewidget.models.preprocessing import DataPreparer


class BaseAutoencoder(keras.Model):
    """Shared machinery of :class:`~vaewidget.Autoencoder` and :class:`~vaewidget.VAE`.

    Build one from data with :meth:`from_data`, which learns the data preparation
    (scaling, shape, reconstruction loss) and sizes the networks. ``fit`` takes
    prepared data (``model.prepare(x)``); the numpy methods (:meth:`encode`,
    :meth:`reconstruct`, ...) take data in its original units and shape.
    """

    variational = False

    def __init__(
        self,
        preparer: DataPreparer | dict,
        latent_dim: int = 2,
        hidden_units: Sequence[int] = (256, 128),
        conv_filters: Sequence[int] = (32, 64),
        activation: str = "relu",
        architecture: str = "auto",
        l1: float = 0.0,
        l2: float = 0.0,
        noise_std: float = 0.0,
        seed: int | None = None,
        members: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(preparer, dict):
            preparer = DataPreparer.from_config(preparer)
        if not isinstance(preparer, DataPreparer) or not preparer.is_fitted:
            raise ValueError(
                "Expected a fitted DataPreparer. Received: "
                f"{preparer!r}. Build models with {type(self).__name__}.from_data(x, ...)."
            )
        if int(latent_dim) < 1:
            raise ValueError(f"Expected latent_dim >= 1. Received: latent_dim={latent_dim}")
        if any(int(u) < 1 for u in hidden_units) or any(int(f) < 1 for f in conv_filters):
            raise ValueError(
                "Expected positive layer sizes. Received: "
                f"hidden_units={tuple(hidden_units)}, conv_filters={tuple(conv_filters)}"
            )
        if noise_std < 0:
            raise ValueError(f"Expected noise_std >= 0. Received: noise_std={noise_std}")
        self.preparer = preparer
        self.latent_dim = int(latent_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.conv_filters = tuple(int(f) for f in conv_filters)
        self.activation = activation
        self.architecture = architecture
        self.architecture_ = choose_architecture(architecture, preparer.input_shape_)
        self.l1, self.l2 = float(l1), float(l2)
        self.noise_std = float(noise_std)
        self.seed = seed
        self.members = positive_int("members", members)
        self.seed_generator = keras.random.SeedGenerator(seed)
        regularizer = make_regularizer(self.l1, self.l2)
        shapes = dict(
            architecture=self.architecture_,
            hidden_units=self.hidden_units,
            conv_filters=self.conv_filters,
            activation=activation,
            regularizer=regularizer,
            members=self.members,
        )
        self.encoder = build_encoder(
            preparer.input_shape_, self.latent_dim, variational=self.variational, **shapes
        )
        self.decoder = build_decoder(preparer.input_shape_, self.latent_dim, **shapes)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.regularization_tracker = (
            keras.metrics.Mean(name="regularization_loss") if regularizer is not None else None
        )
        # The sub-networks are complete, so the model is built (and saves without a warning).
        self.built = True

    # -------------------------------------------------------------- construction
    @classmethod
    def from_data(
        cls,
        x: Any,
        *,
        scaling: str = "auto",
        reconstruction: str = "auto",
        architecture: str = "auto",
        **kwargs: Any,
    ) -> BaseAutoencoder:
        """Build a model for data like ``x``: learn its preparation, then size the networks.

        Parameters
        ----------
        x
            Training data: 2-D ``(rows, features)``, 3-D ``(rows, H, W)`` or 4-D
            ``(rows, H, W, C)``; numpy, a numeric DataFrame or nested lists, or
            a source on disk (a ``.npy``, zarr or Parquet path, a zarr or Dask
            array; see :func:`vaewidget.data.as_source`), whose scaling is then
            learned in one streaming pass.
        scaling, reconstruction
            See :class:`~vaewidget.models.preprocessing.DataPreparer`.
        architecture
            ``"auto"`` (conv for images, dense for tables), ``"dense"`` or ``"conv"``.
        **kwargs
            Other constructor arguments (``latent_dim``, ``hidden_units``, ...).
        """
        from vaewidget.data import as_source

        source = as_source(x)
        flatten = architecture == "dense" and source.ndim in (3, 4)
        preparer = DataPreparer(scaling, reconstruction, flatten=flatten).fit(source)
        return cls(preparer, architecture=architecture, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "preparer": self.preparer.get_config(),
            "latent_dim": self.latent_dim,
            "hidden_units": list(self.hidden_units),
            "conv_filters": list(self.conv_filters),
            "activation": self.activation,
            "architecture": self.architecture,
            "l1": self.l1,
            "l2": self.l2,
            "noise_std": self.noise_std,
            "seed": self.seed,
            "members": self.members,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BaseAutoencoder:
        return cls(**config)

    def build(self, input_shape=None) -> None:
        # The sub-networks are built in __init__; nothing is left to create.
        self.built = True

    # ------------------------------------------------------------------ training
    @property
    def code_dim(self) -> int:
        """Width of the code that :meth:`embed` returns: ``members * latent_dim``."""
        return self.members * self.latent_dim

    @property
    def reconstruction(self) -> str:
        """The reconstruction loss in use: ``"bce"`` or ``"mse"``."""
        return self.preparer.reconstruction_

    def _reconstruction_term(self, target, output, sample_weight):
        # The batch mean of the reconstruction loss; with members, the mean over them
        # (the decoder's output then has a members axis after the rows).
        if self.members > 1:
            target = ops.expand_dims(target, 1)
        per_sample = reconstruction_loss(target, output, self.reconstruction) / self.members
        return self._batch_mean(per_sample, sample_weight)

    def _add_input_noise(self, x, training):
        if training and self.noise_std > 0:
            return x + self.noise_std * keras.random.normal(ops.shape(x), seed=self.seed_generator)
        return x

    @staticmethod
    def _batch_mean(per_sample, sample_weight=None):
        # Keras' "sum_over_batch_size": sum(weight * loss) / batch size.
        if sample_weight is None:
            return ops.mean(per_sample)
        weight = ops.reshape(ops.cast(sample_weight, per_sample.dtype), (-1,))
        return ops.mean(per_sample * weight)

    def _regularization(self, batch):
        if self.regularization_tracker is None:
            return 0.0
        reg = ops.sum(self.losses)
        self.regularization_tracker.update_state(reg, sample_weight=batch)
        return reg

    def _weights_guard(self):
        # 0.0 while every trainable weight is finite, else NaN or inf, added to the loss.
        # oneDNN's fused MatMul+BiasAdd+Relu (TensorFlow's CPU default) turns NaN
        # activations into 0, so NaN weights can leave the loss finite and falling;
        # this makes every NaN/inf weight show in the loss, at the cost of one read
        # of the weights per step, outside the gradient.
        total = ops.stop_gradient(sum(ops.sum(w) for w in self.trainable_variables))
        return ops.where(ops.isfinite(total), ops.zeros_like(total), total)

    def compile(self, optimizer: Any = None, **kwargs: Any) -> None:
        """Keras ``compile``; the optimizer defaults to ``Adam(learning_rate=1e-3)``.

        The loss is the model's own (see ``compute_loss``): do not pass ``loss``.
        """
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config: dict[str, Any]) -> None:
        # Keras skips this for models that override compile(); a loaded model
        # must come back compiled, with its optimizer state, ready to go on training.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, *args: Any, callbacks=None, **kwargs: Any):
        """Keras ``fit`` on prepared data; adds the model's own callbacks (KL warm-up).

        Numpy input is checked first (shape of ``model.prepare(x)``, finite
        values), so bad data raises ``ValueError`` before a single weight changes.
        """
        self._check_prepared(x, "x")
        if y is not None:
            self._check_prepared(y, "y")
        validation = kwargs.get("validation_data")
        parts = validation[:2] if isinstance(validation, (tuple, list)) else ()  # not the weights
        for i, part in enumerate(parts):
            self._check_prepared(part, f"validation_data[{i}]")
        callbacks = list(callbacks or [])
        callbacks += [cb for cb in self.default_callbacks() if not _has(callbacks, type(cb))]
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def default_callbacks(self) -> list[keras.callbacks.Callback]:
        """Callbacks that every ``fit`` of this model needs."""
        return []

    def _check_prepared(self, x: Any, name: str) -> None:
        if not isinstance(x, np.ndarray):
            return  # datasets and generators are the caller's business
        expected = tuple(self.preparer.input_shape_)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"Expected prepared data of shape (n, {', '.join(map(str, expected))}), as "
                f"model.prepare(x) returns. Received: {name}.shape={x.shape}"
            )
        if not np.isfinite(x).all():
            raise ValueError(
                f"Expected finite values in `{name}`. Received: "
                f"{int(np.isnan(x).sum())} NaN and {int(np.isinf(x).sum())} infinite values."
            )

    def prepare(self, x: Any) -> np.ndarray:
        """Scale and shape ``x`` as the model was prepared to expect."""
        return self.preparer.transform(x)

    # -------------------------------------------------------------- numpy methods
    def _batched(self, fn, arr: np.ndarray, batch_size: int) -> list[np.ndarray]:
        chunks: list[list[np.ndarray]] = []
        for start in range(0, max(len(arr), 1), batch_size):
            out = fn(arr[start : start + batch_size])
            out = out if isinstance(out, (list, tuple)) else [out]
            chunks.append([ops.convert_to_numpy(o) for o in out])
        return [np.concatenate(parts) for parts in zip(*chunks)]

    def embed(self, x: Any, batch_size: int = 2048) -> np.ndarray:
        """Latent means of ``x`` (the deterministic code), as a numpy array."""
        prepared = self.prepare(x)
        return self._batched(lambda b: self.encoder(b, training=False), prepared, batch_size)[0]

    def decode(self, z: Any, batch_size: int = 2048) -> np.ndarray:
        """Decode latent points to data in the original units and shape.

        ``z`` has shape ``(n, latent_dim)``, or ``(latent_dim,)`` for one point.
        For ``"bce"`` models the output is the Bernoulli mean (a sigmoid of the
        logits), mapped back to the original units.
        """
        z = np.asarray(z) if not hasattr(z, "columns") else z
        if getattr(z, "ndim", None) == 1:
            z = z[None, :]
        z = as_float_array(z, name="z")
        if z.ndim != 2 or z.shape[1] != self.code_dim:
            raise ValueError(
                f"Expected latent points of shape (n, {self.code_dim}). Received: z.shape={z.shape}"
            )
        out = self._decoded(z, batch_size)
        if self.members > 1:
            out = out.mean(axis=1)  # the members' mean: each decodes its own part of z
        return self.preparer.inverse_transform(out)

    def _decoded(self, z: np.ndarray, batch_size: int) -> np.ndarray:
        # The decoder's output in prepared units (Bernoulli means for "bce").
        sigmoid = self.reconstruction == "bce"

        def run(batch):
            out = self.decoder(batch, training=False)
            return ops.sigmoid(out) if sigmoid else out

        return self._batched(run, z, batch_size)[0]

    def reconstruct(self, x: Any, batch_size: int = 2048) -> np.ndarray:
        """Encode ``x`` to its latent means and decode them back, in original units."""
        return self.decode(self.embed(x, batch_size), batch_size)

    def interpolate(self, x_a: Any, x_b: Any, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` points on the straight line between the codes of two rows.

        ``x_a`` and ``x_b`` are single rows (with or without a leading axis of 1).
        Returns an array of shape ``(steps, *row_shape)``, from ``x_a`` to ``x_b``.
        """
        if int(steps) < 2:
            raise ValueError(f"Expected steps >= 2. Received: steps={steps}")
        row_shape = self.preparer.original_shape_
        rows = []
        for name, row in (("x_a", x_a), ("x_b", x_b)):
            arr = np.asarray(row)
            if arr.size != int(np.prod(row_shape)) or arr.dtype.kind not in "biuf":
                raise ValueError(
                    f"Expected `{name}` to be one row of shape {row_shape}. "
                    f"Received: {name}.shape={arr.shape}, dtype={arr.dtype}"
                )
            rows.append(arr.reshape(row_shape))
        z = self.embed(np.stack(rows))
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        return self.decode((1 - t) * z[0] + t * z[1])

    def reconstruction_error(self, x: Any, batch_size: int = 2048) -> np.ndarray:
        """Per-row mean squared error between prepared ``x`` and its reconstruction."""
        prepared = self.prepare(x)
        recon = self.preparer.transform(self.reconstruct(x, batch_size))
        return ((prepared - recon) ** 2).reshape(len(prepared), -1).mean(axis=1)


def _has(callbacks: list, kind: type) -> bool:
    return any(isinstance(cb, kind) for cb in callbacks)


__all__ = ["BaseAutoencoder", "KLWarmup"]
