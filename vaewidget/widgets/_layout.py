"""The panel's layout: Training tab (data, controls, buttons, progress, plots, status) and tabs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from vaewidget.widgets._panel_clusters import ClustersTab
from vaewidget.widgets._panel_files import message
from vaewidget.widgets._parts import button, hidden
from vaewidget.widgets.controls import MODEL_CONTROLS, TRAIN_CONTROLS
from vaewidget.widgets.recon_strip import ReconStrip


def build_layout(panel: Any) -> None:
    """Make the panel's widgets, wire the buttons to its methods, set ``panel.widget``.

    Every widget that a test or a user may want to find has a ``vaew-*`` CSS class.
    """
    c = panel.controls
    panel.train_button = button("Train", "play", "vaew-train", "Train (continues the current weights)", "success")
    panel.pause_button = button("Pause", "pause", "vaew-pause", "Pause or resume training")
    panel.stop_button = button("Stop", "stop", "vaew-stop", "Stop after the current batch", "danger")
    panel.reset_button = button("Reset", "refresh", "vaew-reset", "New weights; forget the history")
    panel.train_button.on_click(lambda _: panel.train())
    panel.pause_button.on_click(lambda _: panel.toggle_pause())
    panel.stop_button.on_click(lambda _: panel.stop())
    panel.reset_button.on_click(lambda _: panel.reset())
    panel.state_label = widgets.HTML(layout=widgets.Layout(width="150px"))
    panel.state_label.add_class("vaew-state")
    panel.epoch_bar = widgets.IntProgress(min=0, max=1, description="epoch")
    panel.batch_bar = widgets.IntProgress(min=0, max=1, description="batch")
    panel.epoch_label, panel.batch_label, panel.speed_label = (widgets.HTML() for _ in range(3))
    for w, css in ((panel.epoch_bar, "vaew-epoch-bar"), (panel.batch_bar, "vaew-batch-bar"),
                   (panel.epoch_label, "vaew-epoch"), (panel.batch_label, "vaew-batch"),
                   (panel.speed_label, "vaew-speed")):
        w.add_class(css)
    panel.log_scale = widgets.Checkbox(value=False, description="log scale", indent=False)
    panel.log_scale.add_class("vaew-log")
    guard(panel, panel.log_scale, panel._on_log_scale)
    panel.recon = ReconStrip(panel.x[panel._recon_idx], [f"#{i}" for i in panel._recon_idx])
    panel.final_image = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
    panel.final_image.add_class("vaew-final")
    hidden(panel.final_image, True)
    panel.path = widgets.Text(value="vae_model.keras", description="path",
                             layout=widgets.Layout(width="340px"))
    panel.path.add_class("vaew-path")
    panel.save_button = button("Save", "save", "vaew-save", "Save model + history to path")
    panel.load_button = button("Load", "folder-open", "vaew-load", "Load model + history from path")
    panel.save_button.on_click(lambda _: panel._save_typed())  # inside panel.files_root
    panel.load_button.on_click(lambda _: panel._load_typed())
    for name in (*MODEL_CONTROLS, *TRAIN_CONTROLS):
        guard(panel, getattr(c, name), functools.partial(panel._on_control, name))
    panel.data_box = widgets.HTML(panel._summary())
    panel.data_box.add_class("vaew-data")
    buttons = widgets.HBox([panel.train_button, panel.pause_button, panel.stop_button,
                            panel.reset_button, panel.state_label])
    progress = widgets.VBox([
        widgets.HBox([panel.epoch_bar, panel.epoch_label]),
        widgets.HBox([panel.batch_bar, panel.batch_label]),
        panel.speed_label,
    ])
    right = widgets.VBox([
        buttons, progress, panel.plot.image, panel.log_scale,
        widgets.HTML("<b>Reconstructions</b> (top: originals, bottom: reconstructed)"),
        panel.recon.image,
    ], layout=widgets.Layout(flex="1 1 auto"))
    left = widgets.VBox([panel.data_box, c.widget], layout=widgets.Layout(width="350px", margin="0 12px 0 0"))
    status_box = widgets.VBox([
        widgets.HTML("<b>Status</b>"), panel.status.widget, panel.final_image,
        widgets.HBox([panel.path, panel.save_button, panel.load_button]),
    ])
    training = widgets.VBox([widgets.HBox([left, right]), status_box])
    panel.clusters = ClustersTab(panel, panel.status.add)
    panel.clusters_box = panel.clusters.box
    panel.tab = widgets.Tab(children=[training, panel.clusters_box])
    panel.tab.titles = ("Training", "Clusters")
    guard(panel, panel.tab, panel._on_tab, "selected_index")
    title = widgets.HTML("<h3 style='margin:4px 0'>vaewidget: variational autoencoder</h3>")
    panel.widget = widgets.VBox([title, panel.tab])
    panel.widget.add_class("vaew-panel")


def guard(panel: Any, widget: widgets.Widget, handler: Callable[[dict], None],
          name: str = "value") -> None:
    """Observe ``widget``'s ``name`` with ``handler``; when it raises, show the error in
    the panel's status area and put the old value back (never raise into the notebook)."""
    putting_back = []

    def observer(change: dict) -> None:
        if putting_back:
            return
        try:
            handler(change)
        except Exception as err:
            panel.status.add(f"{message(err)} The control was put back to {change['old']!r}.",
                             "error")
            putting_back.append(True)
            try:
                setattr(widget, name, change["old"])
            finally:
                putting_back.clear()

    widget.observe(observer, name)
