"""HDBSCAN at scale: fit on a subsample, label everything with a vectorized approximate_predict.

HDBSCAN's cost grows faster than linearly, and ``hdbscan.approximate_predict`` walks the
condensed tree one point at a time in Python (about 0.1 ms a point). Above ``max_fit``
rows, :func:`cluster_latent` fits HDBSCAN on a uniform random subsample and labels every
other row with :func:`approximate_predict_batched`, which does the same computation as
``hdbscan.approximate_predict`` / ``approximate_predict_scores`` for a whole batch at once
with numpy (``method="fast"``, the default), or calls hdbscan's own functions batch by
batch (``method="hdbscan"``, the reference the tests compare against).

``min_cluster_size`` and ``min_samples`` are given in full-data units: on a subsample of
``m`` of ``n`` rows they are scaled by ``m / n``, so that a cluster of 500 points out of
100,000 still needs about 500 points' worth of density out of the subsample
(``min_samples`` stays at least 5, see :func:`scale_parameters`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaewidget.clustering.hdbscan_tools import check_latent, fit_hdbscan

#: Rows above which :func:`cluster_latent` fits on a subsample.
DEFAULT_MAX_FIT = 10_000
#: ``min_samples`` scaled to a subsample stays at least this (or the value asked for).
MIN_SAMPLES_FLOOR = 5


@dataclass
class LatentClustering:
    """The result of :func:`cluster_latent`: one entry per row of the clustered data."""

    labels: np.ndarray
    probabilities: np.ndarray
    outlier_scores: np.ndarray
    clusterer: Any
    fit_index: np.ndarray
    params: dict = field(default_factory=dict)
    fit_params: dict = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        """Clusters found, noise excluded."""
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    @property
    def subsampled(self) -> bool:
        """Whether HDBSCAN saw only a subsample."""
        return len(self.fit_index) < len(self.labels)


def scale_parameters(
    min_cluster_size: int, min_samples: int | None, n_total: int, n_fit: int
) -> tuple[int, int | None]:
    """``min_cluster_size`` and ``min_samples`` for a subsample of ``n_fit`` of ``n_total`` rows."""
    if n_fit >= n_total:
        return int(min_cluster_size), None if min_samples is None else int(min_samples)
    ratio = n_fit / n_total
    mcs = max(2, int(round(int(min_cluster_size) * ratio)))
    if min_samples is None:
        return mcs, None
    # Never below MIN_SAMPLES_FLOOR (unless asked for less): tiny min_samples make
    # HDBSCAN's tree noisy and its Boruvka search many times slower.
    floor = min(int(min_samples), MIN_SAMPLES_FLOOR)
    return mcs, max(floor, int(round(int(min_samples) * ratio)))


def cluster_latent(
    z: Any,
    *,
    min_cluster_size: int = 15,
    min_samples: int | None = None,
    cluster_selection_method: str = "eom",
    cluster_selection_epsilon: float = 0.0,
    max_fit: int | None = DEFAULT_MAX_FIT,
    random_state: int | None = 0,
    method: str = "fast",
    batch_size: int = 100_000,
) -> LatentClustering:
    """HDBSCAN on ``z``; on a subsample plus approximate prediction when ``len(z) > max_fit``.

    Parameters
    ----------
    z
        ``(rows, dims)`` latent points (or any low-dimensional embedding).
    min_cluster_size, min_samples, cluster_selection_method, cluster_selection_epsilon
        HDBSCAN's parameters, in full-data units (see the module docstring).
    max_fit
        Fit on at most this many rows (``None``: always fit on all of them).
    random_state
        Seed of the subsample.
    method
        ``"fast"`` (vectorized) or ``"hdbscan"`` (``hdbscan.approximate_predict``).
    batch_size
        Rows per prediction batch, which bounds the memory used.

    Returns
    -------
    LatentClustering
    """
    z = check_latent(z)
    if max_fit is not None and int(max_fit) < 2:
        raise ValueError(f"Expected max_fit >= 2 or None. Received: max_fit={max_fit}")
    n = len(z)
    params = dict(
        min_cluster_size=int(min_cluster_size),
        min_samples=None if min_samples is None else int(min_samples),
        cluster_selection_method=cluster_selection_method,
        cluster_selection_epsilon=float(cluster_selection_epsilon),
    )
    if max_fit is None or n <= int(max_fit):
        fit_index = np.arange(n)
    else:
        rng = np.random.default_rng(random_state)
        fit_index = np.sort(rng.choice(n, int(max_fit), replace=False))
    mcs, ms = scale_parameters(min_cluster_size, min_samples, n, len(fit_index))
    fit_params = {**params, "min_cluster_size": mcs, "min_samples": ms}
    clusterer = fit_hdbscan(z[fit_index], **fit_params, prediction_data=True)
    labels = np.empty(n, dtype=np.int64)
    probabilities = np.empty(n, dtype=np.float64)
    scores = np.empty(n, dtype=np.float64)
    labels[fit_index] = clusterer.labels_
    probabilities[fit_index] = clusterer.probabilities_
    scores[fit_index] = np.nan_to_num(clusterer.outlier_scores_, nan=0.0)
    rest = np.setdiff1d(np.arange(n), fit_index, assume_unique=True)
    if len(rest):
        lab, prob, sc = approximate_predict_batched(
            clusterer, z[rest], batch_size=batch_size, method=method
        )
        labels[rest], probabilities[rest], scores[rest] = lab, prob, sc
    return LatentClustering(labels, probabilities, scores, clusterer, fit_index, params, fit_params)


def approximate_predict_batched(
    clusterer: Any, points: Any, *, batch_size: int = 100_000, method: str = "fast",
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, membership probabilities and GLOSH outlier scores of new points.

    The same answers as ``hdbscan.approximate_predict`` and
    ``hdbscan.prediction.approximate_predict_scores``, computed ``batch_size`` rows at a time.

    Parameters
    ----------
    clusterer
        A fitted ``hdbscan.HDBSCAN`` with ``prediction_data=True``.
    points
        ``(rows, dims)`` in the space the clusterer was fitted on.
    batch_size
        Rows per batch.
    method
        ``"fast"`` (numpy, vectorized) or ``"hdbscan"`` (hdbscan's per-point loop).
    threads
        Threads for the neighbour search (``None``: up to one per core). Dask tasks
        that already run in parallel pass 1.

    Returns
    -------
    labels, probabilities, outlier_scores : ndarray
    """
    import hdbscan

    if method not in ("fast", "hdbscan"):
        raise ValueError(f"Expected method in ('fast', 'hdbscan'). Received: {method!r}")
    if getattr(clusterer, "prediction_data_", None) is None:
        raise ValueError(
            "Expected a clusterer fitted with prediction_data=True. Received one without it."
        )
    points = np.asarray(points, dtype=np.float64)
    dims = clusterer.prediction_data_.raw_data.shape[1]
    if points.ndim != 2 or points.shape[1] != dims:
        raise ValueError(f"Expected points of shape (n, {dims}). Received: {points.shape}")
    n = len(points)
    labels = np.full(n, -1, dtype=np.int64)
    probs = np.zeros(n, dtype=np.float64)
    scores = np.ones(n, dtype=np.float64)
    if n == 0 or clusterer.prediction_data_.cluster_tree.shape[0] == 0:
        return labels, probs, scores  # no cluster at all: everything is noise
    tables = _tables(clusterer) if method == "fast" else None
    for start in range(0, n, int(batch_size)):
        chunk = points[start : start + int(batch_size)]
        part = slice(start, start + len(chunk))
        if tables is None:
            lab, prob = hdbscan.approximate_predict(clusterer, chunk)
            labels[part], probs[part] = lab, prob
            scores[part] = hdbscan.prediction.approximate_predict_scores(clusterer, chunk)
        else:
            labels[part], probs[part], scores[part] = _predict_chunk(clusterer, tables, chunk,
                                                                     threads)
    return labels, probs, scores


