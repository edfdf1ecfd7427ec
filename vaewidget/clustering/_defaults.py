"""The rule by which ``VAEClusterer``'s ``"auto"`` parameters adapt to the data.

Only the data's size, row shape and value range enter the rule; labels never do.
The docstring of :class:`~vaewidget.clustering.VAEClusterer` and docs/clustering.md
state the same rule in words; keep the three in step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaewidget.models.preprocessing import UNIT_RANGE_SCALINGS

#: Gradient steps the "auto" epoch count aims for, and its bounds.
TARGET_STEPS = 1200
MIN_EPOCHS, MAX_EPOCHS = 5, 60
#: Trainings of at most this many steps run eagerly: tracing the step would cost more.
EAGER_STEPS = 200
#: Below this many rows a UMAP has too few neighbours to be worth it.
MIN_ROWS_FOR_UMAP = 200
#: KL weight for a Bernoulli (min-max, [0, 1]) likelihood and for a Gaussian one.
BETA_BERNOULLI, BETA_GAUSSIAN = 0.01, 1.0
#: UMAP's neighbourhood size (umap-learn's own default).
N_NEIGHBORS = 15


def resolve(params: dict[str, Any], arr: np.ndarray) -> dict[str, Any]:
    """Replace each ``"auto"`` in ``params`` by its value for the data ``arr``.

    Returns a new dict with every parameter concrete; the estimator stores it
    as ``params_``.
    """
    n = int(arr.shape[0])
    out = dict(params)
    if out["scaling"] == "auto":
        # Non-negative data (intensities, counts) keeps zero as zero: per-column min-max
        # to [0, 1] with a Bernoulli loss. Data with negative values: the preparer's rule
        # (standardize, Gaussian loss).
        out["scaling"] = "minmax" if float(arr.min()) >= 0.0 else "auto"
    if out.get("beta") == "auto":
        # The preparer's own rule: targets in [0, 1] get a Bernoulli likelihood, the
        # standardized rest a Gaussian one.
        bernoulli = out["scaling"] in UNIT_RANGE_SCALINGS
        out["beta"] = BETA_BERNOULLI if bernoulli else BETA_GAUSSIAN
    if out["batch_size"] == "auto":
        out["batch_size"] = int(min(256, max(32, 2 ** round(math.log2(max(n, 1) / 30)))))
    batches = max(1, math.ceil(n / out["batch_size"]))
    if out["epochs"] == "auto":
        out["epochs"] = int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(TARGET_STEPS / batches))))
    if out["projection"] == "auto":
        out["projection"] = "umap" if n >= MIN_ROWS_FOR_UMAP else None
    if out["n_neighbors"] == "auto":
        out["n_neighbors"] = int(min(N_NEIGHBORS, max(2, n - 1)))
    if out["min_cluster_size"] == "auto":
        out["min_cluster_size"] = int(max(5, round(0.015 * n)))
    out["min_cluster_size"] = int(min(out["min_cluster_size"], max(2, n - 1)))
    if out["min_samples"] == "auto":
        out["min_samples"] = int(min(10, out["min_cluster_size"]))
    return out



def train_eagerly(n_rows: int, params: dict[str, Any]) -> bool:
    """Whether a training is so short that compiling its step costs more than it saves."""
    steps = math.ceil(n_rows / params["batch_size"]) * params["epochs"]
    return steps <= EAGER_STEPS
