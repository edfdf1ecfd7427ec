"""Scores of a clustering against reference labels. Labels score results; they never steer them."""

from __future__ import annotations

from typing import Any

import numpy as np


def score_clustering(labels_true: Any, labels_pred: Any) -> dict[str, float]:
    """ARI, NMI and coverage of a clustering whose noise is labelled ``-1``.

    Returns
    -------
    dict with
        ``ari`` and ``nmi``: noise counted as one label of its own;
        ``coverage``: the share of points not labelled noise;
        ``ari_clustered``: ARI on the clustered points only (NaN if none);
        ``n_clusters``: the number of clusters found, noise excluded.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    y = np.asarray(labels_true).ravel()
    pred = np.asarray(labels_pred).ravel()
    if y.shape != pred.shape:
        raise ValueError(
            "Expected labels of the same length. "
            f"Received: len(labels_true)={len(y)}, len(labels_pred)={len(pred)}"
        )
    clustered = pred >= 0
    return {
        "ari": float(adjusted_rand_score(y, pred)),
        "nmi": float(normalized_mutual_info_score(y, pred)),
        "coverage": float(clustered.mean()) if len(pred) else 0.0,
        "ari_clustered": (
            float(adjusted_rand_score(y[clustered], pred[clustered]))
            if clustered.any()
            else float("nan")
        ),
        "n_clusters": int(len(np.unique(pred[clustered]))),
    }
