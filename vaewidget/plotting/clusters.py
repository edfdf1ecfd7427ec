"""Cluster colours, and the static drawings of a clustering: the 2-D map and the condensed tree.

One colour rule for every view of a clustering: :func:`palette`, noise in
``NOISE_RGB``, opacity from :func:`membership_alpha`. The interactive map
(:class:`vaewidget.widgets.latent_map.LatentMap`) takes its categories and colours from
:func:`categories`; the static map (:func:`draw_map`, for ``viewer.to_png()``, reports
and notebooks rendered to HTML) draws with the same colours.

Figures are :class:`matplotlib.figure.Figure` objects (no pyplot). Up to
``SCATTER_MAX`` points the static map is a rasterized scatter with one alpha per
point; above that it is a density image: each pixel takes the mean colour of its points
and an opacity from the log of their count. That costs a few ``numpy.bincount`` calls,
so it draws a million points in well under a second and the PNG stays small.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from vaewidget.plotting import new_figure

#: Above this many points the map is drawn as a density image.
SCATTER_MAX = 30_000
NOISE_RGB = (0.62, 0.62, 0.62)
LEGEND_MAX = 14


def palette(n: int) -> np.ndarray:
    """``n`` distinct RGB colours: tab10, then tab20's light shades, then an HSV ring.

    Their greys are left out: grey is noise (``NOISE_RGB``).
    """
    from matplotlib import colormaps

    def coloured(colours: tuple) -> list:
        return [c for c in colours if max(c) - min(c) > 0.05]

    base = coloured(colormaps["tab10"].colors) + coloured(colormaps["tab20"].colors[1::2])
    if n > len(base):
        hues = np.linspace(0, 1, n - len(base), endpoint=False)
        from matplotlib.colors import hsv_to_rgb

        base += [tuple(hsv_to_rgb((h, 0.75, 0.8))) for h in hues]
    return np.asarray(base[:n], dtype=np.float64).reshape(-1, 3)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Category codes of ``values`` (noise ``-1`` stays ``-1`` for integer cluster labels)."""
    uniques, codes = np.unique(values, return_inverse=True)
    return uniques, codes


