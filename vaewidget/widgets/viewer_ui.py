"""The cluster viewer's widget tree: controls, the map's place, tabs and the status area; no logic.

:class:`ClusterViewerWidget` only holds widget state; :class:`~vaewidget.ClusterViewer`
(viewer.py) computes and wires the callbacks. Everything here is plain ipywidgets
except the map, a jupyter-scatter widget that :class:`~vaewidget.widgets.latent_map.
LatentMap` makes and this tree only places (``map_box``). anywidget's front end ships
prebuilt in its wheel, so all of it renders in JupyterLab, Notebook 7 and Voila with
nothing to install or enable.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import traitlets

_WIDE = {"width": "340px"}  # a dict: each widget gets its own Layout (closed with it)
_STYLE = {"description_width": "150px"}


def _button(text: str, tooltip: str = "", style: str = "", width: str = "150px") -> widgets.Button:
    return widgets.Button(description=text, tooltip=tooltip or text, button_style=style,
                          layout=widgets.Layout(width=width))


def _count_html(n: int) -> str:
    """The selection's size in words, e.g. "37 points selected"."""
    text = "No points selected" if n == 0 else f"{n:,} point{'s' if n != 1 else ''} selected"
    return f"<b class='vaew-selection-count' data-count='{n}'>{text}</b>"


def _hide_when_empty(change: dict) -> None:
    change["owner"].layout.display = None if change["new"] else "none"


