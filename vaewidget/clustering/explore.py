"""Explore a clustering of a latent space, without widgets.

Parameter suggestion (unsupervised), per-cluster summaries, decoded prototypes and
exemplars, outlier ranking and latent traversals. The cluster viewer is built on these;
they work as well in a script.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np

from vaewidget.clustering.hdbscan_tools import SELECTION_METHODS
from vaewidget.clustering.large import scale_parameters


def latent_means(model: Any, x: Any, batch_size: int = 4096) -> np.ndarray:
    """Latent means of ``x`` (batched), checked to be finite.

    Raises
    ------
    ValueError
        When the model gives NaN or infinite codes (it diverged).
    """
    return _finite(model.embed(x, batch_size=batch_size))


def posterior_scale(z_log_var: Any) -> np.ndarray:
    """Each latent dimension's typical posterior standard deviation over the rows.

    The root of the mean posterior variance, ``sqrt(mean(exp(z_log_var), axis=0))``:
    1 where the model leaves a dimension at the N(0, 1) prior, small where it
    encodes the dimension sharply. ``latent / posterior_scale`` measures every
    dimension in units of the model's own uncertainty.
    """
    var = np.exp(np.clip(np.asarray(z_log_var, np.float64), -60.0, 60.0))
    return np.sqrt(np.maximum(var.mean(axis=0), 1e-12)).astype(np.float32)


def latent_codes(model: Any, x: Any, batch_size: int = 4096
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Latent means of ``x`` and, for a model with variances, :func:`posterior_scale`.

    Returns ``(z, None)`` for a model without variances (an Autoencoder, or any
    model with ``embed`` but no ``encode``).

    Raises
    ------
    ValueError
        When the model gives NaN or infinite codes or variances (it diverged).
    """
    if not hasattr(model, "encode"):
        return latent_means(model, x, batch_size), None
    out = model.encode(x, batch_size=batch_size)
    if not isinstance(out, tuple):  # an Autoencoder: its code, no variances
        return _finite(out), None
    return _finite(out[0]), posterior_scale(_finite(out[1]))


def _finite(codes: Any) -> np.ndarray:
    """``codes`` as float32, or a ValueError naming the rows that are not finite."""
    z = np.asarray(codes, dtype=np.float32)
    bad = ~np.isfinite(z).all(axis=1)
    if bad.any():
        raise ValueError(
            "Expected finite latent codes. Received NaN or infinite codes for "
            f"{int(bad.sum())} of {len(z)} rows: the model diverged. Lower the learning "
            "rate (or beta) and retrain."
        )
    return z


