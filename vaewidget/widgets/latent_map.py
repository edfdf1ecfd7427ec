"""The interactive latent map: one jupyter-scatter widget that shows a clustering and takes picks.

jupyter-scatter draws with WebGL in the browser (regl-scatterplot); its front end ships
prebuilt inside anywidget's wheel, so JupyterLab, Notebook 7 and Voila need nothing
installed or enabled. Points reach the browser as one binary buffer (four float32 per
point: x, y, colour, opacity), so a million points is 16 MB, not JSON.

:class:`LatentMap` is the friendly side: it makes the :class:`jscatter.Scatter` once and
afterwards only moves and recolours its points (animated, in one message), so the
widget object and its view never change while a Trainer runs. The synced state lives in
jupyter-scatter's own widget (``LatentMap.widget``): its ``selection`` trait is the
lasso/click selection, both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np

from vaewidget.plotting.clusters import categories
from vaewidget.plotting.figures import preview_urls

#: Colour modes: what decides a point's colour.
COLOURS = {"cluster": "cluster", "label": "true label", "outlier": "outlier score",
           "error": "reconstruction error"}
#: Opacity from membership probability 0 (noise) to 1: ``np.linspace`` arguments.
OPACITY = (0.25, 1.0, 64)
#: Milliseconds the points take to move to a new clustering.
TRANSITION_MS = 800
#: Keys: shift adds to the selection (shift-click, shift-lasso), alt removes.
ACTION_KEYS = {"lasso": "shift", "merge": "shift", "remove": "alt", "rotate": "ctrl"}
_BUTTONS = ["pan_zoom", "lasso", "divider", "full_screen", "download", "reset"]


def point_size(n: int) -> float:
    """Pixel size of a point: larger for a few hundred points, smaller for a million."""
    return float(np.clip(24.0 / np.log10(max(n, 10)), 2.0, 8.0))


def align(previous: np.ndarray | None, coords: np.ndarray) -> np.ndarray:
    """``coords`` turned, mirrored, scaled and shifted onto ``previous`` (least squares).

    A new projection of new codes may come out rotated or mirrored for no reason in the
    data; aligning it (orthogonal Procrustes) lets the points move only as much as
    the codes did. The shape of the map is kept: only a similarity transform is applied.
    """
    coords = np.asarray(coords, np.float64)
    if previous is None or np.shape(previous) != coords.shape or len(coords) < 3:
        return coords.astype(np.float32)
    prev = np.asarray(previous, np.float64)
    if not (np.isfinite(prev).all() and np.isfinite(coords).all()):
        return coords.astype(np.float32)
    mu_p, mu_c = prev.mean(axis=0), coords.mean(axis=0)
    a, b = coords - mu_c, prev - mu_p
    u, s, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    norm = float((a * a).sum())
    scale = float(s.sum()) / norm if norm > 0 else 1.0
    return (a @ rotation * scale + mu_p).astype(np.float32)


class LatentMap:
    """The 2-D map of a clustering as a jupyter-scatter widget, updated in place.

    Parameters
    ----------
    images
        The rows as images (``(n, H, W[, C])``) for tooltip previews, or ``None``
        (tables): thumbnails are made only for the rows a pointer rests on.
    height
        Height of the map in pixels.

    Attributes
    ----------
    box : ipywidgets.Box
        What the viewer places on the page: the scatter widget, or a message while
        there is nothing to show.
    scatter : jscatter.Scatter or None
        The friendly jupyter-scatter object (made by the first :meth:`show`).
    widget : jscatter.widget.JupyterScatter or None
        Its anywidget, which holds the synced state (``points``, ``selection``...).
    updates : int
        How many times :meth:`show` changed the points of the existing widget.
    """

    def __init__(self, *, images: np.ndarray | None = None, height: int = 440) -> None:
        self.images = images
        self._range = ((float(np.nanmin(images)), float(np.nanmax(images)))
                       if images is not None and np.size(images) else (None, None))
        self.height = int(height)
        self.scatter: Any = None
        self.widget: Any = None
        self.updates = 0
        self.colour = "cluster"
        self._encodings: dict[str, dict[str, Any]] = {}
        self._frame: Any = None
        self._previews: dict[int, str] = {}
        self._pushing = False
        self._listeners: list[Callable[[np.ndarray], None]] = []
        self._message = widgets.HTML("")
        # A column box: its child stretches to the width the row leaves (a plain Box
        # would shrink the scatter, which sizes itself to its container, to nothing).
        self.box = widgets.VBox([self._message],
                                layout=widgets.Layout(flex="1 1 auto", min_width="420px"))
        self.box.add_class("vaew-viewer-map")

    # ------------------------------------------------------------------ showing
    def show(self, coords: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, *,
             columns: dict[str, np.ndarray] | None = None, colour: str = "cluster",
             animate: bool = True) -> None:
        """Show a clustering: move and recolour the points (one message to the browser).

        Parameters
        ----------
        coords
            ``(n, 2)`` map coordinates.
        labels, probabilities
            Cluster of each row (``-1`` noise) and its membership probability
            (the points' opacity).
        columns
            What else the points can be coloured by, one value per row: ``"label"``
            (true labels, categories), ``"outlier"`` and ``"error"`` (numbers).
        colour
            A key of :data:`COLOURS`; ``"cluster"`` (noise grey) or one of ``columns``.
        animate
            Let the points glide to their new places when the widget already shows
            the same number of points.
        """
        import pandas as pd

        columns = dict(columns or {})
        unknown = sorted(set(columns) - set(COLOURS) | ({colour} - set(COLOURS)))
        if unknown:
            raise ValueError(f"Expected colours among {tuple(COLOURS)}. Received: {unknown}")
        if colour != "cluster" and colour not in columns:
            raise ValueError(f"Expected values to colour by {colour!r}. Received: none.")
        coords = np.asarray(coords, np.float32)
        n = len(coords)
        labels = np.asarray(labels)
        data = {"x": coords[:, 0], "y": coords[:, 1], "row": np.arange(n, dtype=np.int64)}
        codes, names, colours = categories(labels, clusters=True)
        data["cluster"] = pd.Categorical.from_codes(codes, names)
        # float64 and rounded: the tooltip prints the number as Python holds it.
        data["probability"] = np.round(np.asarray(probabilities, np.float64), 3)
        encodings = {"cluster": {"by": "cluster", "map": colours}}
        for key, values in columns.items():
            name = COLOURS[key]
            if key == "label":
                codes, names, colours = categories(np.asarray(values), clusters=False)
                data[name] = pd.Categorical.from_codes(codes, names)
                encodings[key] = {"by": name, "map": colours}
            else:
                v = np.asarray(values, np.float64)
                finite = v[np.isfinite(v)]
                lo, hi = np.percentile(finite, [1, 99]) if len(finite) else (0.0, 1.0)
                data[name] = np.nan_to_num(v, nan=lo).astype(np.float32)
                encodings[key] = {"by": name, "map": "viridis",
                                  "norm": (float(lo), float(hi if hi > lo else lo + 1e-9)),
                                  "labeling": {"variable": name}}
        if self.images is not None:
            data["preview"] = np.full(n, None, dtype=object)
            for row, url in self._previews.items():
                if row < n:
                    data["preview"][row] = url
        frame = pd.DataFrame(data)
        self._encodings = encodings
        self.colour = colour
        if self.scatter is None:
            self._create(frame)
            return
        old = self._frame
        same = old is not None and len(old) == n
        moved = not (same and np.array_equal(old["x"].to_numpy(), data["x"])
                     and np.array_equal(old["y"].to_numpy(), data["y"]))
        self._frame = frame
        s, w = self.scatter, self.widget
        with w.hold_sync():  # everything below reaches the browser as one message
            # data() re-applies the current colouring to the new frame: make it the
            # cluster column, which every frame has (a colour column may be missing).
            s.color(by="cluster", map=encodings["cluster"]["map"], skip_widget_update=True)
            s.data(frame, animate=animate and same and moved)
            self._recolour(colour)
            s.size(point_size(n))
            if same and not moved:
                # Only colours changed: no transition, and the browser keeps its spatial
                # index, so the redraw is quick. regl-scatterplot refuses new points while
                # it is still drawing (or moving) the last ones.
                w.transition_points = False
                w.non_spatial_points_update = True
        self.updates += 1

    @property
    def colours(self) -> tuple[str, ...]:
        """What the points can be coloured by now (keys of :data:`COLOURS`)."""
        return tuple(self._encodings)

    def recolour(self, colour: str) -> None:
        """Colour the points by another of the columns last shown (positions stay)."""
        if colour not in self._encodings:
            raise ValueError(f"Expected a colour among {self.colours}. Received: {colour!r}")
        self.colour = colour
        if self.scatter is not None:
            with self.widget.hold_sync():
                self._recolour(colour)

    def _recolour(self, colour: str) -> None:
        s, enc = self.scatter, self._encodings[colour]
        s.color(by=enc["by"], map=enc["map"], norm=enc.get("norm", None),
                labeling=enc.get("labeling", None))
        s.opacity(by="probability", map=OPACITY, norm=(0.0, 1.0),
                  labeling={"variable": "membership probability"})
        properties = ["row", "cluster", "probability"]
        properties += [enc["by"]] if enc["by"] not in properties else []
        if s.tooltip()["properties"] != properties:
            s.tooltip(properties=properties)

    def close(self) -> None:
        """Close the map's widgets (the scatter, its message and its box) and free them."""
        from vaewidget.widgets._parts import close_tree

        if self.widget is not None:
            release_widget(self.widget)
        close_tree(self._message)
        close_tree(self.box)

    def show_message(self, text: str) -> None:
        """Show ``text`` instead of the map (nothing to draw); the map comes back on :meth:`show`."""
        self._message.value = f"<p class='vaew-map-message'>{text}</p>"
        self.box.children = [self._message]

    def _create(self, frame: Any) -> None:
        import jscatter

        n = len(frame)
        self._frame = frame
        s = jscatter.Scatter(
            x="x", y="y", data=frame, height=self.height, size=point_size(n),
            legend=True, legend_position="top-right", legend_size="small",
            # No histograms in the tooltip: jupyter-scatter would build one per column,
            # per update, by turning every value into a string (seconds at 1M points).
            tooltip=True, tooltip_size="small", tooltip_histograms=False,
            axes=False, lasso_initiator=False, background_color="#ffffff",
            transition_points_duration=TRANSITION_MS,
            options={"actionKeyMap": ACTION_KEYS, "deselectOnDblClick": True},
        )
        self.scatter = s
        self._recolour(self.colour)
        if self.images is not None:
            s.tooltip(preview="preview", preview_type="image", preview_image_height=96,
                      preview_image_size="contain")
        self.widget = s.show(buttons=_BUTTONS)
        self.widget.add_class("vaew-latent-scatter")
        self.widget.layout.width = "100%"
        self.widget.observe(self._on_selection, names="selection")
        if self.images is not None:
            self.widget.observe(self._on_hover, names="hovering")
        self.box.children = [self.widget]

    # --------------------------------------------------------------- selection
    @property
    def selection(self) -> np.ndarray:
        """Rows selected on the map (sorted)."""
        if self.widget is None or self.widget.selection is None:
            return np.array([], dtype=np.int64)
        return np.sort(np.asarray(self.widget.selection, dtype=np.int64))

    def select(self, rows: np.ndarray) -> None:
        """Show ``rows`` as the map's selection (no callback: the caller knows)."""
        if self.scatter is None:
            return
        self._pushing = True
        try:
            self.scatter.selection(np.asarray(rows, dtype=np.int64))
        finally:
            self._pushing = False

    def on_select(self, callback: Callable[[np.ndarray], None]) -> None:
        """Call ``callback(rows)`` when the user selects on the map (lasso, click, clear)."""
        self._listeners.append(callback)

    def _on_selection(self, change: dict[str, Any]) -> None:
        if self._pushing:
            return
        rows = self.selection
        for callback in list(self._listeners):
            callback(rows)

    # ------------------------------------------------------------------ preview
    def _on_hover(self, change: dict[str, Any]) -> None:
        # The browser sends `hovering` at once and asks for the tooltip's data 500 ms
        # later on the same channel, so the thumbnail is in the frame in time: one
        # small PNG per row a pointer rests on, instead of one per row up front.
        row = change["new"]
        if row is None or self.images is None or self._frame is None:
            return
        row = int(row)
        if row not in self._previews and 0 <= row < len(self.images):
            lo, hi = self._range
            self._previews[row] = preview_urls(self.images[row:row + 1], vmin=lo, vmax=hi)[0]
        data = self.scatter.widget.data
        if data is not None and "preview" in data and row < len(data):
            data.at[row, "preview"] = self._previews.get(row)


__all__ = ["COLOURS", "LatentMap", "align", "point_size"]


def release_widget(widget: Any) -> None:
    """Close an anywidget (the jupyter-scatter map) and let Python free it.

    anywidget connects every instance to its class's ``_esm``/``_css`` file-watch signal
    with a lambda that holds the instance (anywidget 0.9-0.11, for hot reloading while
    developing a widget); the class keeps that signal for ever, so a closed map and the
    viewer and model behind its observers were never freed. Disconnect this instance.
    """
    widget.close()
    for cls in type(widget).__mro__:
        for key in ("_esm", "_css"):
            signal = getattr(cls.__dict__.get(key), "changed", None)
            for slot in list(getattr(signal, "_slots", ())):
                func = slot.dereference() if hasattr(slot, "dereference") else None
                cells = getattr(func, "__closure__", None) or ()
                if any(_cell_value(c) is widget for c in cells):
                    signal.disconnect(func)


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None

