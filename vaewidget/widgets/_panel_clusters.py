"""The panel's Clusters tab: a ClusterViewer made lazily, once there is a trained model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

_NOT_TRAINED = ("<p class='vaew-clusters-hint'>Train the model first (Training tab): this tab "
                "clusters the latent codes of the trained model with HDBSCAN.</p>")
_RUNNING = ("<p class='vaew-clusters-hint'>Training is running. The clusters appear here "
            "when it stops or finishes.</p>")


class ClustersTab:
    """Holds the tab's box; builds ``ClusterViewer(model, x, labels)`` when first shown.

    Parameters
    ----------
    panel
        The :class:`~vaewidget.VAEPanel` (read: ``model``, ``x``, ``labels``, ``state``,
        ``history``).
    report
        ``report(text, level)``: where errors go (the panel's status area).
    """

    def __init__(self, panel: Any, report: Callable[[str, str], None]) -> None:
        self.panel = panel
        self.report = report
        self.viewer: Any = None
        self._viewer_model: Any = None
        self._epochs = -1
        self._note = widgets.HTML(_NOT_TRAINED)  # one note widget, reused (no orphans)
        self.box = widgets.VBox([self._note])
        self.box.add_class("vaew-clusters")
        self.visible = False

    def forget(self) -> None:
        """Drop the viewer (new weights or another model), closing its widgets."""
        if self.viewer is not None:
            self.viewer.close()
        self.viewer = self._viewer_model = None
        self._hint()

    def _hint(self) -> None:
        active = self.panel.state in ("running", "paused", "stopping")
        self._show_note(_RUNNING if active else _NOT_TRAINED)

    def _show_note(self, html: str) -> None:
        self._note.value = html
        self.box.children = [self._note]

    def update(self) -> None:
        """Show or refresh the viewer if it makes sense now; otherwise say why not."""
        p = self.panel
        if not self.visible and self.viewer is None:
            return
        if p.state in ("running", "paused", "stopping") or not p.history.get("loss"):
            if self.viewer is None:
                self._hint()
            return
        try:
            epochs = len(p.history.get("loss", []))
            if self.viewer is not None and self._viewer_model is p.model:
                if epochs != self._epochs:  # new weights since the last clustering
                    self._epochs = epochs
                    self.viewer.refresh()
                return
            if not self.visible:
                return
            self._show_note("<p>Encoding and clustering...</p>")
            from vaewidget.widgets import ClusterViewer

            seed = p._passthrough.get("seed")
            self.viewer = ClusterViewer(p.model, p.x, p.labels, files_root=p.files_root,
                                        random_state=0 if seed is None else seed)
            self._viewer_model, self._epochs = p.model, epochs
            self.box.children = [self.viewer.widget]
        except Exception as err:  # an optional tab must not break the panel
            self.viewer = None
            msg = f"The cluster viewer could not start: {type(err).__name__}: {err}"
            self._show_note(f"<p style='color:#cf222e'>{msg}</p>")
            self.report(msg, "error")
