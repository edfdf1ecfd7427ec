"""The panel's reconstructions strip: :class:`~vaewidget.plotting.live.ReconFigure` in an Image."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from vaewidget.plotting.live import ReconFigure


class ReconStrip(ReconFigure):
    """Originals on top, reconstructions below, shown in :attr:`image` and redrawn in place.

    Parameters
    ----------
    originals
        The rows to show, in original units: ``(n, features)`` or ``(n, H, W[, C])``.
    titles
        One short title per column.
    """

    def __init__(self, originals: Any, titles: list[str] | None = None) -> None:
        super().__init__(originals, titles)
        self.image = widgets.Image(format="png",
                                   layout=widgets.Layout(width="100%", max_width="760px"))
        self.image.add_class("vaew-recon")
        self.render()

    def update(self, reconstructions: Any | None) -> None:
        """Show ``reconstructions`` (same shape as the originals); ``None`` hides the row."""
        super().update(reconstructions)
        self.render()

    def render(self) -> None:
        """Push the figure to :attr:`image` as PNG bytes."""
        self.image.value = self.render_png()


__all__ = ["ReconStrip"]
