"""The panel's live ELBO plot: :class:`~vaewidget.plotting.live.ELBOFigure` in an Image widget."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from vaewidget.plotting.live import SERIES, ELBOFigure


class ELBOPlot(ELBOFigure):
    """Live curves of the negative ELBO and its parts, shown in :attr:`image`.

    The drawing is :class:`~vaewidget.plotting.live.ELBOFigure`'s (same parameters);
    this class only adds the ``ipywidgets.Image`` and :meth:`render`, which pushes a
    fresh PNG into it (a trait set: safe from any thread).
    """

    def __init__(self, **figure_options: Any) -> None:
        super().__init__(**figure_options)
        self.image = widgets.Image(format="png",
                                   layout=widgets.Layout(width="100%", max_width="760px"))
        self.image.add_class("vaew-elbo")
        self.image.value = self.render_png()

    def render(self) -> None:
        """Redraw and push the PNG to :attr:`image`."""
        self.image.value = self.render_png()


__all__ = ["ELBOPlot", "SERIES"]
