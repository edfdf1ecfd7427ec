"""Explore beyond the clusters: the most unusual rows, latent traversals, interpolations."""

from __future__ import annotations

import numpy as np

from vaewidget.clustering.explore import latent_traversal, outlier_ranking, top_outliers
from vaewidget.plotting import figure_to_png, pairs_figure

MAX_DIM_SLIDERS = 16


class ExploreMixin:
    """The Outliers and Traverse tabs of :class:`~vaewidget.ClusterViewer`."""

    def _wire_explore(self) -> None:
        w = self.widget
        g = self._guarded
        w.show_outliers.on_click(lambda _: g(self.show_outliers))
        w.traverse.on_click(lambda _: g(self.show_traversal))
        w.interpolate.on_click(lambda _: g(self._on_interpolate))
        w.anchor.observe(lambda _: g(self._sync_dims), names="value")

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
        from vaewidget.widgets.viewer_pick import _whole_number

        n = len(self.x)
        a, b, steps = (_whole_number(k, v) for k, v in (("a", a), ("b", b), ("steps", steps)))
        if not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"Expected rows in 0..{n - 1}. Received: {a} and {b}")
        frames = self.model.interpolate(self.x[a], self.x[b], steps)
        titles = [f"t={t:.2f}" for t in np.linspace(0, 1, steps)]
        self.widget.interp_image.value = figure_to_png(
            pairs_figure(frames, titles=titles, max_items=steps))
        return frames


__all__ = ["ExploreMixin"]
