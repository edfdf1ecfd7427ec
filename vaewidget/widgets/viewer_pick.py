"""Pick and compare for the cluster viewer: selections, galleries, outliers, traversal, export."""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np

from vaewidget.clustering.explore import (
    cluster_prototypes,
    cluster_summary,
    exemplar_indices,
    latent_traversal,
    outlier_ranking,
    top_outliers,
)
from vaewidget.plotting import figure_to_png, new_figure, pairs_figure
from vaewidget.widgets._cluster_plots import message_figure

GALLERY_ITEMS = 10
MAX_DIM_SLIDERS = 16


def guarded(widget: Any, fn: Any, *args: Any) -> Any:
    """Run ``fn``; show any error in the viewer's status area instead of raising it."""
    try:
        return fn(*args)
    except Exception as err:  # the cell must never see a traceback from a control
        text = str(err) or type(err).__name__
        if not isinstance(err, ValueError):
            text = f"{type(err).__name__}: {text}"
        widget.show_status(text, "error")
        return None


class PickMixin:
    """Selections and everything drawn from them; mixed into :class:`ClusterViewer`."""

    def _init_pick(self) -> None:
        self.selection_ = np.array([], dtype=np.int64)
        self.gallery_rows_ = self.selection_  # the rows the gallery shows
        self._selected_cluster: int | None = None
        self._rect: tuple[float, float, float, float] | None = None

    def _wire_pick(self) -> None:
        w = self.widget
        g = self._guarded
        w.show_cluster.on_click(lambda _: g(self._on_show_cluster))
        w.cluster_list.observe(self._on_list, names="value")
        w.select_rect.on_click(lambda _: g(self._on_select_rect))
        w.select_indices.on_click(lambda _: g(self._on_select_indices))
        w.show_outliers.on_click(lambda _: g(self.show_outliers))
        w.traverse.on_click(lambda _: g(self.show_traversal))
        w.interpolate.on_click(lambda _: g(self._on_interpolate))
        w.save_csv.on_click(lambda _: g(self._on_save))
        w.anchor.observe(lambda _: g(self._sync_dims), names="value")

    # --------------------------------------------------------------- selections
    def select_cluster(self, cluster: int) -> np.ndarray:
        """Select every point of ``cluster``; show its gallery, prototype and exemplars."""
        r = self._result
        if r is None:
            raise ValueError("Expected a clustering first. Received none: see the status.")
        c = int(cluster)
        if not 0 <= c < r.n_clusters:
            self._selected_cluster = None
            raise ValueError(
                f"Expected a cluster in 0..{r.n_clusters - 1}. Received: cluster {c}, which "
                "does not exist (any more) after re-clustering." if r.n_clusters else
                f"Expected a cluster to select. Received: cluster {c}, but every point is noise.")
        rows = np.flatnonzero(r.labels == c)
        rows = rows[np.argsort(-r.probabilities[rows], kind="stable")]
        self._selected_cluster, self._rect = c, None
        self._set_selection(rows, f"cluster {c}")
        self._show_cluster_info(c)
        return rows

    def select_rows(self, rows: Any) -> np.ndarray:
        """Select the given row numbers and show them next to their reconstructions."""
        rows = _row_numbers(rows)
        n = len(self.x)
        if len(rows) == 0:
            raise ValueError("Expected at least one row to select. Received: nothing selected.")
        bad = rows[(rows < 0) | (rows >= n)]
        if len(bad):
            raise ValueError(f"Expected row numbers in 0..{n - 1}. Received: {bad[:5].tolist()}")
        self._selected_cluster, self._rect = None, None
        self._set_selection(rows, f"{len(rows)} chosen rows")
        return rows

    def select_rectangle(self, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
        """Select the points whose 2-D map coordinates lie in the rectangle."""
        if self.coords_ is None:
            raise ValueError("Expected a map first. Received none: see the status.")
        x0, x1 = sorted((float(x0), float(x1)))
        y0, y1 = sorted((float(y0), float(y1)))
        xy = self.coords_
        rows = np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1)
                              & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))
        if len(rows) == 0:
            raise ValueError(f"Expected points in the rectangle x {x0:.3g}..{x1:.3g}, y "
                             f"{y0:.3g}..{y1:.3g}. Received: nothing selected (no point there).")
        self._selected_cluster = None
        self._set_selection(rows, "rectangle")
        self._rect = (x0, x1, y0, y1)
        self._draw()
        return rows

    def clear_selection(self) -> None:
        """Forget the selection."""
        self.selection_ = self.gallery_rows_ = np.array([], dtype=np.int64)
        self._selected_cluster, self._rect = None, None
        w = self.widget
        w.selection_info.value = w.cluster_info.value = ""
        w.gallery.value = w.prototype.value = b""

    def _set_selection(self, rows: np.ndarray, what: str) -> None:
        w = self.widget
        self.selection_ = rows
        shown = rows[:GALLERY_ITEMS]
        self.gallery_rows_ = shown
        originals = self.x[shown]
        recon = self.model.reconstruct(originals)
        labels = self._result.labels if self._result is not None else None
        titles = [f"#{i}" + (f" c{labels[i]}" if labels is not None else "") for i in shown]
        w.gallery.value = figure_to_png(pairs_figure(originals, recon, titles=titles,
                                                     max_items=GALLERY_ITEMS))
        w.selection_info.value = (f"<b>Selection</b> ({html.escape(what)}): {len(rows):,} "
                                  f"points; the first {len(shown)} above their reconstructions.")
        if self._selected_cluster is None:
            w.cluster_info.value, w.prototype.value = "", b""
        self._draw()
        w.show_status(f"Selected {len(rows):,} points ({what}).")

    def _show_cluster_info(self, c: int) -> None:
        w, r = self.widget, self._result
        persistence = getattr(r.clusterer, "cluster_persistence_", None)
        info = next(s for s in cluster_summary(r.labels, r.probabilities, self.embedding_,
                                               persistence) if s["cluster"] == c)
        proto = cluster_prototypes(self.model, self.embedding_, r.labels)[c]
        ex = exemplar_indices(r.clusterer, self._space, c, k=7, fit_index=r.fit_index)
        decoded = self.model.decode(self.embedding_[ex])
        w.cluster_info.value = (
            f"<b>Cluster {c}</b>: {info['size']:,} points, mean membership probability "
            f"{info['mean_probability']:.2f}, persistence {info['persistence']:.3f}. Below: "
            "the decoded prototype (decode of the mean latent point), then HDBSCAN's "
            "exemplars decoded (top) and the nearest original rows (bottom).")
        w.prototype.value = figure_to_png(_prototype_figure(proto, self.x[ex], decoded, ex))

    def _check_selection(self) -> str:
        """After re-clustering: say so when the selected cluster vanished."""
        c = self._selected_cluster
        if c is None or self._result is None:
            return ""
        if c >= self._result.n_clusters:
            self.clear_selection()
            return f"Cluster {c} vanished after re-clustering; the selection was cleared."
        self.select_cluster(c)
        self._listing = True
        try:
            self.widget.cluster_list.value = c
        finally:
            self._listing = False
        return ""

    def _on_show_cluster(self) -> None:
        value = self.widget.cluster_list.value
        if value is None:
            raise ValueError("Expected a cluster chosen in the list. Received: nothing selected.")
        self.select_cluster(value)

    def _on_list(self, change: dict[str, Any]) -> None:
        if getattr(self, "_listing", False):
            return
        if change["new"] is not None and change["new"] != self._selected_cluster:
            self._guarded(self.select_cluster, change["new"])

    def _on_select_rect(self) -> None:
        w = self.widget
        self.select_rectangle(*w.x_range.value, *w.y_range.value)

    def _on_select_indices(self) -> None:
        self.select_rows(parse_rows(self.widget.indices.value))

    def _update_lists(self) -> None:
        w, r = self.widget, self._result
        options: list[tuple[str, int]] = []
        if r is not None and r.n_clusters:
            sizes = np.bincount(r.labels[r.labels >= 0], minlength=r.n_clusters)
            options = [(f"cluster {c} ({sizes[c]:,} pts)", c) for c in range(r.n_clusters)]
        self._listing = True  # new options move the list's value: not a user's choice
        try:
            with w.hold_sync():
                w.cluster_list.options = options
                w.cluster_list.value = None
                w.anchor.options = [(label.split(" (")[0], ("cluster", c))
                                    for label, c in options] + [("a row", ("row", -1))]
        finally:
            self._listing = False
        self._sync_dims()

    def _fit_ranges(self) -> None:
        xy = self.coords_
        for slider, col in ((self.widget.x_range, 0), (self.widget.y_range, 1)):
            lo, hi = float(np.min(xy[:, col])), float(np.max(xy[:, col]))
            hi = hi if hi > lo else lo + 1.0
            with slider.hold_trait_notifications():
                slider.min = min(lo, slider.min)
                slider.max = hi
                slider.min = lo
                slider.step = (hi - lo) / 200
                slider.value = (lo, hi)

    # ----------------------------------------------------------------- outliers
    def outlier_table(self, weight: float = 0.5) -> np.ndarray:
        """The combined outlier score of every row (see ``explore.outlier_ranking``)."""
        if self._result is None:
            raise ValueError("Expected a clustering first. Received none: see the status.")
        if self._recon_error is None:
            self._recon_error = np.asarray(self.model.reconstruction_error(self.x))
        return outlier_ranking(self._result.outlier_scores, self._recon_error, weight)

    def show_outliers(self) -> np.ndarray:
        """Show the top-N outliers by the combined score as a gallery; return their rows."""
        w = self.widget
        combined = self.outlier_table(float(w.outlier_weight.value))
        rows = top_outliers(combined, int(w.outlier_count.value))
        originals = self.x[rows]
        titles = [f"#{i} {combined[i]:.2f}" for i in rows]
        w.outlier_gallery.value = figure_to_png(pairs_figure(
            originals, self.model.reconstruct(originals), titles=titles, max_items=len(rows)))
        w.outlier_info.value = (
            f"Top {len(rows)} of {len(combined):,}: GLOSH "
            f"{', '.join(f'{self._result.outlier_scores[i]:.2f}' for i in rows[:6])}...; "
            f"reconstruction error "
            f"{', '.join(f'{self._recon_error[i]:.3g}' for i in rows[:6])}...")
        w.show_status(f"Showing the {len(rows)} most unusual points.")
        return rows

    # ------------------------------------------------------- traversal and lerp
    def _anchor_code(self) -> np.ndarray:
        w = self.widget
        kind, c = w.anchor.value if w.anchor.value else ("row", -1)
        if kind == "cluster" and self._result is not None and (self._result.labels == c).any():
            return self.embedding_[self._result.labels == c].mean(axis=0)
        return self.embedding_[int(w.anchor_row.value)]

    def _sync_dims(self) -> None:
        import ipywidgets as widgets

        if self.embedding_ is None:
            return
        w = self.widget
        d = self.embedding_.shape[1]
        if len(w.dims.children) != min(d, MAX_DIM_SLIDERS):
            sliders = [widgets.FloatSlider(0.0, min=-3, max=3, step=0.25, description=f"z{i}",
                                           continuous_update=False,
                                           layout=widgets.Layout(width="260px"))
                       for i in range(min(d, MAX_DIM_SLIDERS))]
            for s in sliders:
                s.observe(lambda _: self._guarded(self.show_traversal), names="value")
            w.dims.children = sliders
            w.traverse_dim.options = list(range(d))

    def show_traversal(self) -> np.ndarray:
        """Decode a sweep of the chosen latent dimension around the start point (+ slider offsets)."""
        if self.embedding_ is None:
            raise ValueError("Expected latent codes. Received none: see the status.")
        w = self.widget
        std = self.embedding_.std(axis=0)
        z0 = self._anchor_code().astype(np.float32).copy()
        for i, s in enumerate(w.dims.children):
            z0[i] += float(s.value) * std[i]
        dim = int(w.traverse_dim.value)
        offsets = np.linspace(-3, 3, 9)
        frames = latent_traversal(self.model, z0, dim, z0[dim] + offsets * std[dim])
        titles = [f"{o:+.1f}σ" for o in offsets]
        w.traverse_image.value = figure_to_png(pairs_figure(frames, titles=titles, max_items=9))
        return frames

    def _on_interpolate(self) -> None:
        w = self.widget
        self.interpolate_rows(int(w.interp_a.value), int(w.interp_b.value),
                              int(w.interp_steps.value))

    def interpolate_rows(self, a: int, b: int, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` points between the codes of rows ``a`` and ``b``; show them."""
        n = len(self.x)
        if not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"Expected rows in 0..{n - 1}. Received: {a} and {b}")
        frames = self.model.interpolate(self.x[a], self.x[b], steps)
        titles = [f"t={t:.2f}" for t in np.linspace(0, 1, steps)]
        self.widget.interp_image.value = figure_to_png(
            pairs_figure(frames, titles=titles, max_items=steps))
        return frames

    # ------------------------------------------------------------------- export
    def to_dataframe(self) -> Any:
        """One row per point: index, cluster, probability, outlier_score, x, y."""
        import pandas as pd

        xy = self.coords_ if self.coords_ is not None else np.full((len(self.x), 2), np.nan)
        return pd.DataFrame({
            "index": np.arange(len(self.x)), "cluster": self.labels_,
            "probability": self.probabilities_, "outlier_score": self.outlier_scores_,
            "x": xy[:, 0], "y": xy[:, 1],
        })

    def save_csv(self, path: str = "clusters.csv") -> str:
        """Write :meth:`to_dataframe` to ``path`` (CSV, any path); return the absolute path.

        The Export tab's button resolves the typed name inside ``files_root`` first.
        """
        import os

        if path is None or not str(path).strip():
            raise ValueError("Expected a CSV file name. Received: an empty name.")
        path = os.path.abspath(os.path.expanduser(str(path).strip()))
        table = self.to_dataframe()
        try:
            table.to_csv(path, index=False)
        except OSError as err:
            raise ValueError(
                f"Expected a CSV file path that can be written. Received: {path!r} "
                f"({err.strerror or type(err).__name__})."
            ) from None
        return path

    def _on_save(self) -> None:
        import base64

        from vaewidget.widgets._paths import resolve_typed, shown

        w = self.widget
        target = resolve_typed(w.filename.value, self.files_root, example="clusters.csv")
        name = shown(target, self.files_root)
        try:
            self.save_csv(str(target))
        except ValueError:
            raise ValueError(f"Expected a CSV file name that can be written in the files "
                             f"folder. Received: {name!r}.") from None
        link = ""
        if len(self.x) <= 200_000:
            data = base64.b64encode(self.to_dataframe().to_csv(index=False).encode()).decode()
            link = (f" &middot; <a download='{html.escape(target.name)}' "
                    f"href='data:text/csv;base64,{data}'>download</a>")
        w.export_info.value = f"Saved {len(self.x):,} rows to {html.escape(name)}{link}"
        w.show_status(f"Saved {len(self.x):,} rows to {name}")


def _row_numbers(rows: Any) -> np.ndarray:
    """Row numbers as int64: integers, or whole floats; a clear ValueError for the rest."""
    expected = "Expected row numbers: integers such as [3, 17, 42]"
    if isinstance(rows, (str, bytes)):
        raise ValueError(f"{expected} (parse_rows reads text like '3, 17, 42-50'). "
                         f"Received: {rows!r}")
    try:
        arr = np.asarray(rows)
    except ValueError as err:
        raise ValueError(f"{expected}. Received: {rows!r} ({err})") from None
    arr = arr.ravel()
    if arr.size and arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
        arr = arr.astype(np.int64)
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{expected}. Received: dtype={arr.dtype}, e.g. {arr[0]!r}")
    return arr.astype(np.int64)


def parse_rows(text: str) -> np.ndarray:
    """Row numbers from text such as ``"3, 17, 42-50"``."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Expected row numbers such as '3, 17, 42-50'. Received: nothing.")
    rows: list[int] = []
    for part in re.split(r"[,\s]+", text):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"Expected row numbers such as '3, 17, 42-50'. Received: {part!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        rows.extend(range(min(lo, hi), max(lo, hi) + 1))
    return np.array(list(dict.fromkeys(rows)), dtype=np.int64)


def _prototype_figure(proto: np.ndarray, originals: np.ndarray, decoded: np.ndarray,
                      rows: np.ndarray) -> Any:
    """The prototype, then exemplars decoded (top) over their original rows (bottom)."""
    n = len(rows) + 1
    fig = new_figure(max(1.1 * n, 3.0), 2.7)
    axes = fig.subplots(2, n, squeeze=False)
    image = proto.ndim >= 2
    lo = float(min(originals.min(), proto.min())) if len(originals) else float(proto.min())
    hi = float(max(originals.max(), proto.max())) if len(originals) else float(proto.max())
    items = [(0, 0, proto, "prototype")]
    items += [(0, i + 1, decoded[i], f"#{rows[i]}") for i in range(len(rows))]
    items += [(1, i + 1, originals[i], None) for i in range(len(rows))]
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1, 0].set_axis_off()
    for r, c, item, title in items:
        ax = axes[r, c]
        if image:
            arr = item[..., 0] if item.ndim == 3 and item.shape[-1] == 1 else item
            ax.imshow(arr, cmap="gray_r" if arr.ndim == 2 else None, vmin=lo, vmax=hi)
        else:
            ax.bar(np.arange(item.size), item.ravel(), width=1.0,
                   color="tab:purple" if c == 0 else ("tab:orange" if r == 0 else "tab:blue"))
        if title:
            ax.set_title(title, fontsize=8)
    if len(rows):
        axes[0, 1].set_ylabel("decoded", fontsize=8)
        axes[1, 1].set_ylabel("original", fontsize=8)
    return fig


__all__ = ["PickMixin", "guarded", "message_figure", "parse_rows"]
