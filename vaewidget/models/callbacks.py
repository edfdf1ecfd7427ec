"""Callbacks that belong to the models themselves."""

from __future__ import annotations

import keras


class KLWarmup(keras.callbacks.Callback):
    """Raise the KL weight linearly from 0 to 1 over the first ``epochs`` epochs.

    The effective weight of the KL term is ``beta * kl_weight``; this callback
    assigns ``model.kl_weight = min(1, epoch / epochs)`` at the start of each
    epoch. ``epoch`` counts from the model's first epoch, so training that
    continues (``initial_epoch > 0``) keeps its place in the schedule.
    """

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = int(epochs)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        weight = 1.0 if self.epochs <= 0 else min(1.0, epoch / self.epochs)
        self.model.kl_weight.assign(weight)
