"""The plain (deterministic) autoencoder."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from vaewidget.models.base import BaseAutoencoder
from vaewidget.models.losses import scale_for_replicas


@keras.saving.register_keras_serializable(package="vaewidget")
class Autoencoder(BaseAutoencoder):
    """An autoencoder: ``loss = reconstruction + L1/L2 weight regularization``.

    The same networks, data preparation and methods as :class:`~vaewidget.VAE`,
    with a deterministic code and no KL term. Metrics: ``loss``,
    ``reconstruction_loss`` and ``regularization_loss`` when ``l1`` or ``l2`` is set.
    Build one with :meth:`from_data`; see :class:`~vaewidget.VAE` for the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from vaewidget import Autoencoder
    >>> x = np.random.default_rng(0).normal(size=(200, 6)).astype("float32")
    >>> model = Autoencoder.from_data(x, latent_dim=2, hidden_units=(16,), seed=0)
    >>> model.preparer.scaling_, model.preparer.reconstruction_   # signed table
    ('standard', 'mse')
    >>> model.compile()
    >>> history = model.fit(model.prepare(x), epochs=2, batch_size=64, verbose=0)
    >>> sorted(history.history)
    ['loss', 'reconstruction_loss']
    >>> model.encode(x[:5]).shape             # a deterministic code, no z_log_var
    (5, 2)
    >>> model.reconstruct(x[:5]).shape        # back in the original units
    (5, 6)
    """

    variational = False

    def call(self, x, training=False):
        z = self.encoder(self._add_input_noise(x, training), training=training)
        return {"reconstruction": self.decoder(z, training=training), "z": z}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = x if y is None else y
        batch = ops.shape(target)[0]  # weights as Keras weights `loss`
        recon = self._reconstruction_term(target, y_pred["reconstruction"], sample_weight)
        self.reconstruction_tracker.update_state(recon, sample_weight=batch)
        return scale_for_replicas(recon + self._regularization(batch) + self._weights_guard())

    def encode(self, x: Any, batch_size: int = 2048) -> np.ndarray:
        """Return the code of ``x`` as a numpy array (the autoencoder has no variance)."""
        return self.embed(x, batch_size)
