"""The reconstructions strip: 8 originals above their reconstructions, redrawn in place."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from vaewidget.plotting import _as_images, new_figure, pairs_figure
from vaewidget.widgets.elbo_plot import _rgba_to_png


class ReconStrip:
    """Originals on top, reconstructions below; images as images, table rows as bars.

    The figure and its artists are made once; :meth:`update` only swaps the
    reconstruction pixels (``set_data``) or bar heights, so a per-epoch refresh is cheap.

    Parameters
    ----------
    originals
        The rows to show, in original units: ``(n, features)`` or ``(n, H, W[, C])``.
    titles
        One short title per column.
    """

    def __init__(self, originals: Any, titles: list[str] | None = None) -> None:
        self.originals = np.asarray(originals, dtype=np.float32)
        n = max(len(self.originals), 1)
        self.is_image = _as_images(self.originals) is not None
        self.fig = new_figure(max(0.95 * n, 3.0), 2.2, dpi=80, layout=None)
        pairs_figure(self.originals, self.originals, titles=titles, fig=self.fig)
        self.fig.subplots_adjust(left=0.06, right=0.995, top=0.86, bottom=0.03,
                                 wspace=0.08, hspace=0.12)
        self.recon_axes = self.fig.axes[n : 2 * n]
        self._note = self.fig.text(0.53, 0.25, "reconstructions appear after the first epoch",
                                   ha="center", va="center", fontsize=9, color="#666")
        self._recon_artists = [a for ax in self.recon_axes for a in (*ax.images, *ax.patches)]
        for artist in self._recon_artists:
            artist.set_visible(False)
            artist.set_animated(True)  # drawn over a cached background (blitting)
        self._canvas = FigureCanvasAgg(self.fig)
        self._background: Any = None
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="760px"))
        self.image.add_class("vaew-recon")
        self.render()

    def update(self, reconstructions: Any | None) -> None:
        """Show ``reconstructions`` (same shape as the originals); ``None`` hides the row."""
        self._note.set_visible(reconstructions is None)
        if reconstructions is not None:
            recon = np.asarray(reconstructions, dtype=np.float32)
            as_img = _as_images(recon) if self.is_image else None
            for c, ax in enumerate(self.recon_axes[: len(recon)]):
                if as_img is not None and ax.images:
                    ax.images[0].set_data(as_img[c])
                    ax.images[0].set_visible(True)
                else:
                    for rect, h in zip(ax.patches, recon[c].ravel()):
                        rect.set_height(float(h))
                        rect.set_visible(True)
        else:
            for ax in self.recon_axes:
                for artist in (*ax.images, *ax.patches):
                    artist.set_visible(False)
        self.render()

    def render(self) -> None:
        """Push the figure to :attr:`image` as PNG bytes (originals drawn once, then cached)."""
        canvas = self._canvas
        if self._background is None or self._note.get_visible():
            canvas.draw()
            self._background = None if self._note.get_visible() else canvas.copy_from_bbox(
                self.fig.bbox)
        if self._background is not None:
            canvas.restore_region(self._background)
            for artist in self._recon_artists:
                artist.axes.draw_artist(artist)
            for ax in self.recon_axes:  # frames back on top of the pixels
                for spine in ax.spines.values():
                    ax.draw_artist(spine)
        self.image.value = _rgba_to_png(canvas)