@dataclass
class _Tables:
    """Flat arrays of the condensed tree, indexed by node id (points and clusters)."""

    min_samples: int
    point_parent: np.ndarray
    point_lambda: np.ndarray
    cluster_parent: np.ndarray
    cluster_lambda: np.ndarray
    node_label: np.ndarray
    max_lambda_selected: np.ndarray
    max_lambda_subtree: np.ndarray
    root: int


def _tables(clusterer: Any) -> _Tables:
    cached = getattr(clusterer, "_vaewidget_tables", None)
    if cached is not None:
        return cached
    pdata = clusterer.prediction_data_
    raw = clusterer.condensed_tree_._raw_tree
    n_points = len(pdata.core_distances)
    n_nodes = int(max(raw["parent"].max(), raw["child"].max())) + 1
    parent, child, lam = raw["parent"].astype(np.int64), raw["child"].astype(np.int64), raw["lambda_val"]
    point_parent = np.full(n_points, -1, np.int64)
    point_lambda = np.zeros(n_points)
    is_point = child < n_points
    point_parent[child[is_point]] = parent[is_point]
    point_lambda[child[is_point]] = lam[is_point]
    cluster_parent = np.full(n_nodes, -1, np.int64)
    cluster_lambda = np.full(n_nodes, -np.inf)
    ct = pdata.cluster_tree
    cluster_parent[ct["child"].astype(np.int64)] = ct["parent"]
    cluster_lambda[ct["child"].astype(np.int64)] = ct["lambda_val"]
    node_label = np.full(n_nodes, -1, np.int64)
    max_sel = np.zeros(n_nodes)
    for node, label in pdata.cluster_map.items():
        node_label[int(node)] = int(label)
        max_sel[int(node)] = pdata.max_lambdas[node]
    # Max lambda over each cluster's direct children, then propagated up the tree,
    # as approximate_predict_scores computes it.
    max_sub = np.zeros(n_nodes)
    np.maximum.at(max_sub, parent, lam)
    for row in range(len(raw) - 1, -1, -1):
        c = child[row]
        if c >= n_points and max_sub[c] > max_sub[parent[row]]:
            max_sub[parent[row]] = max_sub[c]
    tables = _Tables(
        min_samples=int(clusterer.min_samples or clusterer.min_cluster_size),
        point_parent=point_parent, point_lambda=point_lambda,
        cluster_parent=cluster_parent, cluster_lambda=cluster_lambda,
        node_label=node_label, max_lambda_selected=max_sel, max_lambda_subtree=max_sub,
        root=int(parent.min()),
    )
    clusterer._vaewidget_tables = tables
    return tables


