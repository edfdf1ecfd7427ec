"""HDBSCAN and 2-D projections of a latent space: the pieces the estimator and the viewer share."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

PROJECTIONS = ("umap", "pca")
SELECTION_METHODS = ("eom", "leaf")


def check_latent(z: Any) -> np.ndarray:
    """Return ``z`` as a float64 2-D array; raise if it is empty or not finite.

    A latent with NaN or infinite values comes from a model that diverged.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"Expected a 2-D latent (rows, dims). Received: z.shape={z.shape}")
    if not np.isfinite(z).all():
        raise ValueError(
            "Expected finite latent values. Received "
            f"{int((~np.isfinite(z)).any(axis=1).sum())} rows with NaN or infinite values: "
            "the model probably diverged. Lower the learning rate and retrain."
        )
    return z


def fit_hdbscan(
    z: np.ndarray,
    *,
    min_cluster_size: int = 15,
    min_samples: int | None = None,
    cluster_selection_method: str = "eom",
    cluster_selection_epsilon: float = 0.0,
    prediction_data: bool = True,
) -> Any:
    """Fit ``hdbscan.HDBSCAN`` on ``z`` and return the fitted object.

    ``prediction_data=True`` keeps what ``hdbscan.approximate_predict`` and soft
    clustering need. ``min_samples`` defaults to ``min_cluster_size`` (as in hdbscan).
    """
    import hdbscan

    z = check_latent(z)
    if int(min_cluster_size) < 2:
        raise ValueError(f"Expected min_cluster_size >= 2. Received: {min_cluster_size}")
    if min_samples is not None and int(min_samples) < 1:
        raise ValueError(f"Expected min_samples >= 1 or None. Received: {min_samples}")
    if cluster_selection_method not in SELECTION_METHODS:
        raise ValueError(
            f"Expected cluster_selection_method in {SELECTION_METHODS}. "
            f"Received: {cluster_selection_method!r}"
        )
    if len(z) <= int(min_cluster_size):
        raise ValueError(
            f"Expected more rows than min_cluster_size={min_cluster_size}. Received {len(z)} rows."
        )
    fitted = hdbscan.HDBSCAN(
        min_cluster_size=int(min_cluster_size),
        min_samples=None if min_samples is None else int(min_samples),
        cluster_selection_method=cluster_selection_method,
        cluster_selection_epsilon=float(cluster_selection_epsilon),
        prediction_data=prediction_data,
        core_dist_n_jobs=1,  # hdbscan's default 4 forks workers (~200 MB each) above 16,384 rows
    ).fit(z)
    if prediction_data:
        _align_prediction_data(fitted)
    return fitted


def _align_prediction_data(clusterer: Any) -> None:
    """Make ``approximate_predict`` use the clusters of ``labels_``.

    hdbscan chooses the clusters of ``labels_`` and those of its prediction data by two
    different routines, which can disagree (hdbscan issues #361, #375; PR #586): then a
    training row predicted again gets another cluster id, or noise. Here the prediction
    data is rebuilt on the condensed-tree nodes ``labels_`` actually uses, when they differ.
    """
    from hdbscan.prediction import PredictionData

    labels = clusterer.labels_
    if labels.max() < 0:
        return
    raw = clusterer.condensed_tree_._raw_tree
    inner = raw[raw["child_size"] > 1]
    parent_of = dict(zip(inner["child"].tolist(), inner["parent"].tolist()))
    rows = raw[raw["child_size"] == 1]
    fell_from = np.empty(len(labels), dtype=np.int64)
    fell_from[rows["child"]] = rows["parent"]

    def chain(node: int) -> list[int]:  # the node and its ancestors, deepest first
        out = [node]
        while out[-1] in parent_of:
            out.append(parent_of[out[-1]])
        return out

    nodes = []
    for k in range(labels.max() + 1):
        parents = np.unique(fell_from[labels == k]).tolist()
        common = set(chain(parents[0])).intersection(*(chain(p) for p in parents[1:]))
        nodes.append(next(n for n in chain(parents[0]) if n in common))
    if nodes != sorted(nodes) or nodes == sorted(clusterer.condensed_tree_._select_clusters()):
        return  # hdbscan numbers clusters in node order; nothing to mend, or nothing safe

    class _Selected:  # what PredictionData reads from a condensed tree
        _raw_tree = raw

        @staticmethod
        def _select_clusters() -> list[int]:
            return nodes

    clusterer._prediction_data = PredictionData(
        clusterer._raw_data, _Selected(), clusterer.min_samples or clusterer.min_cluster_size,
        tree_type="kdtree", metric="euclidean")


