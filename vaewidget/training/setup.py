"""Checks and data preparation that run before any thread: bad input raises here."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import keras

from vaewidget._validation import positive_int
from vaewidget.training.checkpoints import read_record

_UNSET = object()


def check_options(
    model: Any,
    *,
    epochs: Any = _UNSET,
    batch_size: Any = _UNSET,
    batch_rate: Any = _UNSET,
    callbacks: Any = _UNSET,
    early_stopping_patience: Any = _UNSET,
) -> dict[str, Any]:
    """Validate the model and the given options; return them normalized."""
    from vaewidget.models import BaseAutoencoder

    if not isinstance(model, BaseAutoencoder):
        raise ValueError(
            "Expected a vaewidget model (VAE.from_data(...) or Autoencoder.from_data(...)). "
            f"Received: {type(model).__name__}"
        )
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not isinstance(
        getattr(optimizer, "_learning_rate", None), keras.Variable
    ):
        raise ValueError(
            "Expected the model's optimizer to have a plain learning rate, which the Trainer "
            "sets live. Received: a learning-rate schedule "
            f"({type(optimizer._learning_rate).__name__}). Compile with a float learning rate "
            "or leave the model uncompiled."
        )
    out: dict[str, Any] = {}
    if epochs is not _UNSET:
        out["epochs"] = positive_int("epochs", epochs)
    if batch_size is not _UNSET:
        out["batch_size"] = positive_int("batch_size", batch_size)
    if batch_rate is not _UNSET:
        if batch_rate is not None:
            try:
                rate = float(batch_rate)
            except (TypeError, ValueError):
                rate = math.nan
            if not (math.isfinite(rate) and rate > 0):
                raise ValueError(
                    f"Expected batch_rate > 0 (calls per second) or None. "
                    f"Received: batch_rate={batch_rate!r}"
                )
            batch_rate = rate
        out["batch_rate"] = batch_rate
    if callbacks is not _UNSET:
        callbacks = list(callbacks or [])
        bad = [c for c in callbacks if not isinstance(c, keras.callbacks.Callback)]
        if bad:
            raise ValueError(
                "Expected keras.callbacks.Callback objects in callbacks. "
                f"Received: {bad[0]!r} of type {type(bad[0]).__name__}"
            )
        out["callbacks"] = callbacks
    if early_stopping_patience is not _UNSET:
        if early_stopping_patience is not None:
            early_stopping_patience = positive_int(
                "early_stopping_patience", early_stopping_patience
            )
        out["early_stopping_patience"] = early_stopping_patience
    return out


def split_data(model: Any, x: Any, validation_split: Any, validation_data: Any) -> Any:
    """Check ``x`` (and validation data) against the model and choose how to feed ``fit``.

    Rows in memory are prepared once with the model's own preparation, and without
    ``validation_data`` a random ``validation_split`` fraction of them (seeded by
    ``model.seed``, or 0, so it is the same every time) is held out. Other sources
    are streamed, with whole blocks held out. See :mod:`vaewidget.training.data`.
    """
    from vaewidget.training.data import training_data

    return training_data(model, x, validation_split, validation_data)


def load_checkpoint(path: Any) -> tuple[Any, dict[str, Any] | None, dict[str, Any]]:
    """Load a ``.keras`` checkpoint, its trainer record (``None`` if absent) and the
    Trainer options to continue with: the recorded settings, the optimizer's learning
    rate and ``checkpoint_path=path``."""
    import vaewidget.models  # noqa: F401  (registers VAE and Autoencoder for loading)
    from vaewidget.training.records import current_values

    if not isinstance(path, (str, os.PathLike)) or not str(path).endswith(".keras"):
        raise ValueError(f"Expected a path to a '.keras' checkpoint. Received: path={path!r}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"Expected an existing checkpoint file. Received: {str(path)!r} (not found)")
    model = keras.saving.load_model(file, safe_mode=True)
    record = read_record(file)
    options = dict((record or {}).get("config", {}))
    if options.get("validation_split") is None:  # it was trained with validation_data
        options.pop("validation_split", None)
    if getattr(model, "optimizer", None) is not None:
        options["learning_rate"] = current_values(model)["learning_rate"]
    options["checkpoint_path"] = path
    return model, record, options
