"""ClusterViewer: HDBSCAN clusters of a trained model's latent space, in a notebook widget."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from vaewidget._validation import as_float_array
from vaewidget.clustering.explore import latent_means, suggest_parameters
from vaewidget.clustering.hdbscan_tools import make_projector, project_2d
from vaewidget.clustering.large import DEFAULT_MAX_FIT, LatentClustering, cluster_latent
from vaewidget.clustering.metrics import score_clustering
from vaewidget.plotting import figure_to_png
from vaewidget.widgets._cluster_plots import draw_condensed_tree, draw_map, message_figure
from vaewidget.widgets._paths import check_files_root
from vaewidget.widgets.viewer_pick import PickMixin, guarded
from vaewidget.widgets.viewer_ui import ClusterViewerWidget
from vaewidget.widgets.viewer_watch import WatchMixin

HDBSCAN_OPTIONS = ("min_cluster_size", "min_samples", "cluster_selection_method",
                   "cluster_selection_epsilon")
#: The default clusters a UMAP of the latent (as VAEClusterer does) between these sizes.
UMAP_MIN_ROWS, UMAP_MAX_ROWS = 200, 50_000


class ClusterViewer(PickMixin, WatchMixin):
    """See the HDBSCAN clusters in a model's latent space; pick points, compare, export.

    Display it as the last expression of a cell (or show ``viewer.widget``).

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
        Cluster ``"latent"`` means, a ``"umap"`` of them, or ``"auto"``: UMAP for
        200 to 50,000 rows (what ``VAEClusterer`` does by default), else the latent.
    view
        The 2-D map: ``"auto"`` (the UMAP when clustering on it, the latent itself
        when 2-D, else PCA), ``"pca"`` or ``"umap"``.
    max_fit
        Above this many rows HDBSCAN fits a random subsample and labels the rest by
        approximate prediction (:func:`vaewidget.clustering.large.cluster_latent`).
    random_state
        Seed of subsamples, UMAP and PCA.
    files_root
        The folder that the CSV file name typed in the Export tab resolves in
        (default: the working directory now); a name leading out of it is refused.
        :meth:`save_csv` called from code takes any path.
    **hdbscan_options
        Initial ``min_cluster_size``, ``min_samples`` (``None``: same as
        min_cluster_size), ``cluster_selection_method`` and
        ``cluster_selection_epsilon``. Defaults follow VAEClusterer: 1 % of the rows
        (at least 5) and ``min(10, min_cluster_size)``.

    Attributes
    ----------
    widget : ClusterViewerWidget
        The ipywidgets root.
    labels_, probabilities_, outlier_scores_ : ndarray
        Per row, from the current clustering (``-1`` is noise).
    n_clusters_ : int
    embedding_ : ndarray
        Latent means of ``x``.
    coords_ : ndarray
        The 2-D coordinates drawn.
    selection_ : ndarray
        Row numbers of the current selection.
    """

    def __init__(self, model_or_clusterer: Any, x: Any, labels: Any = None, *,
                 space: str = "auto", view: str = "auto", max_fit: int | None = DEFAULT_MAX_FIT,
                 random_state: int | None = 0, files_root: Any = None,
                 **hdbscan_options: Any) -> None:
        unknown = sorted(set(hdbscan_options) - set(HDBSCAN_OPTIONS))
        if unknown:
            raise ValueError(f"Expected options among {HDBSCAN_OPTIONS}. Received: {unknown}")
        if space not in ("auto", "latent", "umap"):
            raise ValueError(f"Expected space in ('auto', 'latent', 'umap'). Received: {space!r}")
        if view not in ("auto", "pca", "umap"):
            raise ValueError(f"Expected view in ('auto', 'pca', 'umap'). Received: {view!r}")
        self.model, self._source = _resolve_model(model_or_clusterer)
        self.x = as_float_array(x, name="x", min_rows=3)
        self.files_root = check_files_root(files_root)
        n = len(self.x)
        self.max_fit, self.random_state = max_fit, random_state
        self._lock = threading.RLock()
        self._result: LatentClustering | None = None
        self.embedding_: np.ndarray | None = None
        self._space: np.ndarray | None = None
        self.coords_: np.ndarray | None = None
        self._recon_error: np.ndarray | None = None
        self._suggested: list[dict[str, Any]] = []
        self._init_pick()
        self._init_watch()
        defaults = _defaults(n, self._source, self.model.latent_dim)
        opts = {**defaults, **hdbscan_options}
        if space == "auto":
            space = defaults.pop("space")
        mcs_max = int(max(50, min(n // 2, 5000), int(opts["min_cluster_size"])))
        self.widget = w = ClusterViewerWidget(n_rows=n, has_labels=labels is not None,
                                              mcs_max=mcs_max)
        self.labels_true = None
        if labels is not None:
            y = np.asarray(labels).ravel()
            if len(y) != n:
                self._label_problem = (
                    f"Expected one label per row ({n}). Received: {len(y)} labels; they are "
                    "ignored (no scores, no colouring by label).")
                w.colour_by_label.disabled = True
            else:
                self.labels_true = y
        with w.hold_sync():
            w.space.value, w.view.value = space, view
            w.min_cluster_size.value = int(opts["min_cluster_size"])
            ms = opts.get("min_samples")
            w.min_samples.max = max(w.min_samples.max, int(ms or 0))
            w.min_samples.value = int(ms or 0)
            w.selection_method.value = opts.get("cluster_selection_method", "eom")
            w.epsilon.value = float(opts.get("cluster_selection_epsilon", 0.0))
        for control in (w.min_cluster_size, w.min_samples, w.selection_method, w.epsilon):
            control.observe(self._on_control, names="value")
        w.space.observe(self._on_space, names="value")
        w.view.observe(self._on_view, names="value")
        w.colour_by_label.observe(lambda _: self._guarded(self._draw), names="value")
        w.refresh.on_click(lambda _: self._guarded(self.refresh))
        w.suggest.on_click(lambda _: self._guarded(self.suggest))
        w.apply_best.on_click(lambda _: self._guarded(self.apply_suggestion))
        w.tabs.observe(self._on_tab, names="selected_index")
        self._wire_pick()
        self._wire_watch()
        self._guarded(self.refresh)

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # --------------------------------------------------------------- public API
    @property
    def labels_(self) -> np.ndarray:
        """Cluster of each row (``-1`` noise); all ``-1`` while there is no clustering."""
        return self._result.labels.copy() if self._result else np.full(len(self.x), -1)

    @property
    def probabilities_(self) -> np.ndarray:
        return self._result.probabilities.copy() if self._result else np.zeros(len(self.x))

    @property
    def outlier_scores_(self) -> np.ndarray:
        return self._result.outlier_scores.copy() if self._result else np.ones(len(self.x))

    @property
    def n_clusters_(self) -> int:
        return self._result.n_clusters if self._result else 0

    @property
    def clusterer_(self) -> Any:
        """The fitted ``hdbscan.HDBSCAN`` (fitted on a subsample above ``max_fit`` rows)."""
        return self._result.clusterer if self._result else None

    @property
    def status(self) -> str:
        """The message in the status area."""
        return self.widget.status_text

    def refresh(self) -> None:
        """Re-encode ``x`` with the model's current weights, then re-cluster and redraw."""
        with self._lock:
            w = self.widget
            w.show_status("Encoding...")
            self._recon_error = None
            self._result = None
            try:
                self.embedding_ = latent_means(self.model, self.x)
            except ValueError as err:
                self.embedding_ = self._space = self.coords_ = None
                self._after_cluster()
                raise err
            self._project()
            self.recluster()

    def recluster(self) -> None:
        """Cluster again with the current control values (no re-encoding)."""
        with self._lock:
            w = self.widget
            if self._space is None:
                w.show_status("Nothing to cluster: the latent codes are not finite (the model "
                              "diverged). Retrain, then press Re-encode.", "error")
                return
            w.show_status("Clustering...")
            self._result = cluster_latent(self._space, **self.hdbscan_params(),
                                          max_fit=self.max_fit, random_state=self.random_state)
            self._after_cluster()

    def hdbscan_params(self) -> dict[str, Any]:
        """The HDBSCAN parameters the controls hold now."""
        w = self.widget
        return {"min_cluster_size": int(w.min_cluster_size.value),
                "min_samples": int(w.min_samples.value) or None,
                "cluster_selection_method": w.selection_method.value,
                "cluster_selection_epsilon": float(w.epsilon.value)}

    def set_params(self, **params: Any) -> None:
        """Set several HDBSCAN parameters at once and re-cluster once."""
        unknown = sorted(set(params) - set(HDBSCAN_OPTIONS))
        if unknown:
            raise ValueError(f"Expected parameters among {HDBSCAN_OPTIONS}. Received: {unknown}")
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

    def _project(self) -> None:
        w, z = self.widget, self.embedding_
        if w.space.value == "umap":
            projector = getattr(self._source, "projector_", None)
            fitted = getattr(self._source, "projection_", None)
            reuse = getattr(self._source, "embedding_", None)
            if (fitted is not None and reuse is not None and len(reuse) == len(z)
                    and np.allclose(reuse[:50], z[:50], atol=1e-4)):
                space = np.asarray(fitted, np.float32)
            elif projector is not None and hasattr(projector, "n_neighbors"):
                space = np.asarray(projector.transform(z), np.float32)
            else:
                w.show_status("Computing a UMAP of the latent (slow the first time)...")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # umap's notes on n_jobs and seeds
                    space = np.asarray(make_projector(
                        "umap", 2, self.random_state, n_neighbors=int(min(30, len(z) - 1))
                    ).fit_transform(z), np.float32)
        else:
            space = z
        self._space = space
        view = w.view.value
        if view == "auto":
            view = "identity" if space.shape[1] <= 2 else "pca"
            self.coords_ = project_2d(space, view, self.random_state)
        elif view == "umap" and w.space.value == "umap" and space.shape[1] == 2:
            self.coords_ = space.copy()
        else:
            self.coords_ = project_2d(z, view, self.random_state)
        spread = float(np.median(space.std(axis=0))) or 1.0
        w.epsilon.max = max(float(w.epsilon.value), round(spread, 3))
        w.epsilon.step = max(w.epsilon.max / 100, 1e-4)
        self._fit_ranges()

    def _after_cluster(self) -> None:
        import html

        w, r = self.widget, self._result
        if r is None:
            w.n_clusters = 0
            w.summary.value = ""
            w.map_image.value = figure_to_png(message_figure("no clustering"))
            self._update_lists()
            return
        k, noise = r.n_clusters, float((r.labels < 0).mean())
        w.n_clusters = k
        fitted = (f" (HDBSCAN fitted {len(r.fit_index):,} sampled rows; the rest by approximate "
                  "prediction)") if r.subsampled else ""
        text = (f"<b class='vaew-n-clusters'>{k} cluster{'s' if k != 1 else ''}</b> in "
                f"{len(r.labels):,} points, noise {noise:.0%}{fitted}")
        scores = self.scores()
        if scores is not None:
            text += (f" &middot; ARI {scores['ari']:.3f} &middot; NMI {scores['nmi']:.3f} "
                     f"&middot; coverage {scores['coverage']:.0%} (labels used for scoring only)")
        w.summary.value = text
        self._update_lists()
        self._draw()
        if w.tabs.selected_index == 1:
            self._draw_tree()
        else:
            w.tree_image.value = b""
        message, level = f"Clustered {len(r.labels):,} points into {k} clusters.", "info"
        if k == 0:
            message = ("All points are noise: no cluster found. Lower min_cluster_size or "
                       "min_samples, try 'leaf', or press Suggest parameters.")
            level = "warning"
        elif k == 1:
            message = ("HDBSCAN found a single cluster. Lower min_cluster_size, try 'leaf' "
                       "selection, or press Suggest parameters.")
            level = "warning"
        vanished = self._check_selection()
        if vanished:
            message, level = vanished + " " + message, "warning"
        if getattr(self, "_label_problem", None):
            message, level = self._label_problem + " " + message, "warning"
        w.show_status(html.unescape(message), level)

    def _draw(self) -> None:
        w, r = self.widget, self._result
        if r is None or self.coords_ is None:
            return
        by_label = w.colour_by_label.value and self.labels_true is not None
        fig = draw_map(
            self.coords_, self.labels_true if by_label else r.labels,
            None if by_label else r.probabilities, categorical=by_label,
            title="coloured by true label" if by_label else
            f"{r.n_clusters} clusters (alpha = membership probability, grey = noise)",
            highlight=self.selection_ if len(self.selection_) else None, rect=self._rect,
            seed=self.random_state or 0)
        w.map_image.value = figure_to_png(fig)

    def _draw_tree(self) -> None:
        r = self._result
        if r is None:
            return
        if r.n_clusters == 0:
            fig = message_figure("No cluster selected: the condensed tree has nothing to circle.")
        else:
            fig = draw_condensed_tree(r.clusterer)
        self.widget.tree_image.value = figure_to_png(fig)

    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] == 1 and not self.widget.tree_image.value:
            self._guarded(self._draw_tree)

    def _on_control(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_quiet", False):
            self._guarded(self.recluster)

    def _on_space(self, change: dict[str, Any]) -> None:
        def run() -> None:
            if self.embedding_ is not None:
                with self._lock:
                    self._project()
                    self.recluster()
        self._guarded(run)

    _on_view = _on_space


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


def _defaults(n: int, source: Any, latent_dim: int) -> dict[str, Any]:
    params = getattr(source, "params_", None) or {}
    mcs = int(params.get("min_cluster_size") or max(5, round(0.01 * n)))
    mcs = min(mcs, max(2, n - 1))
    ms = params.get("min_samples", "auto")
    ms = min(10, mcs) if ms == "auto" else ms
    if source is not None:
        space = "umap" if hasattr(getattr(source, "projector_", None), "n_neighbors") else "latent"
    elif latent_dim <= 2:
        # UMAP of a 2-D latent to 2-D adds nothing but numba's first-use compile (about
        # a minute on a workshop machine), so a small latent is clustered as it is.
        space = "latent"
    else:
        space = "umap" if UMAP_MIN_ROWS <= n <= UMAP_MAX_ROWS else "latent"
    return {"min_cluster_size": mcs, "min_samples": ms, "space": space,
            "cluster_selection_method": params.get("cluster_selection_method", "eom")}


__all__ = ["ClusterViewer"]
