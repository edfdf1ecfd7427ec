"""How a VAE for clustering is built, compiled and trained: one recipe for every door.

``VAEClusterer.fit`` and the panel's Train button both build the model with
:func:`build_model`, compile it with :func:`compile_model` and train it with a
:class:`~vaewidget.Trainer` configured by :func:`trainer_options`, from settings resolved
by :func:`vaewidget.clustering._defaults.resolve_model`. So the same data, settings and
seed give the same model whichever door it comes through.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def build_model(arr: np.ndarray, params: dict[str, Any], seed: int | None = None,
                **model_options: Any) -> Any:
    """A new :class:`~vaewidget.VAE` for ``arr`` from resolved ``params``.

    With a ``seed``, Keras, numpy and Python are seeded first
    (``keras.utils.set_random_seed``), so the initial weights are reproducible.
    ``model_options`` go to ``VAE.from_data`` unchanged (``architecture``,
    ``reconstruction``, ``l1``, ...).
    """
    import keras

    from vaewidget.models import VAE

    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    return VAE.from_data(
        arr, latent_dim=int(params["latent_dim"]), hidden_units=tuple(params["hidden_units"]),
        beta=float(params["beta"]), kl_warmup_epochs=int(params["kl_warmup_epochs"]),
        noise_std=float(params["noise_std"]), seed=seed, scaling=params["scaling"],
        members=int(params["members"]), **model_options,
    )


def compile_model(model: Any, params: dict[str, Any]) -> None:
    """Compile with Adam at ``params["learning_rate"]``.

    The training step is always traced (compiled): run eagerly, the default network
    cost 2.4-6.7 times as much on 50-200-step trainings, and tracing was
    repaid from about 10 steps (``benchmarks/eager.py``).
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(float(params["learning_rate"])))


def trainer_options(params: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :class:`~vaewidget.Trainer` for resolved ``params``."""
    return {"epochs": int(params["epochs"]), "batch_size": int(params["batch_size"]),
            "learning_rate": float(params["learning_rate"]), "validation_split": 0.0}


def train_model(model: Any, arr: np.ndarray, params: dict[str, Any], *, verbose: int = 0
                ) -> dict[str, list[float]]:
    """Compile ``model`` and train it on ``arr`` in the foreground; return the history.

    Training runs in a :class:`~vaewidget.Trainer`, the panel's engine, and this
    call waits for it. Ctrl+C (KeyboardInterrupt) stops it within one batch.

    Raises
    ------
    RuntimeError
        When training failed (for example, it diverged); the message says why.
    """
    from vaewidget.training import Trainer

    compile_model(model, params)
    trainer = Trainer(model, arr, batch_rate=None, **trainer_options(params))
    if verbose:
        total = trainer.epochs

        def report(epoch: int, logs: dict[str, float]) -> None:
            print(f"[VAEClusterer] epoch {epoch + 1}/{total}: loss {logs.get('loss', np.nan):.4g}",
                  flush=True)

        trainer.on_epoch(report)
    trainer.start()
    try:
        trainer.wait()
    except KeyboardInterrupt:
        trainer.stop(wait=True)
        raise
    if trainer.state != "finished":
        reason = (trainer.error or f"it ended {trainer.state}").split("\n\n")[0]
        raise RuntimeError(f"Training the VAE did not finish: {reason}")
    return {k: [float(v) for v in vals] for k, vals in trainer.history.items()}
