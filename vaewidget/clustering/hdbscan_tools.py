"""HDBSCAN and 2-D projections of a latent space: the pieces the estimator and the viewer share."""

from __future__ import annotations

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
    return hdbscan.HDBSCAN(
        min_cluster_size=int(min_cluster_size),
        min_samples=None if min_samples is None else int(min_samples),
        cluster_selection_method=cluster_selection_method,
        cluster_selection_epsilon=float(cluster_selection_epsilon),
        prediction_data=prediction_data,
        core_dist_n_jobs=1,  # hdbscan's default 4 forks workers (~200 MB each) above 16,384 rows
    ).fit(z)


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


def project_2d(z: np.ndarray, method: str = "auto", random_state: int | None = 0) -> np.ndarray:
    """2-D coordinates of a latent for drawing: itself when 2-D, else PCA or UMAP of it."""
    z = np.asarray(z, dtype=np.float32)
    if z.shape[1] == 2 and method in ("auto", "identity"):
        return z.copy()
    if z.shape[1] == 1:
        return np.column_stack([z[:, 0], np.zeros(len(z), np.float32)])
    chosen = "pca" if method == "auto" else method
    return np.asarray(make_projector(chosen, 2, random_state).fit_transform(z), dtype=np.float32)
