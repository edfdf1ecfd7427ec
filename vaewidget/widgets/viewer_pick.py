"""Pick and compare for the cluster viewer: the selection, its gallery and prototype, export.

One selection, whatever made it (a lasso or click on the map, the cluster list, the
row-number box, or ``viewer.select(rows)``), drives the gallery (originals above
reconstructions), the prototype and exemplars, the map's highlight and the export.
"""

from __future__ import annotations

import html
import numbers
import re
from typing import Any

import numpy as np

from vaewidget.clustering.explore import cluster_prototypes, cluster_summary, exemplar_indices
from vaewidget.plotting import figure_to_png, pairs_figure, prototype_figure
from vaewidget.plotting.figures import message_figure
from vaewidget.widgets._hooks import Hooks

GALLERY_ITEMS = 10


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
        self._hooks = Hooks("select", report=lambda text, level: self.widget.show_status(
            text, level))
        self._selection = np.array([], dtype=np.int64)
        self.gallery_rows_ = self._selection  # the rows the gallery shows
        self._selected_cluster: int | None = None

    def _wire_pick(self) -> None:
        w = self.widget
        g = self._guarded
        w.show_cluster.on_click(lambda _: g(self._on_show_cluster))
        w.cluster_list.observe(self._on_list, names="value")
        w.clear.on_click(lambda _: g(self.clear_selection))
        w.select_indices.on_click(lambda _: g(self._on_select_indices))
        w.save_csv.on_click(lambda _: g(self._on_save))
        self.map.on_select(lambda rows: g(self._on_map_select, rows))

    # --------------------------------------------------------------- selections
    @property
    def selection(self) -> np.ndarray:
        """Row numbers of the current selection (a copy; empty when nothing is selected)."""
        return self._selection.copy()

    @property
    def selection_(self) -> np.ndarray:
        """The same as :attr:`selection` (the name the first viewer used)."""
        return self.selection

    def on_select(self, callback: Any, remove: bool = False) -> None:
        """Call ``callback(rows)`` after every change of the selection, wherever it came from.

        ``rows`` is an int64 array of row numbers (empty when cleared). Errors in the
        callback are shown in the status area. ``remove=True`` unregisters it.
        """
        self._hooks.on("select", callback, remove)

    def select(self, rows: Any) -> np.ndarray:
        """Select these rows, as a lasso would: the map highlights them, the gallery shows them.

        An empty list clears the selection. Returns the rows selected.
        """
        rows = parse_rows(rows) if isinstance(rows, str) else _row_numbers(
            rows if rows is not None else [])
        if len(rows) == 0:
            self.clear_selection()
            return rows.astype(np.int64)
        return self.select_rows(rows)

    def select_cluster(self, cluster: int) -> np.ndarray:
        """Select every point of ``cluster``; show its gallery, prototype and exemplars."""
        r = self._result
        if r is None:
            raise ValueError("Expected a clustering first. Received none: see the status.")
        c = _whole_number("cluster", cluster)
        if not 0 <= c < r.n_clusters:
            self._selected_cluster = None
            raise ValueError(
                f"Expected a cluster in 0..{r.n_clusters - 1}. Received: cluster {c}, which "
                "does not exist (any more) after re-clustering." if r.n_clusters else
                f"Expected a cluster to select. Received: cluster {c}, but every point is noise.")
        rows = np.flatnonzero(r.labels == c)
        rows = rows[np.argsort(-r.probabilities[rows], kind="stable")]
        self._selected_cluster = c
        self._set_selection(rows, f"cluster {c}")
        return rows

    def select_rows(self, rows: Any) -> np.ndarray:
        """Select the given row numbers (a list, an array or text like ``"3, 17, 42-50"``)
        and show them next to their reconstructions."""
        rows = parse_rows(rows) if isinstance(rows, str) else _row_numbers(rows)
        n = len(self.x)
        if len(rows) == 0:
            raise ValueError("Expected at least one row to select. Received: nothing selected.")
        bad = rows[(rows < 0) | (rows >= n)]
        if len(bad):
            raise ValueError(f"Expected row numbers in 0..{n - 1}. Received: {bad[:5].tolist()}")
        rows = rows.astype(np.int64)
        self._selected_cluster = None
        self._set_selection(rows, f"{len(rows):,} chosen rows")
        return rows

    def clear_selection(self) -> None:
        """Forget the selection (the map's too)."""
        self._set_selection(np.array([], dtype=np.int64), "")

    def _on_map_select(self, rows: np.ndarray) -> None:
        """A lasso, click or double-click on the map (rows come from the browser)."""
        self._selected_cluster = None
        self._set_selection(np.asarray(rows, dtype=np.int64), "on the map", from_map=True)

    def _set_selection(self, rows: np.ndarray, what: str, *, from_map: bool = False) -> None:
        w = self.widget
        self._selection = rows
        with w.hold_sync():
            w.selection = rows
            w.n_selected = len(rows)
            if not from_map:
                self.map.select(rows)
            if self._selected_cluster is None and w.cluster_list.value is not None:
                self._listing = True  # a lasso or rows: no cluster is chosen any more
                try:
                    w.cluster_list.value = None
                finally:
                    self._listing = False
            self._show_selection(what)
        self._hooks.fire("select", rows.copy())

    def _show_selection(self, what: str | None = None) -> None:
        """Gallery, prototype and exemplars of the current selection (cleared when empty).

        ``what`` names the selection in the status line; ``None`` redraws silently
        (new weights or a new clustering under the same rows).
        """
        w, rows = self.widget, self._selection
        if len(rows) == 0:
            self.gallery_rows_ = rows
            w.selection_info.value = w.cluster_info.value = ""
            w.gallery.value = w.prototype.value = b""
            if what is not None:
                w.show_status("Selection cleared.")
            return
        shown = rows[:GALLERY_ITEMS]
        self.gallery_rows_ = shown
        originals = self.x[shown]
        recon = self.model.reconstruct(originals)
        labels = self._result.labels if self._result is not None else None
        titles = [f"#{i}" + (f" c{labels[i]}" if labels is not None else "") for i in shown]
        w.gallery.value = figure_to_png(pairs_figure(originals, recon, titles=titles,
                                                     max_items=GALLERY_ITEMS))
        listed = ", ".join(f"#{i}" for i in shown)
        w.selection_info.value = (
            f"<b>Selection</b>{f' ({html.escape(what)})' if what else ''}: {len(rows):,} "
            f"points. Rows <span class='vaew-gallery-rows'>{listed}</span> above their "
            "reconstructions.")
        if self._selected_cluster is not None:
            self._show_cluster_info(self._selected_cluster)
        else:
            self._show_selection_info(rows)
        if what:
            w.show_status(f"Selected {len(rows):,} point{'s' if len(rows) != 1 else ''} "
                          f"({what}).")

    def _show_selection_info(self, rows: np.ndarray) -> None:
        """The decoded mean code of the selection, and its members nearest to it."""
        w, z = self.widget, self.embedding_
        if z is None:
            w.cluster_info.value, w.prototype.value = "", b""
            return
        mean = z[rows].mean(axis=0)
        near = rows[np.argsort(((z[rows] - mean) ** 2).sum(axis=1), kind="stable")[:7]]
        proto = self.model.decode(mean[None].astype(np.float32))[0]
        decoded = self.model.decode(z[near])
        w.cluster_info.value = (
            f"<b>Selection</b>: {len(rows):,} points. Below: the decoded prototype (decode of "
            "the selection's mean latent point), then the selected rows nearest to it, "
            "decoded (top) and as they are (bottom).")
        w.prototype.value = figure_to_png(prototype_figure(proto, self.x[near], decoded, near))

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
        w.prototype.value = figure_to_png(prototype_figure(proto, self.x[ex], decoded, ex))

    def _check_selection(self) -> str:
        """After re-clustering: follow the selected cluster, or say that it vanished.

        A selection of rows (lasso, click, row numbers) keeps its rows; its gallery is
        redrawn, since the reconstructions may have changed.
        """
        c = self._selected_cluster
        if c is None or self._result is None:
            if len(self._selection):
                self._show_selection(None)
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

    # ------------------------------------------------------------------- export
    def to_dataframe(self, selected_only: bool = False) -> Any:
        """One row per point: index, cluster, probability, outlier_score, x, y.

        ``selected_only=True``: only the rows of the current selection, in its order.
        """
        import pandas as pd

        xy = self.coords_ if self.coords_ is not None else np.full((len(self.x), 2), np.nan)
        table = pd.DataFrame({
            "index": np.arange(len(self.x)), "cluster": self.labels_,
            "probability": self.probabilities_, "outlier_score": self.outlier_scores_,
            "x": xy[:, 0], "y": xy[:, 1],
        })
        return table.iloc[self._selection].reset_index(drop=True) if selected_only else table

    def save_csv(self, path: str = "clusters.csv", selected_only: bool = False) -> str:
        """Write :meth:`to_dataframe` to ``path`` (CSV, any path); return the absolute path.

        The Export tab's button resolves the typed name inside ``files_root`` first.
        """
        import os

        if path is None or not str(path).strip():
            raise ValueError("Expected a CSV file name. Received: an empty name.")
        path = os.path.abspath(os.path.expanduser(str(path).strip()))
        table = self.to_dataframe(selected_only)
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
        only = bool(w.export_selection.value)
        if only and not len(self._selection):
            raise ValueError("Expected a selection to export (only the selected rows). "
                             "Received: nothing selected.")
        target = resolve_typed(w.filename.value, self.files_root, example="clusters.csv")
        name = shown(target, self.files_root)
        try:
            self.save_csv(str(target), only)
        except ValueError:
            raise ValueError(f"Expected a CSV file name that can be written in the files "
                             f"folder. Received: {name!r}.") from None
        rows = len(self._selection) if only else len(self.x)
        link = ""
        if rows <= 200_000:
            data = base64.b64encode(self.to_dataframe(only).to_csv(index=False).encode()).decode()
            link = (f" &middot; <a download='{html.escape(target.name)}' "
                    f"href='data:text/csv;base64,{data}'>download</a>")
        w.export_info.value = f"Saved {rows:,} rows to {html.escape(name)}{link}"
        w.show_status(f"Saved {rows:,} rows to {name}")


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


__all__ = ["PickMixin", "guarded", "message_figure", "parse_rows"]


def _whole_number(name: str, value: Any) -> int:
    """``value`` as an int, or ValueError: whole numbers only (``3`` or ``3.0``, not ``"3"``)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if isinstance(value, numbers.Integral) or float(value).is_integer():
            return int(value)
    raise ValueError(f"Expected {name} to be a whole number. Received: {name}={value!r}")


def _row_numbers(rows: Any) -> np.ndarray:
    """Row numbers as a 1-D array of whole numbers (range checks are the caller's)."""
    try:
        arr = np.asarray(rows).ravel()
    except (TypeError, ValueError):
        arr = np.asarray([None])
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
        return arr
    if arr.dtype.kind not in "iu" and len(arr):
        raise ValueError("Expected row numbers (whole numbers, or text such as '3, 17, 42-50'). "
                         f"Received: {rows!r}")
    return arr
