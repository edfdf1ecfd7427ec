"""Live figures, redrawn in place: the ELBO curves and the reconstructions strip.

Each keeps one :class:`matplotlib.figure.Figure` and its artists for its whole life and
blits only what changed, so a redraw per batch or epoch is cheap. ``render_png()``
returns PNG bytes; the panel's widgets (:mod:`vaewidget.widgets.elbo_plot`,
:mod:`vaewidget.widgets.recon_strip`) put them in an ``ipywidgets.Image``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.ticker import MaxNLocator

from vaewidget.plotting.figures import as_images, new_figure, pairs_figure, rgba_to_png

# metric -> (axis index, label, colour, line style); val_* have per-epoch points only.
SERIES: dict[str, tuple[int, str, str, str]] = {
    "loss": (0, "total", "tab:blue", "-"),
    "reconstruction_loss": (0, "reconstruction", "tab:orange", "-"),
    "val_loss": (0, "validation total", "tab:purple", "--"),
    "weighted_kl_loss": (1, "KL x beta (weighted)", "tab:green", "-"),
    "kl_loss": (1, "KL (raw)", "tab:red", "-"),
    "val_kl_loss": (1, "validation KL (raw)", "tab:brown", "--"),
}


class ELBOFigure:
    """Live curves of the negative ELBO and its parts.

    Per-epoch values are drawn as points, the per-batch values as a smoothed line
    (an exponential moving average). One :class:`matplotlib.figure.Figure` lives as
    long as the plot; :meth:`render_png` moves its artists with ``set_data`` and
    returns PNG bytes, so updates neither flicker nor open new figures.

    ``add_batch`` and ``add_epoch`` are cheap and safe to call from the training
    thread; :meth:`render_png` does the drawing and belongs to the UI side.

    Parameters
    ----------
    smoothing
        Weight of the past in the moving average of batch values, in [0, 1).
    max_batch_points
        Batch points kept per curve; older ones are thinned to bound drawing cost.
    width, height, dpi
        Size of the figure.
    """

    def __init__(
        self,
        smoothing: float = 0.8,
        max_batch_points: int = 1500,
        width: float = 8.0,
        height: float = 2.7,
        dpi: int = 80,
    ) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"Expected 0 <= smoothing < 1. Received: smoothing={smoothing}")
        self.smoothing = float(smoothing)
        self.max_batch_points = int(max_batch_points)
        self.log_scale = False
        self._lock = threading.Lock()
        self._epochs: dict[str, list[tuple[float, float]]] = {k: [] for k in SERIES}
        self._batches: dict[str, list[tuple[float, float]]] = {k: [] for k in SERIES}
        self._ema: dict[str, float] = {}
        # A fixed layout: a layout engine would re-measure every tick label on every redraw.
        self.fig = new_figure(width, height, dpi=dpi, layout=None)
        self.fig.subplots_adjust(left=0.085, right=0.985, bottom=0.16, top=0.9, wspace=0.22)
        self.axes = self.fig.subplots(1, 2)
        self._points: dict[str, Any] = {}
        self._lines: dict[str, Any] = {}
        for key, (i, label, color, style) in SERIES.items():
            ax = self.axes[i]
            (self._points[key],) = ax.plot([], [], "o", color=color, markersize=3.5, label=label,
                                           animated=True)
            (self._lines[key],) = ax.plot([], [], style, color=color, linewidth=1.0, alpha=0.7,
                                          animated=True)
        for ax, title in zip(self.axes, ("negative ELBO (loss)", "KL divergence")):
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.ticklabel_format(useOffset=False)
            ax.set_xlim(0, 5)
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5))  # fewer labels: cheaper redraws
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        self._legend_keys: tuple[str, ...] = ()
        # Blitting: axes, ticks and legends are drawn once into a cached background and
        # redrawn only when the limits must move; an update draws just the curves.
        self._canvas = FigureCanvasAgg(self.fig)
        self._background: Any = None
        self.full_draws = 0
        self.renders = 0
        self.dirty = False
        self.last_cost = 0.0
        self.mean_cost = 0.0  # moving average of last_cost (CPU seconds per render)

    # ------------------------------------------------------------ data (any thread)
    def add_batch(self, x: float, logs: Mapping[str, float]) -> None:
        """Record the running per-batch metrics at fractional epoch ``x``."""
        with self._lock:
            for key in SERIES:
                value = logs.get(key)
                if key.startswith("val_") or value is None or not math.isfinite(value):
                    continue
                prev = self._ema.get(key)
                ema = value if prev is None else self.smoothing * prev + (1 - self.smoothing) * value
                self._ema[key] = ema
                series = self._batches[key]
                series.append((float(x), float(ema)))
                self.dirty = True
                if len(series) > self.max_batch_points:
                    del series[1:-1:2]  # thin to half, keep both ends

    def add_epoch(self, epoch: float, logs: Mapping[str, float]) -> None:
        """Record the metrics of a finished epoch (``epoch`` counts from 1)."""
        with self._lock:
            for key in SERIES:
                value = logs.get(key)
                if value is not None and math.isfinite(value):
                    self._epochs[key].append((float(epoch), float(value)))
                    self.dirty = True

    def set_history(self, history: Mapping[str, list[float]]) -> None:
        """Replace everything with a per-epoch history (after loading a model)."""
        self.clear()
        for key in SERIES:
            for i, value in enumerate(history.get(key) or []):
                self.add_epoch(i + 1, {key: value})

    def clear(self) -> None:
        """Forget all points (new weights)."""
        with self._lock:
            for store in (self._epochs, self._batches):
                for series in store.values():
                    series.clear()
            self._ema.clear()
            self.dirty = True

    @property
    def n_epochs(self) -> int:
        """How many epoch points the total-loss curve has."""
        return len(self._epochs["loss"])

    # ------------------------------------------------------------ drawing (UI side)
    def render_png(self) -> bytes:
        """Move the artists to the current data and return the figure as PNG bytes."""
        started = time.thread_time()  # CPU time of this thread: our cost, not the machine's load
        with self._lock:
            self.dirty = False
            epochs = {k: list(v) for k, v in self._epochs.items()}
            batches = {k: list(v) for k, v in self._batches.items()}
        shown = []
        for key in SERIES:
            for artist, data in ((self._points[key], epochs[key]), (self._lines[key], batches[key])):
                arr = np.asarray(data, dtype=float).reshape(-1, 2)
                artist.set_data(arr[:, 0], arr[:, 1])
            if epochs[key] or batches[key]:
                shown.append(key)
        stale = self._background is None
        for i, ax in enumerate(self.axes):
            data = [xy for k in SERIES if SERIES[k][0] == i for xy in epochs[k] + batches[k]]
            stale |= self._fit_limits(ax, np.asarray(data, dtype=float).reshape(-1, 2))
        if tuple(shown) != self._legend_keys:
            stale = True
            self._legend_keys = tuple(shown)
            for i, ax in enumerate(self.axes):
                handles = [self._points[k] for k in shown if SERIES[k][0] == i]
                if handles:
                    ax.legend(handles=handles, fontsize=7, loc="upper right")
                elif ax.get_legend() is not None:
                    ax.get_legend().remove()
        canvas = self._canvas
        if stale:  # the slow path: ticks, labels, legends
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self.full_draws += 1
        else:
            canvas.restore_region(self._background)
        for ax in self.axes:
            for artist in ax.get_lines():
                ax.draw_artist(artist)
        self.renders += 1
        png = rgba_to_png(canvas)
        self.last_cost = time.thread_time() - started
        self.mean_cost = self.last_cost if not self.mean_cost else (
            0.8 * self.mean_cost + 0.2 * self.last_cost)
        return png

    def _fit_limits(self, ax: Any, xy: np.ndarray) -> bool:
        """Move the axis limits only when the data left them or fill too little of them.

        Returns whether they moved (the cached background is then stale).
        """
        want_log = self.log_scale and bool((xy[:, 1] > 0).any()) if len(xy) else False
        changed = False
        if (ax.get_yscale() == "log") != want_log:
            ax.set_yscale("log" if want_log else "linear")
            if not want_log:
                ax.ticklabel_format(axis="y", useOffset=False)
            changed = True
        if len(xy) == 0:
            return changed
        x_max = max(float(xy[:, 0].max()), 1.0)
        lo_x, hi_x = ax.get_xlim()
        if changed or x_max > hi_x or hi_x > 3 * x_max + 2 or lo_x != 0:
            ax.set_xlim(0, max(5, math.ceil(x_max * 1.6)))
            changed = True
        ys = xy[:, 1][xy[:, 1] > 0] if want_log else xy[:, 1]
        lo, hi = float(ys.min()), float(ys.max())
        y0, y1 = ax.get_ylim()
        if want_log:
            fits = y0 <= lo and hi <= y1 and (y1 / y0) <= 30 * max(hi / lo, 1.5)
            target = (lo / 2.0, hi * 1.6)
        else:
            span = max(hi - lo, abs(hi) * 0.05, 1e-6)
            fits = y0 <= lo and hi <= y1 and (y1 - y0) <= 4 * span
            target = (lo - 0.5 * span, hi + 0.15 * span)  # losses fall: room below
        if changed or not fits:
            ax.set_ylim(*target)
            changed = True
        return changed


class ReconFigure:
    """Originals on top, reconstructions below; images as images, table rows as bars.

    The figure and its artists are made once; :meth:`update` only swaps the
    reconstruction pixels (``set_data``) or bar heights, so a per-epoch refresh is cheap.
    :meth:`render_png` returns the figure as PNG bytes.

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
        self.is_image = as_images(self.originals) is not None
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

    def update(self, reconstructions: Any | None) -> None:
        """Set ``reconstructions`` (same shape as the originals); ``None`` hides the row."""
        self._note.set_visible(reconstructions is None)
        if reconstructions is not None:
            recon = np.asarray(reconstructions, dtype=np.float32)
            as_img = as_images(recon) if self.is_image else None
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

    def render_png(self) -> bytes:
        """The figure as PNG bytes (originals drawn once, then cached)."""
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
        return rgba_to_png(canvas)