def suggest_parameters(
    z: Any,
    *,
    min_cluster_sizes: Any = None,
    min_samples: Any = None,
    methods: Any = SELECTION_METHODS,
    score: str = "dbcv",
    max_points: int = 4000,
    random_state: int | None = 0,
) -> list[dict[str, Any]]:
    """Sweep HDBSCAN parameters on ``z`` and rank them without any labels.

    Each setting is fitted on a subsample of at most ``max_points`` rows and scored by
    HDBSCAN's relative validity (``"dbcv"``, a fast approximation of DBCV) or by the
    size-weighted mean persistence of the selected clusters (``"persistence"``).
    Settings that find fewer than two clusters score ``-inf``: a single cluster is no
    clustering. Sizes are given (and returned) in full-data units and scaled to the
    subsample as :func:`vaewidget.clustering.large.scale_parameters` does.

    Parameters
    ----------
    z
        ``(rows, dims)`` points to cluster.
    min_cluster_sizes
        Candidates; default: 0.5 %, 1 %, 2 % and 5 % of the rows (at least 5).
    min_samples
        Candidates; ``None`` in the list means "same as min_cluster_size". Default:
        ``[None, 5]``.
    methods
        Cluster selection methods to try.
    score
        ``"dbcv"`` or ``"persistence"``.
    max_points
        Subsample size for the sweep.
    random_state
        Seed of the subsample.

    Returns
    -------
    list of dict
        Best first; keys ``min_cluster_size``, ``min_samples``,
        ``cluster_selection_method``, ``score``, ``n_clusters``, ``coverage``.
    """
    import hdbscan

    if score not in ("dbcv", "persistence"):
        raise ValueError(f"Expected score in ('dbcv', 'persistence'). Received: {score!r}")
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) < 10:
        raise ValueError(f"Expected at least 10 rows of 2-D data. Received: z.shape={z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("Expected finite values. Received NaN or infinite values in z.")
    n = len(z)
    rng = np.random.default_rng(random_state)
    sub = z if n <= max_points else z[rng.choice(n, int(max_points), replace=False)]
    if min_cluster_sizes is None:
        min_cluster_sizes = sorted({max(5, int(round(n * f))) for f in (0.005, 0.01, 0.02, 0.05)})
    if min_samples is None:
        min_samples = [None, 5]
    results = []
    for mcs, ms, method in product(min_cluster_sizes, min_samples, methods):
        fit_mcs, fit_ms = scale_parameters(mcs, ms, n, len(sub))
        if fit_mcs >= len(sub) or (fit_ms is not None and fit_ms >= len(sub)):
            continue
        model = hdbscan.HDBSCAN(
            min_cluster_size=fit_mcs, min_samples=fit_ms, cluster_selection_method=method,
            gen_min_span_tree=score == "dbcv", core_dist_n_jobs=1,  # no worker processes
        ).fit(sub)
        n_clusters = int(model.labels_.max()) + 1
        value = -np.inf
        if n_clusters >= 2:
            value = _score(model, score)
        results.append({
            "min_cluster_size": int(mcs),
            "min_samples": None if ms is None else int(ms),
            "cluster_selection_method": method,
            "score": float(value),
            "n_clusters": n_clusters,
            "coverage": float((model.labels_ >= 0).mean()),
        })
    if not results:
        raise ValueError(
            f"Expected candidate sizes below the number of rows. Received: {list(min_cluster_sizes)}"
        )
    results.sort(key=lambda r: (r["score"], r["coverage"]), reverse=True)
    return results


def _score(model: Any, score: str) -> float:
    if score == "dbcv":
        value = float(model.relative_validity_)
        return value if np.isfinite(value) else -np.inf
    sizes = np.bincount(model.labels_[model.labels_ >= 0])
    return float(np.average(model.cluster_persistence_, weights=sizes))


def cluster_summary(
    labels: Any, probabilities: Any, z: Any, persistence: Any = None
) -> list[dict[str, Any]]:
    """One dict a cluster: ``cluster``, ``size``, ``mean_probability``, ``persistence``, ``centroid``.

    ``centroid`` is the mean latent point of the cluster (the prototype's code).
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    out = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        mask = labels == c
        if not mask.any():
            continue
        out.append({
            "cluster": c,
            "size": int(mask.sum()),
            "mean_probability": float(probabilities[mask].mean()),
            "persistence": (
                float(persistence[c]) if persistence is not None and c < len(persistence) else np.nan
            ),
            "centroid": z[mask].mean(axis=0),
        })
    return out


def cluster_prototypes(model: Any, z: Any, labels: Any) -> dict[int, np.ndarray]:
    """The decoded prototype of each cluster: ``model.decode`` of its mean latent point.

    Returns
    -------
    dict
        cluster -> one decoded row in the data's original shape.
    """
    z = np.asarray(z, dtype=np.float32)
    labels = np.asarray(labels)
    clusters = [c for c in range(int(labels.max()) + 1 if len(labels) else 0) if (labels == c).any()]
    if not clusters:
        return {}
    centroids = np.stack([z[labels == c].mean(axis=0) for c in clusters])
    decoded = model.decode(centroids)
    return {c: decoded[i] for i, c in enumerate(clusters)}


def exemplar_indices(clusterer: Any, space: Any, cluster: int, k: int = 6,
                     fit_index: Any = None) -> np.ndarray:
    """Rows of the data nearest to up to ``k`` of HDBSCAN's exemplars of ``cluster``.

    HDBSCAN's ``exemplars_`` are the points of a cluster's most persistent leaf, in the
    space it was fitted on. They are fitted points themselves, so the nearest row is the
    exemplar's own row (of the fitted subsample, given by ``fit_index``).

    Parameters
    ----------
    clusterer
        A fitted ``hdbscan.HDBSCAN`` (with ``prediction_data=True``).
    space
        The rows the clusterer was fitted on, in full (``fit_index`` selects the fit rows).
    cluster
        The cluster label.
    k
        At most this many exemplars, the ones nearest the cluster's exemplar mean.
    fit_index
        Row numbers of the fitted subsample within ``space`` (``None``: all rows).
    """
    exemplars = clusterer.exemplars_
    if not 0 <= int(cluster) < len(exemplars):
        raise ValueError(
            f"Expected a cluster in 0..{len(exemplars) - 1}. Received: cluster={cluster}"
        )
    space = np.asarray(space, dtype=np.float64)
    fit_index = np.arange(len(space)) if fit_index is None else np.asarray(fit_index)
    ex = np.asarray(exemplars[int(cluster)], dtype=np.float64)
    if len(ex) > k:
        order = np.argsort(((ex - ex.mean(axis=0)) ** 2).sum(axis=1))
        ex = ex[order[:k]]
    fitted = space[fit_index]
    found = [int(fit_index[np.argmin(((fitted - e) ** 2).sum(axis=1))]) for e in ex]
    return np.array(list(dict.fromkeys(found)), dtype=np.int64)


def outlier_ranking(outlier_scores: Any, reconstruction_errors: Any, weight: float = 0.5
                    ) -> np.ndarray:
    """Combine GLOSH outlier scores and reconstruction errors into one score in [0, 1].

    ``combined = weight * rank(glosh) + (1 - weight) * rank(error)``, where ``rank`` is
    the percentile rank (0 = most typical, 1 = most unusual). Ranks make the two
    comparable whatever their units, and a point high on both comes first. ``weight=1``
    ranks by GLOSH alone, ``weight=0`` by reconstruction error alone.
    """
    from scipy.stats import rankdata

    s = np.asarray(outlier_scores, dtype=np.float64).ravel()
    e = np.asarray(reconstruction_errors, dtype=np.float64).ravel()
    if s.shape != e.shape:
        raise ValueError(
            "Expected one outlier score and one reconstruction error per row. "
            f"Received: {len(s)} scores and {len(e)} errors"
        )
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"Expected 0 <= weight <= 1. Received: weight={weight}")
    if len(s) == 0:
        return s
    s, e = np.nan_to_num(s, nan=0.0), np.nan_to_num(e, nan=np.nanmax(e) if np.isfinite(e).any() else 0)
    denom = max(len(s) - 1, 1)
    return weight * (rankdata(s) - 1) / denom + (1 - weight) * (rankdata(e) - 1) / denom


def top_outliers(combined: Any, n: int = 12) -> np.ndarray:
    """Row numbers of the ``n`` highest combined outlier scores, most unusual first."""
    combined = np.asarray(combined)
    n = min(int(n), len(combined))
    if n <= 0:
        return np.array([], dtype=np.int64)
    idx = np.argpartition(-combined, n - 1)[:n]
    return idx[np.argsort(-combined[idx], kind="stable")]


def latent_traversal(model: Any, z0: Any, dim: int, values: Any) -> np.ndarray:
    """Decode ``z0`` with latent dimension ``dim`` set to each of ``values`` in turn."""
    z0 = np.asarray(z0, dtype=np.float32).ravel()
    if not 0 <= int(dim) < len(z0):
        raise ValueError(f"Expected dim in 0..{len(z0) - 1}. Received: dim={dim}")
    values = np.asarray(values, dtype=np.float32).ravel()
    z = np.repeat(z0[None, :], len(values), axis=0)
    z[:, int(dim)] = values
    return model.decode(z)
