"""Every static figure vaewidget draws, in one place: matplotlib, no pyplot, PNG bytes out.

=================  ==================================================================
module             what it draws
=================  ==================================================================
``figures``        ``new_figure``, ``figure_to_png``, ``pairs_figure`` (originals above
                   reconstructions), ``prototype_figure``, ``history_figure``,
                   ``message_figure``; ``preview_urls`` (tooltip thumbnails)
``clusters``       the cluster colour rule (``palette``, ``categories``,
                   ``membership_alpha``), the static 2-D map ``draw_map`` (scatter or
                   density image) and HDBSCAN's condensed tree
``live``           figures redrawn in place while training: ``ELBOFigure``,
                   ``ReconFigure``
=================  ==================================================================

Widgets only put the bytes on screen: the panel's ``elbo_plot``/``recon_strip`` and
the viewer's galleries. The interactive latent map is a jupyter-scatter widget
(:mod:`vaewidget.widgets.latent_map`), not a figure; it takes its colours from
``clusters``.
"""

from __future__ import annotations

from vaewidget.plotting.figures import (
    as_images,
    figure_to_png,
    history_figure,
    message_figure,
    new_figure,
    pairs_figure,
    preview_urls,
    prototype_figure,
    rgba_to_png,
)

__all__ = ["as_images", "figure_to_png", "history_figure", "message_figure", "new_figure",
           "pairs_figure", "preview_urls", "prototype_figure", "rgba_to_png"]