def membership_alpha(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Opacity of each point: 0.15 + 0.85 x membership probability; noise 0.35."""
    alpha = 0.15 + 0.85 * np.clip(np.asarray(probabilities, np.float64), 0, 1)
    return np.where(np.asarray(labels) < 0, 0.35, alpha)


def categories(values: np.ndarray, *, clusters: bool = True
               ) -> tuple[np.ndarray, list[str], list[str]]:
    """Codes, legend names (with sizes) and hex colours of the categories in ``values``.

    Parameters
    ----------
    values
        Cluster labels (``-1`` noise) or, with ``clusters=False``, any true labels.
    clusters
        Name clusters ``"cluster k (size)"`` and put noise first, in grey; else name
        each distinct value ``"value (size)"`` in sorted order.

    Returns
    -------
    codes : ndarray of int32
        Index of each row's category in ``names``.
    names : list of str
        One per category present, each with its size, e.g. ``"cluster 3 (1,204)"``.
    colours : list of str
        ``#rrggbb`` per category, the same colours :func:`draw_map` uses.
    """
    from matplotlib.colors import to_hex

    values = np.asarray(values)
    uniques, codes = np.unique(values, return_inverse=True)
    sizes = np.bincount(codes, minlength=len(uniques))
    if clusters:
        table = palette(max(int(uniques.max()) + 1, 1) if len(uniques) else 1)
        rgb = [NOISE_RGB if int(u) < 0 else tuple(table[int(u)]) for u in uniques]
        names = [("noise" if int(u) < 0 else f"cluster {int(u)}") + f" ({s:,})"
                 for u, s in zip(uniques, sizes)]
    else:
        rgb = [tuple(c) for c in palette(max(len(uniques), 1))[:len(uniques)]]
        names = [f"{u} ({s:,})" for u, s in zip(uniques, sizes)]
    return codes.astype(np.int32), names, [to_hex(c) for c in rgb]


def draw_map(
    xy: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray | None = None,
    *,
    title: str = "",
    categorical: bool = False,
    highlight: np.ndarray | None = None,
    scatter_max: int = SCATTER_MAX,
    seed: int = 0,
) -> Any:
    """The 2-D map: colour by cluster (noise grey) or by true label, alpha by probability.

    Parameters
    ----------
    xy
        ``(n, 2)`` coordinates.
    labels
        Cluster labels (``-1`` noise) or, with ``categorical=True``, any true labels.
    probabilities
        Membership strengths in [0, 1] (alpha); ``None`` for opaque points.
    highlight
        Row numbers to outline (the current selection).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D

    fig = new_figure(7.2, 4.6, dpi=90)
    ax = fig.add_subplot(1, 1, 1)
    n = len(xy)
    labels = np.asarray(labels)
    if categorical:
        uniques, codes = _codes(labels)
        colours = palette(len(uniques))
        rgb = colours[codes]
        names = [str(u) for u in uniques]
        sizes = np.bincount(codes, minlength=len(uniques))
        noise_size = 0
    else:
        k = int(labels.max()) + 1 if n else 0
        colours = palette(max(k, 1))
        table = np.vstack([NOISE_RGB, colours])
        rgb = table[labels + 1]
        names = [f"cluster {c}" for c in range(k)]
        sizes = np.bincount(labels[labels >= 0], minlength=k) if k else np.zeros(0, int)
        noise_size = int((labels < 0).sum())
    if probabilities is None or categorical:
        alpha = np.full(n, 0.8)
    else:
        alpha = membership_alpha(labels, probabilities)
    if n == 0:
        ax.text(0.5, 0.5, "no points", ha="center", va="center", transform=ax.transAxes)
    elif n <= scatter_max:
        size = float(np.clip(3000.0 / max(n, 1), 1.0, 24.0))
        order = np.argsort(labels >= 0, kind="stable")  # noise underneath
        ax.scatter(xy[order, 0], xy[order, 1], c=np.column_stack([rgb, alpha])[order], s=size,
                   linewidths=0, rasterized=True)
    else:
        _density(ax, xy, rgb, alpha)
    if highlight is not None and len(highlight):
        shown = highlight if len(highlight) <= 4000 else np.random.default_rng(seed).choice(
            highlight, 4000, replace=False)
        ax.scatter(xy[shown, 0], xy[shown, 1], s=16, facecolors="none", edgecolors="black",
                   linewidths=0.6, rasterized=True)
    handles = []
    order = np.argsort(-sizes, kind="stable")
    for i in order[:LEGEND_MAX]:
        handles.append(Line2D([], [], ls="", marker="o", color=colours[i],
                              label=f"{names[i]}: {int(sizes[i]):,}"))
    if len(order) > LEGEND_MAX:
        handles.append(Line2D([], [], ls="", label=f"+{len(order) - LEGEND_MAX} more"))
    if noise_size:
        handles.append(Line2D([], [], ls="", marker="o", color=NOISE_RGB,
                              label=f"noise: {noise_size:,}"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
                  frameon=False, handletextpad=0.2, borderaxespad=0)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return fig


def _density(ax: Any, xy: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, bins: int = 320) -> None:
    lo = np.nanmin(xy, axis=0)
    hi = np.nanmax(xy, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    ij = np.clip(((xy - lo) / span * bins).astype(np.int64), 0, bins - 1)
    flat = ij[:, 1] * bins + ij[:, 0]
    count = np.bincount(flat, minlength=bins * bins).astype(np.float64)
    weight = alpha  # strong members dominate a pixel's colour
    wsum = np.bincount(flat, weights=weight, minlength=bins * bins)
    img = np.zeros((bins * bins, 4))
    safe = np.where(wsum > 0, wsum, 1.0)
    for ch in range(3):
        img[:, ch] = np.bincount(flat, weights=rgb[:, ch] * weight, minlength=bins * bins) / safe
    img[:, 3] = np.where(count > 0, 0.25 + 0.75 * np.log1p(count) / np.log1p(count.max()), 0.0)
    ax.imshow(img.reshape(bins, bins, 4), origin="lower", interpolation="nearest",
              extent=(lo[0], lo[0] + span[0], lo[1], lo[1] + span[1]), aspect="auto")


def draw_condensed_tree(clusterer: Any) -> Any:
    """HDBSCAN's condensed tree (icicle plot) with the selected clusters circled.

    Uses ``condensed_tree_.plot(axis=ax, colorbar=False)`` (its colorbar would go
    through pyplot) and adds the colorbar on this Figure instead.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Ellipse

    fig = new_figure(7.2, 4.2, dpi=90)
    ax = fig.add_subplot(1, 1, 1)
    k = int(clusterer.labels_.max()) + 1
    colours = [tuple(c) for c in palette(max(k, 1))]
    tree = clusterer.condensed_tree_
    note = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tree.plot(axis=ax, colorbar=False, select_clusters=k > 0, selection_palette=colours)
        except (ValueError, TypeError):
            # hdbscan cannot size the circles when duplicate points give infinite density.
            ax.clear()
            tree.plot(axis=ax, colorbar=False, select_clusters=False)
            note = " (circles unavailable: duplicate points)"
    for patch in ax.patches:
        # hdbscan sizes some circles with a length-1 array, which matplotlib cannot draw.
        if isinstance(patch, Ellipse):
            patch.width = float(np.ravel(patch.width)[0])
            patch.height = float(np.ravel(patch.height)[0])
            if not (np.isfinite(patch.width) and np.isfinite(patch.height)):
                patch.set_visible(False)
    widths = tree.get_plot_data()["bar_widths"]
    sm = ScalarMappable(cmap="viridis", norm=Normalize(0, max(widths) if len(widths) else 1))
    fig.colorbar(sm, ax=ax, label="points")
    ax.set_title(f"Condensed tree: {k} selected cluster{'s' if k != 1 else ''} circled{note}",
                 fontsize=9)
    return fig