class ClusterViewerWidget(widgets.VBox):
    """The root widget of a :class:`~vaewidget.ClusterViewer`.

    Its children are public attributes (``min_cluster_size``, ``cluster_list``,
    ``gallery`` ...) that tests and the friendly API read and set. The viewer's own
    state is in the traits below; the map's points and selection are synced by the
    map's widget itself, in binary.

    Parameters
    ----------
    n_rows
        Rows of the data (bounds of the row-number boxes).
    colours
        ``(label, value)`` options of the *colour by* control.
    mcs_max
        Largest ``min_cluster_size`` the slider offers.
    map_box
        Where the interactive map goes (``LatentMap.box``).
    """

    n_clusters = traitlets.Int(0, help="Clusters currently shown, noise excluded.").tag(sync=True)
    n_selected = traitlets.Int(0, help="Rows in the selection (map, list or code).").tag(sync=True)
    status_text = traitlets.Unicode("", help="The last message shown in the status area.").tag(
        sync=True)
    selection = traitlets.Instance(
        np.ndarray,
        help="Row numbers of the selection, as the gallery, prototype and export see it. "
             "Not synced: the map's own widget sends the selection to the browser in binary.")

    def __init__(self, *, n_rows: int, colours: list[tuple[str, str]], mcs_max: int,
                 map_box: widgets.Widget) -> None:
        slider = dict(continuous_update=False, style=_STYLE, layout=_WIDE)
        self.space = widgets.Dropdown(options=[("latent", "latent"), ("UMAP of latent", "umap"),
                                               ("PCA of latent", "pca")],
                                      description="cluster on", style=_STYLE, layout=_WIDE)
        self.view = widgets.Dropdown(
            options=[("auto", "auto"), ("PCA", "pca"), ("UMAP", "umap")],
            description="2-D view", style=_STYLE, layout=_WIDE)
        self.min_cluster_size = widgets.IntSlider(5, min=2, max=mcs_max,
                                                  description="min_cluster_size", **slider)
        self.min_samples = widgets.IntSlider(0, min=0, max=max(50, mcs_max // 4),
                                             description="min_samples (0=auto)", **slider)
        self.selection_method = widgets.ToggleButtons(
            options=["eom", "leaf"], description="selection", style={"button_width": "70px"})
        self.epsilon = widgets.FloatSlider(0.0, min=0.0, max=1.0, step=0.01,
                                           description="selection_epsilon", **slider)
        self.refresh = _button("Re-encode", "Re-encode with the current weights and re-cluster")
        self.watch_every = widgets.BoundedIntText(
            0, min=0, max=10_000, description="re-cluster every N epochs (0=off)",
            style={"description_width": "220px"}, layout=widgets.Layout(width="300px"),
            disabled=True)
        self.suggest = _button("Suggest parameters", "Sweep HDBSCAN settings (no labels)",
                               width="180px")
        self.apply_best = _button("Apply best", "Use the best suggested setting", "success")
        self.apply_best.disabled = True
        self.suggestions = widgets.HTML("")
        self.summary = widgets.HTML("")
        self.status = widgets.HTML("")
        self.status.add_class("vaew-viewer-status")
        self.tree_image = widgets.Image(format="png")

        # Map: the scatter, and beside it what drives and shows the selection
        self.map_box = map_box
        self.colour = widgets.Dropdown(options=colours, description="colour by",
                                       style={"description_width": "70px"},
                                       layout=widgets.Layout(width="260px"))
        self.selection_count = widgets.HTML(_count_html(0))
        self.cluster_list = widgets.Select(options=[], description="cluster", rows=8,
                                           style={"description_width": "60px"},
                                           layout=widgets.Layout(width="260px"))
        self.show_cluster = _button("Show cluster", style="primary", width="125px")
        self.clear = _button("Clear selection", width="125px")
        self.indices = widgets.Text("", placeholder="e.g. 3, 17, 42-50",
                                    description="rows", style={"description_width": "60px"},
                                    layout=widgets.Layout(width="260px"))
        self.select_indices = _button("Select rows", width="125px")
        self.selection_info = widgets.HTML("")
        self.gallery = widgets.Image(format="png")
        self.gallery.add_class("vaew-viewer-gallery")
        self.cluster_info = widgets.HTML("")
        self.prototype = widgets.Image(format="png")
        side = widgets.VBox([
            self.colour, self.selection_count, self.cluster_list,
            widgets.HBox([self.show_cluster, self.clear]),
            self.indices, self.select_indices,
            widgets.HTML("<small>Lasso: the toolbar's lasso, or shift-drag. Click a point to "
                         "select it; shift-click adds one. Double-click clears.</small>",
                         layout=widgets.Layout(width="260px")),
        ], layout=widgets.Layout(width="275px", margin="0 0 0 8px"))
        map_tab = widgets.VBox([
            widgets.HBox([map_box, side], layout=widgets.Layout(width="100%")),
            self.selection_info, self.gallery, self.cluster_info, self.prototype,
        ])

        # Outliers
        self.outlier_weight = widgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05,
                                                  description="weight of GLOSH", **slider)
        self.outlier_count = widgets.IntSlider(12, min=1, max=32, description="how many",
                                               **slider)
        self.show_outliers = _button("Show outliers", style="primary")
        self.outlier_info = widgets.HTML("")
        self.outlier_gallery = widgets.Image(format="png")
        outliers = widgets.VBox([
            widgets.HTML("<small>Score = weight &times; percentile rank of the GLOSH outlier "
                         "score + (1 &minus; weight) &times; percentile rank of the "
                         "reconstruction error.</small>"),
            widgets.HBox([self.outlier_weight, self.outlier_count, self.show_outliers]),
            self.outlier_info, self.outlier_gallery,
        ])

        # Traverse and interpolate
        self.anchor = widgets.Dropdown(options=[], description="start from", style=_STYLE,
                                       layout=_WIDE)
        self.anchor_row = widgets.BoundedIntText(0, min=0, max=max(n_rows - 1, 0),
                                                 description="row (if 'a row')", style=_STYLE,
                                                 layout=_WIDE)
        self.dims = widgets.VBox([])
        self.traverse_dim = widgets.Dropdown(options=[0], description="sweep dimension",
                                             style=_STYLE, layout=_WIDE)
        self.traverse = _button("Decode", style="primary")
        self.traverse_image = widgets.Image(format="png")
        self.interp_a = widgets.BoundedIntText(0, min=0, max=max(n_rows - 1, 0),
                                               description="from row", style=_STYLE, layout=_WIDE)
        self.interp_b = widgets.BoundedIntText(min(1, max(n_rows - 1, 0)), min=0,
                                               max=max(n_rows - 1, 0), description="to row",
                                               style=_STYLE, layout=_WIDE)
        self.interp_steps = widgets.IntSlider(8, min=2, max=16, description="steps", **slider)
        self.interpolate = _button("Interpolate", style="primary")
        self.interp_image = widgets.Image(format="png")
        traverse = widgets.VBox([
            widgets.HTML("<b>Latent traversal</b>: the start point, moved along each latent "
                         "dimension by the sliders (in standard deviations of that dimension)."),
            widgets.HBox([widgets.VBox([self.anchor, self.anchor_row, self.traverse_dim,
                                        self.traverse]), self.dims]),
            self.traverse_image,
            widgets.HTML("<b>Interpolation</b> between the codes of two rows."),
            widgets.HBox([self.interp_a, self.interp_b]),
            widgets.HBox([self.interp_steps, self.interpolate]),
            self.interp_image,
        ])

        # Export
        self.filename = widgets.Text("clusters.csv", description="file", style=_STYLE,
                                     layout=_WIDE)
        self.save_csv = _button("Save as CSV", style="primary")
        self.export_info = widgets.HTML("")
        self.export_selection = widgets.Checkbox(False, description="only the selected rows",
                                                 indent=False)
        export = widgets.VBox([
            widgets.HTML("Columns: index, cluster, probability, outlier_score, x, y."),
            widgets.HBox([self.filename, self.save_csv, self.export_selection]),
            self.export_info,
        ])

        for name in ("space", "view", "min_cluster_size", "min_samples", "selection_method",
                     "epsilon", "refresh", "suggest", "apply_best", "cluster_list",
                     "show_cluster", "clear", "select_indices", "show_outliers", "colour",
                     "selection_count", "selection_info", "save_csv", "summary"):
            getattr(self, name).add_class(f"vaew-viewer-{name.replace('_', '-')}")
        for image in (self.tree_image, self.gallery, self.prototype,
                      self.outlier_gallery, self.traverse_image, self.interp_image):
            image.layout.display = "none"  # an empty Image shows a broken-image icon
            image.observe(_hide_when_empty, names="value")
        self.tabs = widgets.Tab(children=[map_tab, self.tree_image, outliers, traverse, export])
        for i, title in enumerate(["Map", "Condensed tree", "Outliers", "Traverse", "Export"]):
            self.tabs.set_title(i, title)
        controls = widgets.VBox([
            widgets.HBox([self.space, self.view, self.refresh]),
            widgets.HBox([self.min_cluster_size, self.min_samples]),
            widgets.HBox([self.selection_method, self.epsilon]),
            widgets.HBox([self.suggest, self.apply_best]),
            self.suggestions,
            self.watch_every,
        ])
        super().__init__([controls, self.summary, self.status, self.tabs])
        self.add_class("vaew-viewer")

    @traitlets.default("selection")
    def _no_selection(self) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)

    @traitlets.observe("n_selected")
    def _count_changed(self, change: dict) -> None:
        self.selection_count.value = _count_html(int(change["new"]))

    def show_status(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the status area (``level``: info, warning or error)."""
        import html

        colour = {"info": "#57606a", "warning": "#9a6700", "error": "#cf222e"}.get(level, "#57606a")
        self.status_text = text
        self.status.value = (
            f"<div class='vaew-status-{level}' style='color:{colour}'>{html.escape(text)}</div>"
            if text else ""
        )
