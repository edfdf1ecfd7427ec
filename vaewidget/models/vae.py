"""The variational autoencoder."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from vaewidget.models.base import BaseAutoencoder
from vaewidget.models.callbacks import KLWarmup
from vaewidget.models.layers import Sampling
from vaewidget.models.losses import kl_divergence, scale_for_replicas


@keras.saving.register_keras_serializable(package="vaewidget")
class VAE(BaseAutoencoder):
    """A variational autoencoder whose loss is the negative ELBO plus regularization.

    ``loss = reconstruction + beta * kl_weight * KL(q(z|x) || N(0, I)) + L1/L2``

    The encoder outputs ``z_mean`` and ``z_log_var``; a :class:`Sampling` layer
    draws ``z`` by the reparameterization trick. Each term is tracked as its own
    metric, in training and validation: ``loss``, ``reconstruction_loss``,
    ``kl_loss`` (raw), ``weighted_kl_loss`` (times the effective beta), and
    ``regularization_loss`` when ``l1`` or ``l2`` is set.

    Build one with :meth:`from_data`.

    Parameters
    ----------
    preparer
        A fitted :class:`~vaewidget.models.preprocessing.DataPreparer` (or its config).
    latent_dim
        Size of the latent code.
    hidden_units
        Dense layer sizes of the encoder (the decoder mirrors them). With
        ``architecture="conv"`` only the last one is used, after the convolutions.
    conv_filters
        Filters of the stride-2 convolutions for image data.
    activation
        Activation of the hidden layers.
    architecture
        ``"auto"``, ``"dense"`` or ``"conv"``.
    beta
        Weight of the KL term. A non-trainable variable: assign ``model.beta``
        to change it during training.
    kl_warmup_epochs
        Raise the KL weight linearly from 0 over this many epochs (0 = off).
    l1, l2
        Weight regularization of every kernel.
    noise_std
        Standard deviation of Gaussian noise added to inputs while training
        (a denoising VAE); the target stays clean.
    seed
        Seed for sampling and input noise.
    members
        Independent VAEs trained side by side on the same batches (an ensemble;
        default 1). Each has its own encoder, decoder and ``latent_dim`` code;
        :meth:`embed` concatenates their latent means (``code_dim = members *
        latent_dim`` columns), :meth:`decode` averages their outputs, and
        :meth:`sample` draws each row from one member. The loss and its terms are
        the members' means, so they read as one VAE's.

    Examples
    --------
    >>> import numpy as np
    >>> from vaewidget import VAE
    >>> x = np.random.default_rng(0).random((200, 16)).astype("float32")
    >>> model = VAE.from_data(x, latent_dim=2, hidden_units=(16,), seed=0)
    >>> model.preparer.reconstruction_        # values in [0, 1]: a Bernoulli likelihood
    'bce'
    >>> model.compile()
    >>> history = model.fit(model.prepare(x), epochs=2, batch_size=64, verbose=0)
    >>> sorted(history.history)
    ['kl_loss', 'loss', 'reconstruction_loss', 'weighted_kl_loss']
    >>> model.embed(x).shape                  # latent means, from raw data
    (200, 2)
    >>> model.sample(3, seed=0).shape         # new rows in the data's own units
    (3, 16)
    >>> model.beta = 0.5                      # a keras.Variable: live during training
    >>> float(model.beta.numpy())
    0.5
    """

    variational = True

    def __init__(
        self, preparer, beta: float = 1.0, kl_warmup_epochs: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(preparer, **kwargs)
        if beta < 0:
            raise ValueError(f"Expected beta >= 0. Received: beta={beta}")
        if kl_warmup_epochs < 0:
            raise ValueError(
                f"Expected kl_warmup_epochs >= 0. Received: kl_warmup_epochs={kl_warmup_epochs}"
            )
        self.kl_warmup_epochs = int(kl_warmup_epochs)
        self.sampler = Sampling(seed=self.seed, name="sampling")
        self._beta = keras.Variable(float(beta), trainable=False, name="beta", dtype="float32")
        self._kl_weight = keras.Variable(
            0.0 if self.kl_warmup_epochs else 1.0, trainable=False, name="kl_weight", dtype="float32"
        )
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.weighted_kl_tracker = keras.metrics.Mean(name="weighted_kl_loss")

    # The compiled training step reads these variables on every batch. A plain
    # attribute set would swap in a Python float that the step never sees, so
    # ``model.beta = 0.5`` assigns the variable instead.
    @property
    def beta(self) -> keras.Variable:
        """Weight of the KL term: a non-trainable variable, read on every batch."""
        return self._beta

    @beta.setter
    def beta(self, value: float) -> None:
        value = float(ops.convert_to_numpy(value))
        if not value >= 0:
            raise ValueError(f"Expected beta >= 0. Received: beta={value}")
        self._beta.assign(value)

    @property
    def kl_weight(self) -> keras.Variable:
        """Warm-up factor in [0, 1] on the KL term, assigned by :class:`KLWarmup`."""
        return self._kl_weight

    @kl_weight.setter
    def kl_weight(self, value: float) -> None:
        self._kl_weight.assign(float(ops.convert_to_numpy(value)))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta": float(ops.convert_to_numpy(self.beta)),
            "kl_warmup_epochs": self.kl_warmup_epochs,
        }

    def default_callbacks(self) -> list[keras.callbacks.Callback]:
        return [KLWarmup(self.kl_warmup_epochs)] if self.kl_warmup_epochs else []

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(self._add_input_noise(x, training), training=training)
        z = self.sampler([z_mean, z_log_var])
        return {
            "reconstruction": self.decoder(z, training=training),
            "z_mean": z_mean,
            "z_log_var": z_log_var,
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = x if y is None else y
        # Weighted by batch size, as Keras weights `loss`, so the epoch means add up.
        batch = ops.shape(target)[0]
        recon = self._reconstruction_term(target, y_pred["reconstruction"], sample_weight)
        # KL over the concatenated codes is the members' sum: their mean, like recon.
        kl = self._batch_mean(kl_divergence(y_pred["z_mean"], y_pred["z_log_var"]) / self.members,
                              sample_weight)
        weighted_kl = self.beta * self.kl_weight * kl
        total = recon + weighted_kl + self._regularization(batch) + self._weights_guard()
        self.reconstruction_tracker.update_state(recon, sample_weight=batch)
        self.kl_tracker.update_state(kl, sample_weight=batch)
        self.weighted_kl_tracker.update_state(weighted_kl, sample_weight=batch)
        return scale_for_replicas(total)

    # -------------------------------------------------------------- numpy methods
    def encode(self, x: Any, batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(z_mean, z_log_var)`` of ``x`` as numpy arrays."""
        prepared = self.prepare(x)
        z_mean, z_log_var = self._batched(
            lambda b: self.encoder(b, training=False), prepared, batch_size
        )
        return z_mean, z_log_var

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw ``n`` new data points: decode ``z ~ N(0, I)``."""
        if int(n) < 1:
            raise ValueError(f"Expected n >= 1. Received: n={n}")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((int(n), self.code_dim)).astype(np.float32)
        if self.members == 1:
            return self.decode(z)
        # An ensemble generates as the mixture of its members: each row from one of them.
        out = self._decoded(z, 2048)
        pick = rng.integers(self.members, size=int(n))
        return self.preparer.inverse_transform(out[np.arange(int(n)), pick])
