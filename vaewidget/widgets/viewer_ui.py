"""The cluster viewer's widget tree: controls, tabs and the status area, and no logic.

:class:`ClusterViewerWidget` only holds widget state; :class:`~vaewidget.ClusterViewer`
(viewer.py) computes and wires the callbacks. Everything here is plain ipywidgets, so
it renders the same in JupyterLab, Notebook 7, Voila and Colab.
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

_WIDE = {"width": "340px"}  # a dict: each widget gets its own Layout (closed with it)
_STYLE = {"description_width": "150px"}


def _button(text: str, tooltip: str = "", style: str = "", width: str = "150px") -> widgets.Button:
    return widgets.Button(description=text, tooltip=tooltip or text, button_style=style,
                          layout=widgets.Layout(width=width))


def _hide_when_empty(change: dict) -> None:
    change["owner"].layout.display = None if change["new"] else "none"


class ClusterViewerWidget(widgets.VBox):
    """The root widget of a :class:`~vaewidget.ClusterViewer`.

    Its children are public attributes (``min_cluster_size``, ``cluster_list``,
    ``gallery`` ...) that tests and the friendly API read and set.
    """

    n_clusters = traitlets.Int(0, help="Clusters currently shown, noise excluded.")
    status_text = traitlets.Unicode("", help="The last message shown in the status area.")

    def __init__(self, *, n_rows: int, has_labels: bool, mcs_max: int) -> None:
        slider = dict(continuous_update=False, style=_STYLE, layout=_WIDE)
        self.space = widgets.Dropdown(options=[("latent", "latent"), ("UMAP of latent", "umap")],
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
        self.colour_by_label = widgets.Checkbox(False, description="colour by true label",
                                                disabled=not has_labels, indent=False)
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
        self.map_image = widgets.Image(format="png")
        self.map_image.add_class("vaew-viewer-map")
        self.tree_image = widgets.Image(format="png")

        # Pick
        self.cluster_list = widgets.Select(options=[], description="cluster", rows=8,
                                           style={"description_width": "60px"},
                                           layout=widgets.Layout(width="260px"))
        self.show_cluster = _button("Show cluster", style="primary")
        ranges = dict(min=0.0, max=1.0, step=0.01, continuous_update=False, readout_format=".3g",
                      style={"description_width": "60px"}, layout=widgets.Layout(width="380px"))
        self.x_range = widgets.FloatRangeSlider(value=(0.0, 1.0), description="map x", **ranges)
        self.y_range = widgets.FloatRangeSlider(value=(0.0, 1.0), description="map y", **ranges)
        self.select_rect = _button("Select rectangle")
        self.indices = widgets.Text("", placeholder="e.g. 3, 17, 42-50",
                                    description="row numbers", style=_STYLE, layout=_WIDE)
        self.select_indices = _button("Select rows")
        self.selection_info = widgets.HTML("")
        self.gallery = widgets.Image(format="png")
        self.gallery.add_class("vaew-viewer-gallery")
        self.cluster_info = widgets.HTML("")
        self.prototype = widgets.Image(format="png")
        pick = widgets.VBox([
            widgets.HBox([
                widgets.VBox([self.cluster_list, self.show_cluster]),
                widgets.VBox([self.x_range, self.y_range, self.select_rect,
                              widgets.HBox([self.indices, self.select_indices])]),
            ]),
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
        export = widgets.VBox([
            widgets.HTML("Columns: index, cluster, probability, outlier_score, x, y."),
            widgets.HBox([self.filename, self.save_csv]), self.export_info,
        ])

        for name in ("space", "view", "min_cluster_size", "min_samples", "selection_method",
                     "epsilon", "refresh", "suggest", "apply_best", "cluster_list",
                     "show_cluster", "select_rect", "select_indices", "show_outliers",
                     "save_csv", "summary"):
            getattr(self, name).add_class(f"vaew-viewer-{name.replace('_', '-')}")
        for image in (self.map_image, self.tree_image, self.gallery, self.prototype,
                      self.outlier_gallery, self.traverse_image, self.interp_image):
            image.layout.display = "none"  # an empty Image shows a broken-image icon
            image.observe(_hide_when_empty, names="value")
        self.tabs = widgets.Tab(children=[
            self.map_image, self.tree_image, pick, outliers, traverse, export,
        ])
        for i, title in enumerate(["Map", "Condensed tree", "Pick", "Outliers", "Traverse",
                                   "Export"]):
            self.tabs.set_title(i, title)
        controls = widgets.VBox([
            widgets.HBox([self.space, self.view, self.refresh]),
            widgets.HBox([self.min_cluster_size, self.min_samples]),
            widgets.HBox([self.selection_method, self.epsilon]),
            widgets.HBox([self.suggest, self.apply_best, self.colour_by_label]),
            self.suggestions,
            self.watch_every,
        ])
        super().__init__([controls, self.summary, self.status, self.tabs])
        self.add_class("vaew-viewer")

    def show_status(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the status area (``level``: info, warning or error)."""
        import html

        colour = {"info": "#57606a", "warning": "#9a6700", "error": "#cf222e"}.get(level, "#57606a")
        self.status_text = text
        self.status.value = (
            f"<div class='vaew-status-{level}' style='color:{colour}'>{html.escape(text)}</div>"
            if text else ""
        )
