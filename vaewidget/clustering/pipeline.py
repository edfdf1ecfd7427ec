"""The clustering engine: encode -> project -> cluster, one object, one result.

:class:`ClusterPipeline` takes a trained model and data (or a latent) and returns a
:class:`ClusterResult`: labels, membership probabilities, outlier scores, the latent
codes, the space HDBSCAN clustered, 2-D map coordinates, the fitted projector and
HDBSCAN, and every parameter as resolved. ``VAEClusterer.fit``, ``ClusterViewer`` and
the panel's Clusters tab all go through it, so the same data and settings give the
same clusters wherever they are shown. Its defaults come from the one rule in
:mod:`vaewidget.clustering._defaults`. Nothing here imports a widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vaewidget.clustering import _defaults
from vaewidget.clustering.hdbscan_tools import (
    PROJECTIONS,
    SELECTION_METHODS,
    check_latent,
    fit_projector,
    make_projector,
    place_rows,
    project_2d,
)
from vaewidget.clustering.large import DEFAULT_MAX_FIT, approximate_predict_batched, cluster_latent

#: HDBSCAN settings that ``recluster`` may change without re-projecting.
HDBSCAN_KEYS = ("min_cluster_size", "min_samples", "cluster_selection_method",
                "cluster_selection_epsilon")
#: Views of the 2-D map.
VIEWS = ("auto", "pca", "umap")


@dataclass(frozen=True, eq=False)
class ClusterResult:
    """One clustering of one dataset: what the engine computed, for every consumer.

    Attributes
    ----------
    labels : ndarray of int, shape (n,)
        Cluster of each row; ``-1`` is noise (none left with ``noise="assign"``, unless
        no cluster was found).
    probabilities : ndarray of float, shape (n,)
        HDBSCAN's strength of each row's membership (0 for noise).
    outlier_scores : ndarray of float, shape (n,)
        GLOSH outlier score of each row (higher = more of an outlier).
    embedding : ndarray, shape (n, latent_dim)
        Latent means of the rows.
    scale : ndarray of shape (latent_dim,) or None
        What each latent dimension was divided by before projection (the model's
        posterior scale, ``latent_scaling="posterior"``), ``None`` when unweighted.
    space : ndarray, shape (n, d)
        What HDBSCAN clustered: the projection, or the (weighted) latent itself.
    coords : ndarray, shape (n, 2)
        2-D coordinates for a map.
    projector : object or None
        The fitted projection (``umap.UMAP`` or sklearn ``PCA``), ``None`` without one.
    clusterer : hdbscan.HDBSCAN
        The fitted HDBSCAN (with prediction data; fitted on ``fit_index`` rows).
    fit_index : ndarray of int
        Rows HDBSCAN was fitted on (all rows unless subsampled).
    params : dict
        Every clustering parameter as resolved.
    notes : tuple of str
        Messages about the result a person should read (for example, much noise).
    assigned : ndarray of bool, shape (n,)
        Rows HDBSCAN left as noise that took their neighbours' cluster
        (``noise="assign"``); their ``probabilities`` stay 0.
    """

    labels: np.ndarray
    probabilities: np.ndarray
    outlier_scores: np.ndarray
    embedding: np.ndarray
    space: np.ndarray
    coords: np.ndarray
    projector: Any
    clusterer: Any
    fit_index: np.ndarray
    params: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    assigned: np.ndarray | None = None
    scale: np.ndarray | None = None

    @property
    def weighted(self) -> np.ndarray:
        """The latent as projected: ``embedding / scale`` (``embedding`` when unweighted)."""
        return _weigh(self.embedding, self.scale)

    @property
    def n_clusters(self) -> int:
        """Clusters found, noise excluded."""
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    @property
    def noise_fraction(self) -> float:
        """Share of rows labelled noise."""
        return float(np.mean(self.labels < 0)) if len(self.labels) else 0.0

    @property
    def hdbscan_noise_fraction(self) -> float:
        """Share of rows HDBSCAN itself left as noise (before any assignment)."""
        extra = 0.0 if self.assigned is None or not len(self.labels) else self.assigned.mean()
        return self.noise_fraction + float(extra)

    @property
    def subsampled(self) -> bool:
        """Whether HDBSCAN saw only a subsample (the rest by approximate prediction)."""
        return len(self.fit_index) < len(self.labels)

    def __len__(self) -> int:
        return len(self.labels)


class ClusterPipeline:
    """Encode data with a trained model, project the codes, cluster them with HDBSCAN.

    Parameters
    ----------
    projection
        ``"umap"``, ``"pca"``, ``None`` (cluster the latent itself) or ``"auto"``.
    n_components
        Dimensions of the projection.
    n_neighbors
        UMAP's neighbourhood size, or ``"auto"``.
    min_cluster_size, min_samples
        HDBSCAN's smallest cluster and density smoothing, or ``"auto"``
        (``min_samples=None``: same as ``min_cluster_size``).
    cluster_selection_method
        ``"eom"`` (excess of mass) or ``"leaf"``.
    cluster_selection_epsilon
        HDBSCAN's distance below which clusters merge.
    noise
        ``"assign"``: each row HDBSCAN leaves as noise takes the cluster most of its
        10 nearest clustered neighbours (in the clustered space) belong to, and keeps
        membership strength 0; outliers stay visible in ``outlier_scores``.
        ``"keep"``: noise stays ``-1``.
    latent_scaling
        ``None``: the latent means as they are. ``"posterior"``: :meth:`run` divides
        each latent dimension by the model's typical posterior standard deviation in
        it before projecting, so dimensions the model encodes sharply count more than
        those it leaves near the prior. Codes without variances (an Autoencoder,
        :meth:`fit_latent` without ``scale``) are not weighted.
    max_fit
        Above this many rows HDBSCAN fits a random subsample and labels the rest by
        approximate prediction (``None``: always fit on every row).
    random_state
        Seed of UMAP, PCA and the subsample (``None``: not reproducible; UMAP then
        uses every core).

    Examples
    --------
    >>> import numpy as np
    >>> from vaewidget.clustering import ClusterPipeline
    >>> rng = np.random.default_rng(0)
    >>> z = np.concatenate([rng.normal(0, 0.3, (60, 3)), rng.normal(5, 0.3, (60, 3))])
    >>> result = ClusterPipeline(projection=None, random_state=0).fit_latent(z)
    >>> result.n_clusters
    2
    >>> ClusterPipeline(projection=None).recluster(result, min_cluster_size=50).n_clusters
    2
    """

    def __init__(
        self,
        *,
        projection: str | None = "auto",
        n_components: int = 2,
        n_neighbors: int | str = "auto",
        min_cluster_size: int | str = "auto",
        min_samples: int | str | None = "auto",
        cluster_selection_method: str = "eom",
        cluster_selection_epsilon: float = 0.0,
        noise: str = "assign",
        latent_scaling: str | None = None,
        max_fit: int | None = DEFAULT_MAX_FIT,
        random_state: int | None = None,
    ) -> None:
        self.projection = projection
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.noise = noise
        self.latent_scaling = latent_scaling
        self.max_fit = max_fit
        self.random_state = random_state
        check_cluster_params(self.settings())

    @classmethod
    def from_params(cls, params: dict[str, Any], **overrides: Any) -> ClusterPipeline:
        """A pipeline from a dict holding (at least some of) its settings, e.g. ``params_``."""
        keys = (*_defaults.CLUSTER_DEFAULTS, "max_fit", "random_state")
        return cls(**{**{k: params[k] for k in keys if k in params}, **overrides})

    def settings(self) -> dict[str, Any]:
        """The settings as given (``"auto"`` unresolved)."""
        return {k: getattr(self, k) for k in _defaults.CLUSTER_DEFAULTS}

    def resolve(self, n_rows: int, n_dims: int | None = None) -> dict[str, Any]:
        """The settings for ``n_rows`` points of ``n_dims`` dimensions, each ``"auto"``
        resolved by the one rule."""
        return _defaults.resolve_clustering(self.settings(), n_rows, n_dims)

    # ------------------------------------------------------------------ running
    def run(self, model: Any, x: Any, *, projector: Any = None) -> ClusterResult:
        """Encode ``x`` with ``model`` (latent means), weigh, project and cluster.

        Parameters
        ----------
        model
            A trained :class:`~vaewidget.VAE` or :class:`~vaewidget.Autoencoder`.
        x
            Data in its original units and shape.
        projector
            An already fitted projector to place the codes with (row by row, as
            :meth:`predict` does) instead of fitting one.
        """
        from vaewidget.clustering.explore import latent_codes, latent_means

        if self.latent_scaling is None:
            return self.fit_latent(latent_means(model, x), projector=projector)
        z, scale = latent_codes(model, x)
        return self.fit_latent(z, projector=projector, scale=scale)

    def fit_latent(self, z: Any, *, projector: Any = None, scale: Any = None) -> ClusterResult:
        """Project and cluster latent codes ``z`` of shape ``(rows, dims)``.

        ``scale`` (one positive number per dimension: a fitted result's ``scale``, or
        :func:`~vaewidget.clustering.explore.posterior_scale` of the codes' log-variances)
        divides the codes before projection; ``None`` leaves them as they are.
        """
        z = check_latent(z).astype(np.float32)
        if len(z) < 3:
            raise ValueError(f"Expected at least 3 rows to cluster. Received: {len(z)}")
        scale = _check_scale(scale, z.shape[1])
        params = self.resolve(len(z), z.shape[1])
        params["latent_scaling"] = None if scale is None else "posterior"
        projector, space = self._project(_weigh(z, scale), params, projector)
        return self._cluster(z, space, projector, params, scale)

    def recluster(self, result: ClusterResult, **changes: Any) -> ClusterResult:
        """Cluster ``result``'s space again with some HDBSCAN settings changed.

        The codes and the projection are reused; only HDBSCAN runs.
        """
        allowed = (*HDBSCAN_KEYS, "noise")
        unknown = sorted(set(changes) - set(allowed))
        if unknown:
            raise ValueError(f"Expected settings among {allowed}. Received: {unknown}")
        check_cluster_params({**result.params, **changes})
        params = _defaults.resolve_clustering({**result.params, **changes}, len(result))
        return self._cluster(result.embedding, result.space, result.projector, params,
                             result.scale)

    def predict(self, result: ClusterResult, z: Any) -> tuple[np.ndarray, np.ndarray]:
        """Labels and membership strengths of new latent codes, in ``result``'s clusters.

        New codes go through ``result``'s fitted projection, each row on its own
        (:func:`~vaewidget.clustering.hdbscan_tools.place_rows`: a row's label does not
        depend on the rows predicted with it), then HDBSCAN's approximate prediction;
        the clusters themselves do not change.
        """
        z = check_latent(z).astype(np.float32)
        if z.shape[1] != result.embedding.shape[1]:
            raise ValueError(
                f"Expected codes with {result.embedding.shape[1]} dimensions, as clustered. "
                f"Received: z.shape={z.shape}")
        z = _weigh(z, result.scale)
        space = z if result.projector is None else place_rows(result.projector, z)
        labels, strengths, _ = approximate_predict_batched(result.clusterer, space)
        labels = labels.astype(np.intp)
        if result.params.get("noise", "assign") == "assign" and result.assigned is not None:
            clustered = (result.labels >= 0) & ~result.assigned
            labels = _assign_noise(result.space[clustered], result.labels[clustered],
                                   space, labels, self.random_state)
        return labels, strengths

    def view(self, result: ClusterResult, view: str = "auto") -> np.ndarray:
        """2-D map coordinates of ``result``: ``"auto"`` (its own), ``"pca"`` or ``"umap"``.

        ``"pca"`` and ``"umap"`` project the latent codes themselves.
        """
        if view not in VIEWS:
            raise ValueError(f"Expected view in {VIEWS}. Received: {view!r}")
        if view == "auto":
            return result.coords
        if view == "umap" and result.space.shape[1] == 2 and result.params["projection"] == "umap":
            return result.space.copy()
        if view == "umap":
            n_neighbors = int(_defaults.resolve_clustering({}, len(result))["n_neighbors"])
            return fit_projector(make_projector("umap", 2, self.random_state,
                                                 n_neighbors=n_neighbors), result.weighted)[1]
        return project_2d(result.weighted, "pca", self.random_state)

    # ---------------------------------------------------------------- internals
    def _project(self, z: np.ndarray, params: dict[str, Any], projector: Any
                 ) -> tuple[Any, np.ndarray]:
        if projector is not None:
            return projector, place_rows(projector, z)
        method = params["projection"]
        if method is None:
            return None, z
        n_components = int(min(params["n_components"], max(1, len(z) - 2)))
        if method == "pca":
            n_components = min(n_components, z.shape[1])
            projector = make_projector("pca", n_components, self.random_state)
        else:
            projector = make_projector("umap", n_components, self.random_state,
                                       n_neighbors=int(params["n_neighbors"]), min_dist=0.0)
        return fit_projector(projector, z)

    def _cluster(self, z: np.ndarray, space: np.ndarray, projector: Any,
                 params: dict[str, Any], scale: np.ndarray | None = None) -> ClusterResult:
        fit = cluster_latent(
            space, min_cluster_size=params["min_cluster_size"],
            min_samples=params["min_samples"],
            cluster_selection_method=params["cluster_selection_method"],
            cluster_selection_epsilon=float(params["cluster_selection_epsilon"]),
            max_fit=self.max_fit, random_state=self.random_state)
        found = fit.labels.astype(np.intp)
        labels = found
        if params.get("noise", "assign") == "assign":
            ok = found >= 0
            labels = _assign_noise(space[ok], found[ok], space, found, self.random_state)
        result = ClusterResult(
            labels=labels, probabilities=fit.probabilities,
            outlier_scores=fit.outlier_scores, embedding=z, space=space,
            coords=_coords(z, space), projector=projector, clusterer=fit.clusterer,
            fit_index=fit.fit_index, params=dict(params), assigned=(found < 0) & (labels >= 0),
            scale=scale)
        return replace(result, notes=plausibility_notes(result))


def check_cluster_params(params: dict[str, Any]) -> None:
    """Raise ``ValueError("Expected ... Received: ...")`` for an impossible setting."""
    projection = params.get("projection", "auto")
    if projection not in (*PROJECTIONS, None, "auto"):
        raise ValueError(f"Expected projection in {(*PROJECTIONS, None, 'auto')}. "
                         f"Received: projection={projection!r}")
    for name in ("n_components", "n_neighbors", "min_cluster_size"):
        value = params.get(name, "auto")
        if value != "auto" and (not _is_int(value) or value < (2 if name != "n_components" else 1)):
            raise ValueError(f"Expected {name} to be an int >= "
                             f"{2 if name != 'n_components' else 1} or 'auto'. "
                             f"Received: {name}={value!r}")
    ms = params.get("min_samples", "auto")
    if ms not in ("auto", None) and (not _is_int(ms) or ms < 1):
        raise ValueError("Expected min_samples to be a positive int, None or 'auto'. "
                         f"Received: min_samples={ms!r}")
    method = params.get("cluster_selection_method", "eom")
    if method not in SELECTION_METHODS:
        raise ValueError(f"Expected cluster_selection_method in {SELECTION_METHODS}. "
                         f"Received: cluster_selection_method={method!r}")
    noise = params.get("noise", "assign")
    if noise not in _defaults.NOISE_CHOICES:
        raise ValueError(f"Expected noise in {_defaults.NOISE_CHOICES}. Received: noise={noise!r}")
    scaling = params.get("latent_scaling")
    if scaling not in _defaults.LATENT_SCALINGS:
        raise ValueError(f"Expected latent_scaling in {_defaults.LATENT_SCALINGS}. "
                         f"Received: latent_scaling={scaling!r}")
    eps = params.get("cluster_selection_epsilon", 0.0)
    if (not isinstance(eps, (int, float, np.number)) or isinstance(eps, bool)
            or not 0 <= eps < np.inf):
        raise ValueError("Expected cluster_selection_epsilon to be a finite number >= 0. "
                         f"Received: cluster_selection_epsilon={eps!r}")


def plausibility_notes(result: ClusterResult) -> tuple[str, ...]:
    """Plain-words warnings about a clustering a person should not take at face value."""
    notes = []
    k, noise = result.n_clusters, result.noise_fraction
    if k == 0:
        notes.append("All points are noise: no cluster found. Lower min_cluster_size or "
                     "min_samples, or try 'leaf' selection.")
    elif k == 1:
        notes.append("HDBSCAN found a single cluster: the latent may hold one blob, or "
                     "min_cluster_size is too large. Lower it, or try 'leaf' selection.")
    if k and noise > 0.5:
        notes.append(f"{noise:.0%} of the points are noise: the clusters describe a minority "
                     "of the data.")
    left = result.hdbscan_noise_fraction
    if k and noise <= 0.5 < left:
        notes.append(f"HDBSCAN left {left:.0%} of the points as noise; they took the cluster "
                     "of their nearest clustered neighbours (noise='assign'). The clusters "
                     "are weak: treat them with care, or use noise='keep' to see them.")
    return tuple(notes)


#: Clustered rows the noise vote consults at most (a random subsample above this).
MAX_VOTERS = 200_000


def _assign_noise(ref: np.ndarray, ref_labels: np.ndarray, space: np.ndarray,
                  labels: np.ndarray, random_state: int | None) -> np.ndarray:
    """``labels`` with each -1 replaced by the majority cluster of its nearest clustered
    rows ``ref`` (labelled ``ref_labels``) in ``space``; unchanged without any cluster."""
    from sklearn.neighbors import KNeighborsClassifier

    todo = labels < 0
    if not todo.any() or len(ref) == 0:
        return labels
    if len(ref) > MAX_VOTERS:
        keep = np.random.default_rng(random_state).choice(len(ref), MAX_VOTERS, replace=False)
        ref, ref_labels = ref[keep], ref_labels[keep]
    vote = KNeighborsClassifier(n_neighbors=min(_defaults.NOISE_NEIGHBOURS, len(ref)))
    vote.fit(ref, ref_labels)
    out = labels.copy()
    out[todo] = vote.predict(space[todo])
    return out


def _weigh(z: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    return z if scale is None else (z / scale).astype(np.float32)


def _check_scale(scale: Any, dims: int) -> np.ndarray | None:
    if scale is None:
        return None
    arr = np.asarray(scale, dtype=np.float32)
    if arr.shape != (dims,) or not np.isfinite(arr).all() or not (arr > 0).all():
        raise ValueError(f"Expected scale to be {dims} positive finite numbers, one per latent "
                         f"dimension. Received: shape {arr.shape}, min {np.nanmin(arr, initial=np.inf)}")
    return arr


def _coords(z: np.ndarray, space: np.ndarray) -> np.ndarray:
    if space.shape[1] == 2:
        return np.asarray(space, np.float32)
    if z.shape[1] <= 2:
        return project_2d(z, "auto")
    return project_2d(space, "pca", 0)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
