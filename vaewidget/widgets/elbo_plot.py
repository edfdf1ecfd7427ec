"""The live ELBO plot: one Figure, updated in place, shown as PNG bytes in an Image."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np

from vaewidget.plotting import figure_to_png, new_figure

# metric -> (axis index, label, colour, line style); val_* have per-epoch points only.
SERIES: dict[str, tuple[int, str, str, str]] = {
    "loss": (0, "total", "tab:blue", "-"),
    "reconstruction_loss": (0, "reconstruction", "tab:orange", "-"),
    "val_loss": (0, "validation total", "tab:purple", "--"),
    "weighted_kl_loss": (1, "KL x beta (weighted)", "tab:green", "-"),
    "kl_loss": (1, "KL (raw)", "tab:red", "-"),
    "val_kl_loss": (1, "validation KL (raw)", "tab:brown", "--"),
}


class ELBOPlot:
    """Live curves of the negative ELBO and its parts.

    Per-epoch values are drawn as points, the per-batch values as a smoothed line
    (an exponential moving average). One :class:`matplotlib.figure.Figure` lives as
    long as the plot; :meth:`render` moves its artists with ``set_data`` and writes
    PNG bytes into :attr:`image`, so updates neither flicker nor open new figures.

    ``add_batch`` and ``add_epoch`` are cheap and safe to call from the training
    thread; :meth:`render` does the drawing and belongs to the UI side.

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
        self.fig.subplots_adjust(left=0.07, right=0.985, bottom=0.16, top=0.9, wspace=0.2)
        self.axes = self.fig.subplots(1, 2)
        self._points: dict[str, Any] = {}
        self._lines: dict[str, Any] = {}
        for key, (i, label, color, style) in SERIES.items():
            ax = self.axes[i]
            (self._points[key],) = ax.plot([], [], "o", color=color, markersize=3.5, label=label)
            (self._lines[key],) = ax.plot([], [], style, color=color, linewidth=1.0, alpha=0.7)
        for ax, title in zip(self.axes, ("negative ELBO (loss)", "KL divergence")):
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.ticklabel_format(useOffset=False)
        self._legend_keys: tuple[str, ...] = ()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="760px"))
        self.image.add_class("vaew-elbo")
        self.renders = 0
        self.dirty = False
        self.last_cost = 0.0
        self.image.value = self.render_png()

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
        for i, ax in enumerate(self.axes):
            # Log only where there is something positive to show; else matplotlib raises.
            positive = any(
                y > 0 for k in SERIES if SERIES[k][0] == i for _, y in epochs[k] + batches[k]
            )
            scale = "log" if self.log_scale and positive else "linear"
            ax.relim()
            if ax.get_yscale() != scale:
                ax.set_yscale(scale, **({"nonpositive": "mask"} if scale == "log" else {}))
                if scale == "linear":
                    ax.ticklabel_format(axis="y", useOffset=False)
            ax.autoscale_view()
        if tuple(shown) != self._legend_keys:
            self._legend_keys = tuple(shown)
            for i, ax in enumerate(self.axes):
                handles = [self._points[k] for k in shown if SERIES[k][0] == i]
                if handles:
                    ax.legend(handles=handles, fontsize=7, loc="upper right")
                elif ax.get_legend() is not None:
                    ax.get_legend().remove()
        self.renders += 1
        png = figure_to_png(self.fig, compress_level=1)
        self.last_cost = time.thread_time() - started
        return png

    def render(self) -> None:
        """Redraw and push the PNG to :attr:`image` (a trait set: safe from any thread)."""
        self.image.value = self.render_png()
