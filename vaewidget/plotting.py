"""Matplotlib helpers that return Figures or PNG bytes. No pyplot: no global figure registry.

Widgets show the PNG bytes in an ``ipywidgets.Image``, which renders in JupyterLab,
Notebook 7, Voila and Colab alike and leaks no figures.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np


def new_figure(
    width: float = 6.0, height: float = 3.0, dpi: int = 90, layout: str | None = "constrained"
) -> Any:
    """A standalone :class:`matplotlib.figure.Figure` (not registered with pyplot).

    ``layout=None`` gives a fixed layout: cheaper to redraw many times (live plots).
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi, layout=layout)


def figure_to_png(fig: Any, dpi: int | None = None, *, compress_level: int = 6) -> bytes:
    """Render ``fig`` to PNG bytes (``compress_level`` 1 is fastest, 9 smallest)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": int(compress_level)})
    return buf.getvalue()


def _as_images(rows: np.ndarray) -> np.ndarray | None:
    """(n, H, W) grey or (n, H, W, 3|4) colour images, or None when rows are tabular."""
    if rows.ndim == 3:
        return rows
    if rows.ndim == 4:
        return rows[..., 0] if rows.shape[-1] == 1 else rows
    return None


def pairs_figure(
    originals: Any,
    reconstructions: Any | None = None,
    *,
    titles: list[str] | None = None,
    max_items: int = 8,
    fig: Any | None = None,
) -> Any:
    """Originals on the top row, their reconstructions below: images as images, rows as bars.

    Parameters
    ----------
    originals
        ``(n, H, W)``, ``(n, H, W, C)`` images or ``(n, features)`` rows.
    reconstructions
        The same shape as ``originals``, or ``None`` to show originals only.
    titles
        One short title per column (e.g. the row index or cluster).
    max_items
        Show at most this many columns.
    fig
        Draw into this Figure (cleared first) instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    orig = np.asarray(originals, dtype=np.float32)[:max_items]
    recon = None if reconstructions is None else np.asarray(reconstructions, np.float32)[:max_items]
    n = max(len(orig), 1)
    n_rows = 1 if recon is None else 2
    images = _as_images(orig)
    if fig is None:
        height = 1.2 * n_rows + 0.3 if images is not None else 1.1 * n_rows + 0.4
        fig = new_figure(max(1.1 * n, 3.0), height)
    else:
        fig.clear()
    axes = fig.subplots(n_rows, n, squeeze=False)
    if len(orig) == 0:
        axes[0, 0].text(0.5, 0.5, "nothing selected", ha="center", va="center")
    rows = [orig] if recon is None else [orig, recon]
    lo, hi = float(orig.min()) if orig.size else 0.0, float(orig.max()) if orig.size else 1.0
    for r, data in enumerate(rows):
        as_img = _as_images(data)
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(data):
                ax.set_axis_off()
                continue
            if as_img is not None:
                ax.imshow(as_img[c], cmap="gray_r" if as_img.ndim == 3 else None, vmin=lo, vmax=hi)
            else:
                values = data[c].ravel()
                ax.bar(np.arange(len(values)), values, width=1.0,
                       color="tab:blue" if r == 0 else "tab:orange")
                ax.set_ylim(min(lo, 0.0), hi if hi > lo else lo + 1)
            if r == 0 and titles is not None and c < len(titles):
                ax.set_title(titles[c], fontsize=8)
        axes[r, 0].set_ylabel("original" if r == 0 else "reconstructed", fontsize=8)
    return fig


def history_figure(
    history: dict[str, list[float]], *, log_scale: bool = False, fig: Any | None = None
) -> Any:
    """Per-epoch training curves: losses on the left, the KL term on the right.

    Parameters
    ----------
    history
        ``{metric: [one value per epoch]}``, as ``Trainer.history`` or ``VAEPanel.history``.
    log_scale
        Use a logarithmic y axis (non-positive values are masked).
    fig
        Draw into this Figure (cleared first) instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if fig is None:
        fig = new_figure(8.0, 2.8, dpi=90)
    else:
        fig.clear()
    ax_loss, ax_kl = fig.subplots(1, 2)
    panels = {
        "loss": (ax_loss, "total", "tab:blue", "-"),
        "reconstruction_loss": (ax_loss, "reconstruction", "tab:orange", "-"),
        "val_loss": (ax_loss, "validation total", "tab:blue", "--"),
        "val_reconstruction_loss": (ax_loss, "validation reconstruction", "tab:orange", "--"),
        "weighted_kl_loss": (ax_kl, "KL x beta (weighted)", "tab:green", "-"),
        "kl_loss": (ax_kl, "KL (raw)", "tab:red", "-"),
        "val_kl_loss": (ax_kl, "validation KL (raw)", "tab:red", "--"),
    }
    for key, (ax, label, color, style) in panels.items():
        values = history.get(key) or []
        if values:
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, style, color=color, marker="o", markersize=3, label=label)
    for ax, title in ((ax_loss, "negative ELBO"), (ax_kl, "KL divergence")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if log_scale:
            ax.set_yscale("log", nonpositive="mask")
        if ax.lines:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no epochs yet", ha="center", va="center", transform=ax.transAxes)
    return fig