def make_projector(method: str = "umap", n_components: int = 2, random_state: int | None = None,
                   **kwargs: Any) -> Any:
    """An unfitted projector with ``fit_transform`` and ``transform``: UMAP or PCA."""
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=n_components, random_state=random_state)
    if method == "umap":
        import umap

        options = {"n_neighbors": 30, "min_dist": 0.0, **kwargs}
        # A seeded UMAP runs on one thread (umap-learn's rule); say so and skip its warning.
        options.setdefault("n_jobs", -1 if random_state is None else 1)
        return umap.UMAP(n_components=n_components, random_state=random_state, **options)
    raise ValueError(f"Expected projection in {PROJECTIONS}. Received: {method!r}")


def fit_projector(projector: Any, z: np.ndarray) -> tuple[Any, np.ndarray]:
    """Fit an unfitted ``projector`` (from :func:`make_projector`) to ``z``; return it and
    the projected rows as float32.

    When ``z`` repeats rows, UMAP embeds each distinct row once and gives its repeats the
    same place (its ``unique=True``). Stacks of identical rows otherwise form small pieces
    of UMAP's neighbour graph whose spectral start is degenerate: ARPACK then picks the
    stack's starting coordinates from round-off, which changes from run to run, and a seeded
    map (so the labels) could differ between two runs with the same seed. Rows without
    repeats are projected exactly as before.

    Up to :data:`EXACT_NEIGHBOURS_ROWS` distinct rows UMAP is handed its neighbours
    (:func:`exact_neighbours`): below 4,096 rows the ones it would compute itself, faster;
    from there exact ones rather than pynndescent's approximate ones, which saves the
    first fit in each new process the compilation of pynndescent's numba code. Such a
    projector has no search index, so its own ``transform`` is unavailable; vaewidget
    places new rows with :func:`place_rows`, which does not need it.
    """
    z = np.asarray(z, dtype=np.float32)
    if hasattr(projector, "unique"):
        distinct = count_distinct_rows(z)
        # Too few distinct rows for UMAP's neighbourhoods: umap-learn would then return a
        # map of the distinct rows only, so it keeps its own handling of them.
        if len(z) > distinct > projector.n_neighbors:
            projector.set_params(unique=True)
        elif (projector.n_neighbors < len(z) <= EXACT_NEIGHBOURS_ROWS and distinct == len(z)
              and projector.metric == "euclidean" and projector.precomputed_knn[0] is None):
            projector.set_params(precomputed_knn=exact_neighbours(z, projector.n_neighbors))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap's notes on n_jobs with a seed, and on spectral init
        space = np.asarray(projector.fit_transform(z), np.float32)
    return projector, space


#: From this many rows umap-learn finds neighbours approximately, with pynndescent.
UMAP_EXACT_FROM = 4096
#: Up to this many rows :func:`fit_projector` gives UMAP exact neighbours of its own.
EXACT_NEIGHBOURS_ROWS = 20_000


