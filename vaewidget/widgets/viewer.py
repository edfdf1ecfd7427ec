"""ClusterViewer: HDBSCAN clusters of a trained model's latent space, in a notebook widget.

The viewer computes nothing of its own: a :class:`~vaewidget.clustering.ClusterPipeline`
(the engine ``VAEClusterer`` uses) encodes, projects and clusters, and the viewer shows
its :class:`~vaewidget.clustering.ClusterResult` and sends the user's choices back to it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from vaewidget._validation import as_float_array
from vaewidget.clustering._checks import fingerprint
from vaewidget.clustering._defaults import resolve_clustering
from vaewidget.clustering.explore import suggest_parameters
from vaewidget.clustering.large import DEFAULT_MAX_FIT
from vaewidget.clustering.metrics import score_clustering
from vaewidget.clustering.pipeline import (
    HDBSCAN_KEYS,
    ClusterPipeline,
    ClusterResult,
    check_cluster_params,
)
from vaewidget.widgets._paths import check_files_root
from vaewidget.widgets.latent_map import COLOURS, LatentMap, align
from vaewidget.widgets.viewer_explore import ExploreMixin
from vaewidget.widgets.viewer_pick import PickMixin, guarded
from vaewidget.widgets.viewer_show import ShowMixin
from vaewidget.widgets.viewer_ui import ClusterViewerWidget
from vaewidget.widgets.viewer_watch import WatchMixin

HDBSCAN_OPTIONS = HDBSCAN_KEYS
#: The "cluster on" choices and the projection each one asks the engine for.
SPACES = {"latent": None, "umap": "umap", "pca": "pca"}


class ClusterViewer(ShowMixin, PickMixin, ExploreMixin, WatchMixin):
    """See the HDBSCAN clusters in a model's latent space; pick points, compare, export.

    Display it as the last expression of a cell (or show ``viewer.widget``). The map is
    a jupyter-scatter widget: zoom and pan, hover for a row's cluster and membership
    probability, lasso or click to select. Where widgets do not run (a notebook saved
    without widget state and rendered to HTML) the cell shows :meth:`to_png` instead.

    Parameters
    ----------
    model_or_clusterer
        A trained :class:`~vaewidget.VAE` or :class:`~vaewidget.Autoencoder`, or a
        fitted :class:`~vaewidget.VAEClusterer` (its model, projection and HDBSCAN
        parameters are used).
    x
        The data to encode, in its original units and shape.
    labels
        Optional true classes, one per row. They are only ever used to score the
        clustering (ARI, NMI, coverage) and to colour the map on request, never to
        choose it. Labels of the wrong length are ignored, with a message.
    space
        Cluster the ``"latent"`` means, a ``"umap"`` or ``"pca"`` of them, or
        ``"auto"``: the fitted estimator's choice, else the engine's rule (the one
        ``VAEClusterer`` uses: UMAP for 200 to 50,000 rows and a latent larger than
        2-D, else the latent itself).
    view
        The 2-D map: ``"auto"`` (the UMAP when clustering on it, the latent itself
        when 2-D, else PCA), ``"pca"`` or ``"umap"``.
    max_fit
        Above this many rows HDBSCAN fits a random subsample and labels the rest by
        approximate prediction (:func:`vaewidget.clustering.large.cluster_latent`).
    random_state
        Seed of subsamples, UMAP and PCA (a fitted estimator's own seed wins).
    files_root
        The folder that the CSV file name typed in the Export tab resolves in
        (default: the working directory now); a name leading out of it is refused.
        :meth:`save_csv` called from code takes any path.
    **hdbscan_options
        Initial ``min_cluster_size``, ``min_samples`` (``None``: same as
        min_cluster_size), ``cluster_selection_method`` and
        ``cluster_selection_epsilon``. Defaults: a fitted estimator's values, else
        the engine's rule (:func:`vaewidget.clustering._defaults.resolve_clustering`),
        the same as ``VAEClusterer``'s.

    With a fitted ``VAEClusterer`` and the data it was fitted on, the viewer shows
    the estimator's own clustering (``viewer.labels_`` equals ``est.labels_``).

    Attributes
    ----------
    widget : ClusterViewerWidget
        The ipywidgets root.
    map : vaewidget.widgets.latent_map.LatentMap
        The interactive map (``map.widget`` is the jupyter-scatter widget).
    pipeline : vaewidget.clustering.ClusterPipeline
        The engine that computes the clustering.
    result : vaewidget.clustering.ClusterResult or None
        The clustering shown (``None`` when the codes are not finite).
    labels_, probabilities_, outlier_scores_ : ndarray
        Per row, from the current clustering (``-1`` is noise).
    n_clusters_ : int
    embedding_ : ndarray
        Latent means of ``x``.
    coords_ : ndarray
        The 2-D coordinates drawn.
    selection : ndarray
        Row numbers of the current selection (also ``selection_``).

    Examples
    --------
    >>> from vaewidget import VAE, ClusterViewer
    >>> from vaewidget.datasets import make_manifold_clusters
    >>> x, y = make_manifold_clusters(300, n_clusters=3, n_features=8)
    >>> model = VAE.from_data(x, latent_dim=2, hidden_units=(16,), seed=0)
    >>> model.compile()
    >>> _ = model.fit(model.prepare(x), epochs=3, verbose=0)
    >>> viewer = ClusterViewer(model, x, labels=y)  # in a notebook, `viewer` displays it
    >>> viewer.labels_.shape, viewer.coords_.shape
    ((300,), (300, 2))
    >>> viewer.set_params(min_cluster_size=30)      # re-clusters, as the slider does
    >>> list(viewer.to_dataframe().columns)
    ['index', 'cluster', 'probability', 'outlier_score', 'x', 'y']
    >>> viewer.close()
    """

    def __init__(self, model_or_clusterer: Any, x: Any, labels: Any = None, *,
                 space: str = "auto", view: str = "auto", max_fit: int | None = DEFAULT_MAX_FIT,
                 random_state: int | None = 0, files_root: Any = None,
                 **hdbscan_options: Any) -> None:
        unknown = sorted(set(hdbscan_options) - set(HDBSCAN_OPTIONS))
        if unknown:
            raise ValueError(f"Expected options among {HDBSCAN_OPTIONS}. Received: {unknown}")
        if space not in ("auto", *SPACES):
            raise ValueError(f"Expected space in {('auto', *SPACES)}. Received: {space!r}")
        if view not in ("auto", "pca", "umap"):
            raise ValueError(f"Expected view in ('auto', 'pca', 'umap'). Received: {view!r}")
        self.model, self._source = _resolve_model(model_or_clusterer)
        self.x = self.model.preparer.check(as_float_array(x, name="x", min_rows=3))
        self.files_root = check_files_root(files_root)
        n = len(self.x)
        self.max_fit, self.random_state = max_fit, random_state
        self._lock = threading.RLock()
        self.result: ClusterResult | None = None
        self.coords_: np.ndarray | None = None
        self._recon_error: np.ndarray | None = None
        self._suggested: list[dict[str, Any]] = []
        self._init_pick()
        self._init_watch()
        self.map = LatentMap(images=self.x if self.x.ndim >= 3 else None)
        fitted = dict(getattr(self._source, "params_", None) or {})
        seed = getattr(self._source, "_seed", lambda: None)()
        self.random_state = random_state if seed is None else seed
        base = {**fitted, **hdbscan_options}
        if space != "auto":
            base["projection"] = SPACES[space]
        self.pipeline = ClusterPipeline.from_params(base, max_fit=max_fit,
                                                    random_state=self.random_state)
        opts = self.pipeline.resolve(n, self.model.code_dim)
        mcs_max = int(max(50, min(n // 2, 5000), int(opts["min_cluster_size"])))
        self.labels_true = None
        if labels is not None:
            y = np.asarray(labels).ravel()
            if len(y) != n:
                self._label_problem = (
                    f"Expected one label per row ({n}). Received: {len(y)} labels; they are "
                    "ignored (no scores, no colouring by label).")
            else:
                self.labels_true = y
        colours = [(text, key) for key, text in COLOURS.items()
                   if key != "label" or self.labels_true is not None]
        self.widget = w = ClusterViewerWidget(n_rows=n, colours=colours, mcs_max=mcs_max,
                                              map_box=self.map.box)
        with w.hold_sync():
            w.space.value = next(k for k, v in SPACES.items() if v == opts["projection"])
            w.view.value = view
            w.min_cluster_size.value = int(opts["min_cluster_size"])
            ms = opts.get("min_samples")
            w.min_samples.max = max(w.min_samples.max, int(ms or 0))
            w.min_samples.value = int(ms or 0)
            w.selection_method.value = opts["cluster_selection_method"]
            w.epsilon.max = max(w.epsilon.max, float(opts["cluster_selection_epsilon"]))
            w.epsilon.value = float(opts["cluster_selection_epsilon"])
        for control in (w.min_cluster_size, w.min_samples, w.selection_method, w.epsilon):
            control.observe(self._on_control, names="value")
        w.space.observe(self._on_space, names="value")
        w.view.observe(self._on_view, names="value")
        w.colour.observe(lambda _: self._guarded(self._on_colour), names="value")
        w.refresh.on_click(lambda _: self._guarded(self.refresh))
        w.suggest.on_click(lambda _: self._guarded(self.suggest))
        w.apply_best.on_click(lambda _: self._guarded(self.apply_suggestion))
        w.tabs.observe(self._on_tab, names="selected_index")
        self._wire_pick()
        self._wire_explore()
        self._wire_watch()
        self._fitted_result = self._reusable_fit()
        self._guarded(self.refresh)

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # The widget, and the static map for where widgets do not run: nbconvert's HTML
        # falls back to the PNG when the notebook holds no widget state.
        import base64

        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = repr(self)
        try:
            bundle["image/png"] = base64.b64encode(self.to_png()).decode("ascii")
        except Exception:  # a fallback must never stop the widget from showing
            pass
        return bundle

    def __repr__(self) -> str:
        return (f"ClusterViewer({len(self.x):,} points, {self.n_clusters_} clusters, "
                f"{len(self._selection):,} selected)")

    # --------------------------------------------------------------- public API
    @property
    def labels_(self) -> np.ndarray:
        """Cluster of each row (``-1`` noise); all ``-1`` while there is no clustering."""
        return self.result.labels.copy() if self.result else np.full(len(self.x), -1)

    @property
    def probabilities_(self) -> np.ndarray:
        return self.result.probabilities.copy() if self.result else np.zeros(len(self.x))

    @property
    def outlier_scores_(self) -> np.ndarray:
        return self.result.outlier_scores.copy() if self.result else np.ones(len(self.x))

    @property
    def n_clusters_(self) -> int:
        return self.result.n_clusters if self.result else 0

    @property
    def clusterer_(self) -> Any:
        """The fitted ``hdbscan.HDBSCAN`` (fitted on a subsample above ``max_fit`` rows)."""
        return self.result.clusterer if self.result else None

    @property
    def embedding_(self) -> np.ndarray | None:
        """Latent means of ``x`` (``None`` when they are not finite)."""
        return self.result.embedding if self.result else None

    @property
    def _result(self) -> ClusterResult | None:
        return self.result

    @property
    def _space(self) -> np.ndarray | None:
        return self.result.space if self.result else None

    @property
    def status(self) -> str:
        """The message in the status area."""
        return self.widget.status_text

    def refresh(self) -> None:
        """Re-encode ``x`` with the model's current weights, then re-cluster and redraw."""
        with self._lock:
            self.widget.show_status("Encoding and clustering...")
            fitted, self._fitted_result = self._fitted_result, None
            try:
                # The old result stays on show until the new one is ready: no blank map.
                result = (self._with_controls(fitted) if fitted is not None
                          else self.pipeline.run(self.model, self.x))
            except ValueError:
                self.result = self.coords_ = self._recon_error = None
                self._after_cluster()
                raise
            self.result, self._recon_error = result, None
            self._show_result()

    def recluster(self) -> None:
        """Cluster again with the current control values (no re-encoding)."""
        with self._lock:
            if self.result is None:
                self.widget.show_status(
                    "Nothing to cluster: the latent codes are not finite (the model "
                    "diverged). Retrain, then press Re-encode.", "error")
                return
            self.widget.show_status("Clustering...")
            self.result = self._with_controls(self.result)
            self._after_cluster()

    def hdbscan_params(self) -> dict[str, Any]:
        """The HDBSCAN parameters the controls hold now (``min_samples`` 0: the rule's)."""
        w = self.widget
        return {"min_cluster_size": int(w.min_cluster_size.value),
                "min_samples": int(w.min_samples.value) or "auto",
                "cluster_selection_method": w.selection_method.value,
                "cluster_selection_epsilon": float(w.epsilon.value)}

    def set_params(self, **params: Any) -> None:
        """Set several HDBSCAN parameters at once and re-cluster once."""
        unknown = sorted(set(params) - set(HDBSCAN_OPTIONS))
        if unknown:
            raise ValueError(f"Expected parameters among {HDBSCAN_OPTIONS}. Received: {unknown}")
        check_cluster_params(params)
        params = {k: v for k, v in resolve_clustering(
            {**self.hdbscan_params(), **params}, len(self.x)).items() if k in params}
        w = self.widget
        self._quiet = True
        try:
            with w.hold_sync():
                if "min_cluster_size" in params:
                    v = int(params["min_cluster_size"])
                    w.min_cluster_size.max = max(w.min_cluster_size.max, v)
                    w.min_cluster_size.value = v
                if "min_samples" in params:
                    v = int(params["min_samples"] or 0)
                    w.min_samples.max = max(w.min_samples.max, v)
                    w.min_samples.value = v
                if "cluster_selection_method" in params:
                    w.selection_method.value = params["cluster_selection_method"]
                if "cluster_selection_epsilon" in params:
                    v = float(params["cluster_selection_epsilon"])
                    w.epsilon.max = max(w.epsilon.max, v)
                    w.epsilon.value = v
        finally:
            self._quiet = False
        self.recluster()

    def suggest(self, score: str = "dbcv") -> list[dict[str, Any]]:
        """Sweep HDBSCAN settings on the current space, rank them without labels, show them.

        See :func:`vaewidget.clustering.explore.suggest_parameters`. Returns the ranking.
        """
        import html

        if self._space is None:
            raise ValueError("Expected finite latent codes to sweep. Received none: retrain.")
        self.widget.show_status("Sweeping HDBSCAN settings...")
        ranking = suggest_parameters(self._space, score=score, random_state=self.random_state)
        self._suggested = ranking
        rows = "".join(
            f"<tr><td>{r['min_cluster_size']}</td><td>{r['min_samples'] or 'auto'}</td>"
            f"<td>{r['cluster_selection_method']}</td><td>{r['score']:.3f}</td>"
            f"<td>{r['n_clusters']}</td><td>{r['coverage']:.0%}</td></tr>" for r in ranking[:6])
        self.widget.suggestions.value = (
            "<table class='vaew-suggest'><tr><th>min_cluster_size</th><th>min_samples</th>"
            f"<th>method</th><th>{html.escape(score)}</th><th>clusters</th><th>coverage</th>"
            f"</tr>{rows}</table>")
        best_ok = bool(ranking) and np.isfinite(ranking[0]["score"])
        self.widget.apply_best.disabled = not best_ok
        self.widget.show_status(
            "Suggestions ready (labels not used): press Apply best." if best_ok else
            "No setting found two or more clusters; the latent may hold one blob.",
            "info" if best_ok else "warning")
        return ranking

    def apply_suggestion(self, rank: int = 0) -> dict[str, Any]:
        """Apply the ``rank``-th suggested setting (0 = best) and re-cluster."""
        if not self._suggested:
            raise ValueError("Expected suggestions first. Received none: press Suggest.")
        best = self._suggested[int(rank)]
        self.set_params(min_cluster_size=best["min_cluster_size"],
                        min_samples=best["min_samples"],
                        cluster_selection_method=best["cluster_selection_method"])
        return best

    def scores(self) -> dict[str, float] | None:
        """ARI, NMI and coverage against ``labels`` (``None`` without labels)."""
        if self.labels_true is None or self._result is None:
            return None
        return score_clustering(self.labels_true, self._result.labels)

    # ---------------------------------------------------------------- internals
    def _guarded(self, fn, *args: Any) -> Any:
        return guarded(self.widget, fn, *args)

    def _reusable_fit(self) -> ClusterResult | None:
        """A fitted estimator's own result, when the viewer shows the same data and space."""
        src = self._source
        result = getattr(src, "result_", None)
        if result is None or getattr(src, "fingerprint_", None) != fingerprint(self.x):
            return None
        if result.params.get("projection") != SPACES[self.widget.space.value]:
            return None
        return result

    def _with_controls(self, result: ClusterResult) -> ClusterResult:
        """``result``, re-clustered where the controls differ from its HDBSCAN settings."""
        wanted = resolve_clustering({**result.params, **self.hdbscan_params()}, len(result))
        changed = {k: wanted[k] for k in HDBSCAN_KEYS if result.params.get(k) != wanted[k]}
        return self.pipeline.recluster(result, **changed) if changed else result

    def _show_result(self) -> None:
        w, r = self.widget, self.result
        # Turned onto the map on show, so points move only as much as their codes did.
        self.coords_ = align(self.coords_, self.pipeline.view(r, w.view.value))
        spread = float(np.median(r.space.std(axis=0))) or 1.0
        w.epsilon.max = max(float(w.epsilon.value), round(spread, 3))
        w.epsilon.step = max(w.epsilon.max / 100, 1e-4)
        self._after_cluster()

    def _on_control(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_quiet", False):
            self._guarded(self.recluster)

    def _on_space(self, change: dict[str, Any]) -> None:
        def run() -> None:
            with self._lock:
                self.pipeline = ClusterPipeline.from_params(
                    {**self.pipeline.settings(), **self.hdbscan_params(),
                     "projection": SPACES[self.widget.space.value]},
                    max_fit=self.max_fit, random_state=self.random_state)
                if self.result is not None:
                    self.widget.show_status("Projecting and clustering...")
                    self.result = self.pipeline.fit_latent(self.result.embedding,
                                                           scale=self.result.scale)
                    self._show_result()
        self._guarded(run)

    def _on_view(self, change: dict[str, Any]) -> None:
        def run() -> None:
            with self._lock:
                if self.result is not None:
                    self._show_result()
        self._guarded(run)


def _resolve_model(obj: Any) -> tuple[Any, Any]:
    from vaewidget.models.base import BaseAutoencoder

    if isinstance(obj, BaseAutoencoder):
        return obj, None
    model = getattr(obj, "model_", None)
    if isinstance(model, BaseAutoencoder):
        return model, obj
    raise ValueError(
        "Expected a trained vaewidget.VAE / Autoencoder or a fitted VAEClusterer. "
        f"Received: {type(obj).__name__}")



__all__ = ["ClusterViewer"]
