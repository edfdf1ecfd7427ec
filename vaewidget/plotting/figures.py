"""Figures of rows and histories, and the PNG encoders every figure goes through.

No pyplot: no global figure registry. Widgets show the PNG bytes in an
``ipywidgets.Image``, which renders in JupyterLab, Notebook 7, Voila and Colab alike
and leaks no figures.
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


def rgba_to_png(canvas: Any) -> bytes:
    """An Agg canvas' pixels as PNG bytes (fast zlib level: small figures, many updates)."""
    from PIL import Image

    buf = io.BytesIO()
    w, h = canvas.get_width_height(physical=True)
    Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
        buf, format="png", compress_level=1)
    return buf.getvalue()


def as_images(rows: np.ndarray) -> np.ndarray | None:
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
    images = as_images(orig)
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
        as_img = as_images(data)
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


def prototype_figure(proto: np.ndarray, originals: np.ndarray, decoded: np.ndarray,
                     rows: np.ndarray) -> Any:
    """A prototype, then exemplars decoded (top) over their original rows (bottom).

    Parameters
    ----------
    proto
        The decoded prototype, in the data's shape (an image or a row).
    originals
        The exemplar rows, in original units.
    decoded
        The decoded codes of those rows.
    rows
        Their row numbers (column titles).

    Returns
    -------
    matplotlib.figure.Figure
    """
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


def message_figure(text: str, width: float = 7.2, height: float = 1.2) -> Any:
    """A small Figure that only says ``text`` (for empty galleries)."""
    fig = new_figure(width, height, dpi=90)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    return fig


def preview_urls(images: np.ndarray, *, min_side: int = 48, vmin: float | None = None,
                 vmax: float | None = None) -> list[str]:
    """One small PNG ``data:`` URL per image, for tooltips: grey as ink on white, like the galleries.

    Parameters
    ----------
    images
        ``(n, H, W)`` grey or ``(n, H, W, 1|3)`` images, in any units.
    vmin, vmax
        The values shown white and black (grey images); default: the minimum and
        maximum of ``images``. Pass the whole dataset's, as the galleries use.
    min_side
        Images are enlarged by a whole factor (nearest pixel) to at least this many
        pixels a side, so the browser does not blur them.

    Returns
    -------
    list of str
        ``"data:image/png;base64,..."``, a few hundred bytes each for small images.
    """
    import base64
    import struct
    import zlib

    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError("Expected (n, H, W) or (n, H, W, 1|3) images. "
                         f"Received: shape={arr.shape}")
    lo, hi = (float(np.nanmin(arr)), float(np.nanmax(arr))) if arr.size else (0.0, 1.0)
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    scaled = np.nan_to_num((arr - lo) / (hi - lo if hi > lo else 1.0))
    if arr.ndim == 3:
        scaled = 1.0 - scaled  # gray_r: high values dark
    pixels = np.clip(scaled * 255 + 0.5, 0, 255).astype(np.uint8)
    factor = max(1, -(-int(min_side) // max(arr.shape[1], 1)))
    pixels = pixels.repeat(factor, axis=1).repeat(factor, axis=2)
    h, w = pixels.shape[1:3]
    colour = 2 if pixels.ndim == 4 else 0
    rows = pixels.reshape(len(pixels), h, -1)
    filtered = np.concatenate([np.zeros((len(pixels), h, 1), np.uint8), rows], axis=2)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
    tail = chunk(b"IEND", b"")
    prefix = "data:image/png;base64,"
    return [prefix + base64.b64encode(head + chunk(b"IDAT", zlib.compress(f.tobytes(), 6))
                                      + tail).decode("ascii") for f in filtered]