def exact_neighbours(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows of ``z`` (itself first, at distance 0), exactly.

    The ``(indices, distances)`` pair UMAP takes as ``precomputed_knn``.

    * Below 4,096 rows umap-learn computes exact neighbours itself, but one Python call
      per pair of rows (4.5 s for 1,797 rows, 20 s for 4,000 on two cores). These are
      the same neighbours and distances from one compiled loop (:mod:`._umap_knn`), so
      UMAP makes the same map, bit for bit, in about half the time.
    * From 4,096 rows umap-learn calls pynndescent, whose numba code compiles in every
      new process (tens of seconds on two cores, more than the search itself) and whose
      answer is approximate. Here a brute-force search in blocks of at most 128 MB
      (scikit-learn): about 2 s for 20,000 rows of 96 columns.
    """
    if len(z) < UMAP_EXACT_FROM:
        from vaewidget.clustering._umap_knn import umap_exact_neighbours

        return umap_exact_neighbours(z, k)
    import sklearn
    from sklearn.neighbors import NearestNeighbors

    z64 = np.asarray(z, dtype=np.float64)
    with sklearn.config_context(working_memory=128):
        dist, index = NearestNeighbors(n_neighbors=k - 1, algorithm="brute").fit(z64).kneighbors()
    rows = np.arange(len(z64))[:, None]
    return (np.hstack([rows, index]).astype(np.int32),
            np.hstack([np.zeros_like(rows, dtype=np.float32), dist.astype(np.float32)]))


def count_distinct_rows(z: np.ndarray) -> int:
    """How many different rows the 2-D array ``z`` holds (byte for byte)."""
    z = np.ascontiguousarray(z)
    if len(z) < 2 or z.shape[1] == 0:
        return min(len(z), 1)
    rows = z.view(np.dtype((np.void, z.dtype.itemsize * z.shape[1]))).ravel()
    return len(np.unique(rows))


#: Nearest training rows a new row is placed among (see :func:`place_rows`).
PLACE_NEIGHBOURS = 5


def place_rows(projector: Any, z: np.ndarray) -> np.ndarray:
    """Coordinates of new rows ``z`` on a fitted projection, each row on its own.

    PCA is linear, so its ``transform`` already treats rows apart. UMAP's ``transform``
    first places each new row at the mean of its nearest training rows' positions, weighted
    by its membership strengths to them, then refines all new rows together with a few
    epochs of random sampling, so where a row lands depends on the rows transformed with
    it (and rows identical to the training data skip both steps). Here every row gets a
    first placement only, from its :data:`PLACE_NEIGHBOURS` nearest training rows (exact
    euclidean search) weighted ``exp(-d / sigma)``, with UMAP's ``smooth_knn_dist``
    choosing ``sigma`` as UMAP's ``transform`` does. The position is a continuous function
    of the row alone: the same row lands in the same place in any batch. Few neighbours
    keep a row near its closest training rows; averaging over UMAP's whole neighbourhood
    pulls rows between clusters into the gaps (``docs/clustering-decisions.md``).
    """
    import umap
    from sklearn.neighbors import NearestNeighbors
    from umap.umap_ import smooth_knn_dist

    z = np.asarray(z, dtype=np.float32)
    if not isinstance(projector, umap.UMAP):
        return np.asarray(projector.transform(z), dtype=np.float32)
    reference = np.asarray(projector._raw_data, dtype=np.float32)  # what UMAP was fitted on
    k = min(PLACE_NEIGHBOURS, len(reference))
    dist, index = NearestNeighbors(n_neighbors=k).fit(reference).kneighbors(z)
    dist = np.ascontiguousarray(dist, dtype=np.float32)
    sigma, _ = smooth_knn_dist(dist, float(k), local_connectivity=0.0)
    weights = np.exp(-dist / np.maximum(sigma, np.finfo(np.float32).tiny)[:, None])
    weights /= weights.sum(axis=1, keepdims=True)
    positions = np.asarray(projector.embedding_, dtype=np.float32)
    return np.einsum("ij,ijk->ik", weights, positions[index]).astype(np.float32)


def project_2d(z: np.ndarray, method: str = "auto", random_state: int | None = 0) -> np.ndarray:
    """2-D coordinates of a latent for drawing: itself when 2-D, else PCA or UMAP of it."""
    z = np.asarray(z, dtype=np.float32)
    if z.shape[1] == 2 and method in ("auto", "identity"):
        return z.copy()
    if z.shape[1] == 1:
        return np.column_stack([z[:, 0], np.zeros(len(z), np.float32)])
    chosen = "pca" if method == "auto" else method
    return fit_projector(make_projector(chosen, 2, random_state), z)[1]
