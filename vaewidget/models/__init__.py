"""Keras 3 models: the math of vaewidget. Only ``keras.ops`` and ``keras.random``."""

from vaewidget.models.autoencoder import Autoencoder
from vaewidget.models.base import BaseAutoencoder
from vaewidget.models.callbacks import KLWarmup
from vaewidget.models.layers import Sampling
from vaewidget.models.losses import kl_divergence, reconstruction_loss
from vaewidget.models.preprocessing import DataPreparer
from vaewidget.models.vae import VAE

__all__ = [
    "VAE",
    "Autoencoder",
    "BaseAutoencoder",
    "DataPreparer",
    "KLWarmup",
    "Sampling",
    "kl_divergence",
    "reconstruction_loss",
]