def _query(tree: Any, points: np.ndarray, k: int, threads: int | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """``tree.query`` split over threads: sklearn's trees release the GIL while querying."""
    workers = min(threads or os.cpu_count() or 1, max(1, len(points) // 5000))
    if workers == 1:
        return tree.query(points, k=k)
    parts = np.array_split(points, workers)
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda p: tree.query(p, k=k), parts))
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def _predict_chunk(clusterer: Any, t: _Tables, chunk: np.ndarray, threads: int | None = None):
    pdata = clusterer.prediction_data_
    k = min(2 * t.min_samples, len(pdata.core_distances))
    dist, idx = _query(pdata.tree, chunk, k, threads)
    rows = np.arange(len(chunk))
    point_core = dist[:, min(t.min_samples, k - 1)]
    mr = np.maximum(np.maximum(pdata.core_distances[idx], point_core[:, None]), dist)
    j = mr.argmin(axis=1)
    neighbor, mr_min = idx[rows, j], mr[rows, j]
    with np.errstate(divide="ignore"):
        lam = np.where(mr_min > 0, 1.0 / mr_min, np.finfo(np.double).max)
    start_node = t.point_parent[neighbor]
    # Walk up while the cluster the neighbour falls out of is denser than the new point.
    node = start_node.copy()
    active = t.point_lambda[neighbor] > lam
    while active.any():
        step = active & (node > t.root)
        step &= t.cluster_lambda[np.where(step, node, 0)] >= lam
        if not step.any():
            break
        node[step] = t.cluster_parent[node[step]]
        active = step
    labels = t.node_label[node]
    max_lam = t.max_lambda_selected[node]
    probs = np.where(max_lam > 0, np.minimum(max_lam, lam) / np.where(max_lam > 0, max_lam, 1), 1.0)
    probs = np.where(labels >= 0, probs, 0.0)
    # GLOSH scores: no walk-up; a point already in the data gets its neighbour's lambda.
    lam_s = np.where(dist.min(axis=1) == 0, t.point_lambda[neighbor], lam)
    max_s = t.max_lambda_subtree[start_node]
    safe = np.where(max_s > 0, max_s, 1.0)
    scores = np.where(max_s > 0, (max_s - lam_s) / safe, 0.0)
    return labels, probs, scores
