"""What the cluster viewer shows of a clustering: summary, interactive map, static PNG, tree.

The map is drawn once and afterwards only updated (:class:`~vaewidget.widgets.latent_map.
LatentMap`): a new clustering moves and recolours the same points, so the page never
flickers and the widget object stays the same while a Trainer runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaewidget.plotting import figure_to_png
from vaewidget.plotting.clusters import draw_condensed_tree, draw_map
from vaewidget.plotting.figures import message_figure


class ShowMixin:
    """Showing a :class:`~vaewidget.clustering.ClusterResult`; mixed into ``ClusterViewer``."""

    def _after_cluster(self) -> None:
        import html

        w, r = self.widget, self.result
        if r is None:
            w.n_clusters = 0
            w.summary.value = ""
            self.map.show_message("No clustering to show: see the status line.")
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
        self._show_map()
        if w.tabs.selected_index == 1:
            self._draw_tree()
        else:
            w.tree_image.value = b""
        message, level = f"Clustered {len(r.labels):,} points into {k} clusters.", "info"
        if r.notes:
            message = " ".join(r.notes) + " Press Suggest parameters to compare settings."
            level = "warning"
        vanished = self._check_selection()
        if vanished:
            message, level = vanished + " " + message, "warning"
        if getattr(self, "_label_problem", None):
            message, level = self._label_problem + " " + message, "warning"
        w.show_status(html.unescape(message), level)

    def _map_columns(self) -> dict[str, np.ndarray]:
        """What the map can colour by besides the clusters (computed errors only on request)."""
        columns = {"outlier": self.result.outlier_scores}
        if self.labels_true is not None:
            columns["label"] = self.labels_true
        if self.widget.colour.value == "error" and self._recon_error is None:
            self._recon_error = np.asarray(self.model.reconstruction_error(self.x))
        if self._recon_error is not None:
            columns["error"] = self._recon_error
        return columns

    def _show_map(self, animate: bool = True) -> None:
        r = self.result
        if r is None or self.coords_ is None:
            return
        self.map.show(self.coords_, r.labels, r.probabilities, columns=self._map_columns(),
                      colour=self.widget.colour.value, animate=animate)

    def _on_colour(self) -> None:
        with self._lock:
            colour = self.widget.colour.value
            if self.result is None:
                return
            if colour not in self.map.colours:
                self._show_map(animate=False)  # a column the map has not got yet
            else:
                self.map.recolour(colour)

    def to_png(self, colour: str = "cluster") -> bytes:
        """The map as a static PNG: for reports and notebooks rendered without widgets.

        Up to 30,000 points a scatter, above that a density image (each pixel the
        mean colour of its points, opacity from their count); the selection is
        outlined. ``colour``: ``"cluster"`` (noise grey, opacity = membership
        probability) or ``"label"`` (the true labels given).
        """
        if colour not in ("cluster", "label"):
            raise ValueError(f"Expected colour 'cluster' or 'label'. Received: {colour!r}")
        r = self.result
        if r is None or self.coords_ is None:
            return figure_to_png(message_figure("no clustering"))
        by_label = colour == "label"
        if by_label and self.labels_true is None:
            raise ValueError("Expected labels to colour by. Received: the viewer has none.")
        fig = draw_map(
            self.coords_, self.labels_true if by_label else r.labels,
            None if by_label else r.probabilities, categorical=by_label,
            title="coloured by true label" if by_label else
            f"{r.n_clusters} clusters (alpha = membership probability, grey = noise)",
            highlight=self._selection if len(self._selection) else None,
            seed=self.random_state or 0)
        return figure_to_png(fig)

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


__all__ = ["ShowMixin"]
