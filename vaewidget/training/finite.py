"""Finite checks on weights: what must hold before a model is kept, restored or saved.

A non-finite loss is not the only sign of a diverged run: oneDNN's fused
MatMul+BiasAdd+Relu (TensorFlow's CPU default) turns NaN activations into 0, so
NaN weights can leave the loss finite. The models add a guard to their loss
for every batch (``BaseAutoencoder._weights_guard``); these checks look at the
values themselves wherever a copy of the weights is taken or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def nonfinite_names(variables: Sequence[Any], values: Sequence[Any] | None = None) -> list[str]:
    """Names (paths) of the floating-point ``variables`` that hold NaN or inf.

    Parameters
    ----------
    variables
        Keras variables (``model.weights``, ``optimizer.variables``).
    values
        Their values as arrays, when a copy is already at hand (``model.get_weights()``);
        read from the variables otherwise.
    """
    if values is None:
        values = [np.asarray(v.numpy()) for v in variables]
    bad = []
    for variable, value in zip(variables, values):
        value = np.asarray(value)
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            bad.append(str(getattr(variable, "path", None) or variable.name))
    return bad


def model_nonfinite(model: Any, optimizer: bool = False) -> list[str]:
    """Names of the model's variables (and its optimizer's, if asked) holding NaN or inf."""
    variables = list(model.weights)
    opt = getattr(model, "optimizer", None) if optimizer else None
    if opt is not None and opt.built:
        variables += list(opt.variables)
    return nonfinite_names(variables)


def describe(names: Sequence[str], limit: int = 3) -> str:
    """``"encoder/dense/kernel, encoder/dense/bias and 2 more"``."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_finite_weights(model: Any, what: str) -> None:
    """Raise ``ValueError`` when ``model`` holds NaN or inf weights (``what``: the action refused)."""
    bad = model_nonfinite(model)
    if bad:
        raise ValueError(
            f"Expected finite weights to {what}. Received: NaN or inf in {describe(bad)}. "
            "A model with non-finite weights is never saved; train from the last good "
            "state or build new weights."
        )
