"""ClusterViewer: real small VAE on digit images, real HDBSCAN, widget state read back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaewidget.clustering.explore import cluster_prototypes
from vaewidget.widgets.viewer import ClusterViewer

N = 500


@pytest.fixture(scope="module")
def images(digits_images):
    x, y = digits_images
    return x[:N], y[:N]


@pytest.fixture(scope="module")
def image_vae(images):
    import keras

    from vaewidget.models import VAE

    x, _ = images
    keras.utils.set_random_seed(0)
    model = VAE.from_data(x, latent_dim=3, hidden_units=(32,), beta=0.5, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(model.prepare(x), epochs=12, batch_size=50, verbose=0)
    return model


@pytest.fixture
def viewer(image_vae, images):
    x, y = images
    return ClusterViewer(image_vae, x, y, space="latent", min_cluster_size=10, min_samples=5)


def test_builds_and_clusters(viewer):
    w = viewer.widget
    assert viewer.n_clusters_ >= 2, viewer.status
    assert w.n_clusters == viewer.n_clusters_
    assert f"{viewer.n_clusters_} clusters" in w.summary.value
    assert "ARI" in w.summary.value and "NMI" in w.summary.value
    assert len(viewer.labels_) == N and viewer.embedding_.shape == (N, 3)
    assert len(w.cluster_list.options) == viewer.n_clusters_
    # The map: one jupyter-scatter widget holding every point, in the tree.
    scatter = viewer.map.widget
    assert scatter is not None and viewer.map.box.children == (scatter,)
    assert scatter.points.shape[0] == N
    legend = scatter.legend_encoding["color"]
    assert any("noise" in str(v) or "cluster 0" in str(v) for v in legend.values()), legend
    assert set(scatter.tooltip_properties) >= {"row", "cluster", "probability"}
    assert scatter.regl_scatterplot_options["actionKeyMap"]["merge"] == "shift"  # shift-click
    assert scatter.tooltip_preview == "preview" and scatter.tooltip_preview_type == "image"
    bundle = viewer._repr_mimebundle_()  # the widget, and a PNG where widgets do not run
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    assert bundle["image/png"].startswith("iVBORw0KGgo")  # base64 of a PNG


def test_control_change_reclusters(viewer):
    w = viewer.widget
    scatter = viewer.map.widget
    before_labels, before_colours = viewer.labels_, scatter.points[:, 2].copy()
    counts = {viewer.n_clusters_}
    for mcs in (30, 60, 120):
        w.min_cluster_size.value = mcs
        counts.add(viewer.n_clusters_)
        assert viewer.clusterer_.min_cluster_size == mcs
    assert len(counts) >= 2, counts
    assert not np.array_equal(before_labels, viewer.labels_)
    assert viewer.map.widget is scatter  # recoloured in place
    assert not np.array_equal(scatter.points[:, 2], before_colours)
    # Same places, new colours: no transition, and the browser may keep its spatial index.
    assert not scatter.transition_points and scatter.non_spatial_points_update
    w.selection_method.value = "leaf"
    assert viewer.clusterer_.cluster_selection_method == "leaf"
    w.epsilon.value = w.epsilon.max / 2
    assert viewer.clusterer_.cluster_selection_epsilon == pytest.approx(w.epsilon.value)


def test_select_cluster_shows_gallery_prototype_exemplars(viewer, images):
    w = viewer.widget
    c = w.cluster_list.options[0][1]
    w.cluster_list.value = c
    w.show_cluster.click()
    members = np.flatnonzero(viewer.labels_ == c)
    assert set(viewer.selection_) == set(members)
    assert set(viewer.gallery_rows_) <= set(members) and len(viewer.gallery_rows_) >= 1
    probs = viewer.probabilities_[viewer.gallery_rows_]
    assert np.all(np.diff(probs) <= 1e-12)  # the most typical members first
    assert w.gallery.value[:4] == b"\x89PNG"
    assert f"Cluster {c}" in w.cluster_info.value and "prototype" in w.cluster_info.value
    assert w.prototype.value[:4] == b"\x89PNG"
    # A different selection draws a different gallery.
    first = w.gallery.value
    w.indices.value = "0, 3-5"
    w.select_indices.click()
    assert list(viewer.gallery_rows_) == [0, 3, 4, 5]
    assert w.gallery.value != first


def test_selection_both_ways(viewer):
    w, scatter = viewer.widget, viewer.map.widget
    seen = []
    viewer.on_select(seen.append)
    # The browser's lasso sets the scatter widget's selection trait (uint32 rows).
    lasso = np.array([7, 3, 42, 99], dtype=np.uint32)
    scatter.selection = lasso
    assert list(viewer.selection) == [3, 7, 42, 99] and w.n_selected == 4
    assert "4 points selected" in w.selection_count.value
    assert list(viewer.gallery_rows_) == [3, 7, 42, 99]
    assert "#3, #7, #42, #99" in w.selection_info.value
    assert w.gallery.value[:4] == b"\x89PNG" and w.prototype.value[:4] == b"\x89PNG"
    assert "prototype" in w.cluster_info.value
    assert [list(r) for r in seen] == [[3, 7, 42, 99]]
    # Python -> map: the scatter shows what the viewer selected.
    viewer.select([5, 6])
    assert list(scatter.selection) == [5, 6] and "2 points selected" in w.selection_count.value
    c = w.cluster_list.options[0][1]
    w.cluster_list.value = c
    members = np.flatnonzero(viewer.labels_ == c)
    assert set(scatter.selection) == set(members) == set(viewer.selection)
    assert f"{len(members):,} points selected" in w.selection_count.value
    # A click on an empty spot (or a double-click) clears it, everywhere.
    scatter.selection = np.array([], dtype=np.uint32)
    assert len(viewer.selection) == 0 and w.n_selected == 0 and w.gallery.value == b""
    assert "No points selected" in w.selection_count.value and w.cluster_list.value is None
    assert len(seen) == 4 and len(seen[-1]) == 0
    viewer.on_select(seen.append, remove=True)
    viewer.select([1])
    assert len(seen) == 4


def test_on_select_errors_go_to_the_status(viewer):
    def broken(rows):
        raise RuntimeError("boom")

    viewer.on_select(broken)
    viewer.select([1, 2])
    assert "on_select callback broken failed" in viewer.status and len(viewer.selection) == 2
    with pytest.raises(ValueError, match="Expected a callable"):
        viewer.on_select("not a function")


def test_prototypes_decode_to_input_shape(viewer, image_vae, images):
    protos = cluster_prototypes(image_vae, viewer.embedding_, viewer.labels_)
    assert sorted(protos) == list(range(viewer.n_clusters_))
    for p in protos.values():
        assert p.shape == images[0].shape[1:] and np.isfinite(p).all()


def test_export_columns_and_csv(viewer, tmp_path):
    df = viewer.to_dataframe()
    assert list(df.columns) == ["index", "cluster", "probability", "outlier_score", "x", "y"]
    assert len(df) == N
    np.testing.assert_array_equal(df["cluster"], viewer.labels_)
    np.testing.assert_allclose(df[["x", "y"]], viewer.coords_)
    viewer.select([9, 4])
    assert list(viewer.to_dataframe(selected_only=True)["index"]) == [9, 4]
    w = viewer.widget
    viewer.files_root = tmp_path.resolve()  # typed names resolve there (files_root)
    w.export_selection.value = True
    w.filename.value = "picked.csv"
    w.save_csv.click()
    assert list(pd.read_csv(tmp_path / "picked.csv")["index"]) == [9, 4]
    w.export_selection.value = False
    w.filename.value = "out.csv"
    w.save_csv.click()
    back = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_array_equal(back["cluster"], viewer.labels_)
    assert "download" in w.export_info.value and "Saved 500 rows" in viewer.status


def test_suggest_without_labels(image_vae, images):
    x, y = images
    blind = ClusterViewer(image_vae, x, space="latent")
    w = blind.widget
    assert "label" not in [v for _, v in w.colour.options] and "ARI" not in w.summary.value
    w.suggest.click()
    ranking = blind._suggested
    assert ranking and not w.apply_best.disabled, blind.status
    assert ranking[0]["n_clusters"] >= 2
    w.apply_best.click()
    best = ranking[0]
    assert w.min_cluster_size.value == best["min_cluster_size"]
    assert w.selection_method.value == best["cluster_selection_method"]
    assert blind.clusterer_.cluster_selection_method == best["cluster_selection_method"]
    # Labels never steer the choice: the same sweep with (shuffled) labels present.
    labelled = ClusterViewer(image_vae, x, np.random.default_rng(0).permutation(y),
                             space="latent")
    assert labelled.suggest() == ranking


def test_outliers_traversal_interpolation(viewer, images):
    w = viewer.widget
    w.outlier_count.value = 6
    w.show_outliers.click()
    assert w.outlier_gallery.value[:4] == b"\x89PNG", viewer.status
    rows = viewer.show_outliers()
    combined = viewer.outlier_table(w.outlier_weight.value)
    assert len(rows) == 6 and combined[rows[0]] == combined.max()
    w.anchor.value = w.anchor.options[0][1]
    w.traverse_dim.value = 1
    frames = viewer.show_traversal()
    assert frames.shape == (9, *images[0].shape[1:])
    assert not np.allclose(frames[0], frames[-1])
    w.dims.children[0].value = 1.0  # a slider redraws
    assert w.traverse_image.value[:4] == b"\x89PNG"
    w.interp_a.value, w.interp_b.value, w.interp_steps.value = 0, 7, 5
    w.interpolate.click()
    assert w.interp_image.value[:4] == b"\x89PNG"
    assert viewer.interpolate_rows(0, 7, 5).shape == (5, 8, 8)


def test_condensed_tree_tab(viewer):
    w = viewer.widget
    assert w.tree_image.value == b""  # drawn lazily
    w.tabs.selected_index = 1
    assert w.tree_image.value[:4] == b"\x89PNG", viewer.status


def test_colour_switch(viewer):
    w, scatter = viewer.widget, viewer.map.widget
    assert [v for _, v in w.colour.options] == ["cluster", "label", "outlier", "error"]
    before = scatter.points[:, 2].copy()
    w.colour.value = "label"
    assert scatter.color_title == "true label" and viewer.map.widget is scatter
    assert not np.array_equal(scatter.points[:, 2], before)
    assert "true label" in scatter.tooltip_properties
    w.colour.value = "outlier"
    assert scatter.color_title == "outlier score"
    w.colour.value = "error"  # computed on request
    assert scatter.color_title == "reconstruction error" and viewer._recon_error is not None
    w.min_cluster_size.value = 30  # a new clustering keeps the colouring
    assert scatter.color_title == "reconstruction error"
    w.colour.value = "cluster"
    assert scatter.color_title == "cluster"


def test_html_without_widget_state_shows_the_png(viewer):
    """A notebook rendered to HTML where widgets do not run: nbconvert falls back to the PNG."""
    import nbformat
    from nbconvert import HTMLExporter

    bundle = viewer._repr_mimebundle_()
    cell = nbformat.v4.new_code_cell("viewer")
    cell.outputs = [nbformat.v4.new_output("execute_result", data=bundle, execution_count=1)]
    nb = nbformat.v4.new_notebook(cells=[cell])
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert f"data:image/png;base64,{bundle['image/png'][:60]}" in html


def test_static_png(viewer):
    png = viewer.to_png()
    assert png[:4] == b"\x89PNG"
    viewer.select([0, 1, 2])
    assert viewer.to_png() != png  # the selection is outlined
    assert viewer.to_png("label")[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="Expected colour"):
        viewer.to_png("outlier")


def test_subsample_mode(image_vae, images):
    x, _ = images
    v = ClusterViewer(image_vae, x, space="latent", max_fit=200, min_cluster_size=20)
    assert len(v.clusterer_.labels_) == 200 and len(v.labels_) == N
    assert "sampled rows" in v.widget.summary.value
    assert np.isfinite(v.outlier_scores_).all()


# ----------------------------------------------------------------- bad input
def _level(viewer) -> str:
    value = viewer.widget.status.value
    return next(lvl for lvl in ("error", "warning", "info") if f"vaew-status-{lvl}" in value)


def test_selecting_nothing_says_so(viewer):
    w = viewer.widget
    w.cluster_list.value = None
    w.show_cluster.click()
    assert "nothing selected" in viewer.status and _level(viewer) == "error"
    w.indices.value = ""
    w.select_indices.click()
    assert "Expected row numbers" in viewer.status
    w.indices.value = "3, x"
    w.select_indices.click()
    assert "'x'" in viewer.status
    w.indices.value = "99999"
    w.select_indices.click()
    assert "0..499" in viewer.status
    with pytest.raises(ValueError, match="0..499"):
        viewer.select([3, 500])
    assert viewer.n_clusters_ >= 2  # nothing lost


def test_vanished_cluster(viewer):
    w = viewer.widget
    last = viewer.n_clusters_ - 1
    w.cluster_list.value = last
    w.show_cluster.click()
    assert len(viewer.selection_)
    for mcs in range(40, 260, 20):
        w.min_cluster_size.value = mcs
        if viewer.n_clusters_ <= last:
            break
    assert viewer.n_clusters_ <= last
    assert f"Cluster {last} vanished" in viewer.status and _level(viewer) == "warning"
    assert len(viewer.selection_) == 0


def test_all_noise(viewer):
    w = viewer.widget
    w.min_cluster_size.value = 400
    assert viewer.n_clusters_ == 0
    assert "All points are noise" in viewer.status and _level(viewer) == "warning"
    assert w.cluster_list.options == ()
    w.tabs.selected_index = 1  # the tree tab copes too
    assert w.tree_image.value[:4] == b"\x89PNG"
    w.outlier_count.value = 3
    w.show_outliers.click()  # still works on all-noise


def test_single_cluster_says_so(viewer):
    # HDBSCAN's default never selects the root, so a single cluster needs
    # allow_single_cluster=True (a VAEClusterer or a user may pass such a fit): one real
    # HDBSCAN fit on one blob, shown by the viewer.
    from dataclasses import replace

    import hdbscan

    from vaewidget.clustering.pipeline import plausibility_notes

    rng = np.random.default_rng(0)
    space = rng.normal(size=(N, 3))
    fit = hdbscan.HDBSCAN(min_cluster_size=50, allow_single_cluster=True,
                          prediction_data=True).fit(space)
    assert fit.labels_.max() == 0
    one = replace(viewer.result, labels=fit.labels_, probabilities=fit.probabilities_,
                  outlier_scores=fit.outlier_scores_, clusterer=fit, space=space,
                  fit_index=np.arange(N))
    viewer.result = replace(one, notes=plausibility_notes(one))
    viewer._after_cluster()
    assert "single cluster" in viewer.status and _level(viewer) == "warning"
    assert len(viewer.widget.cluster_list.options) == 1
    viewer.widget.cluster_list.value = 0
    viewer.widget.show_cluster.click()
    assert len(viewer.selection_) == int((fit.labels_ == 0).sum())


def test_diverged_model_nan_latent(make_vae, images):
    x, y = images
    model = make_vae(x, latent_dim=3)
    for v in model.encoder.weights:
        v.assign(np.full(v.shape, np.nan, dtype="float32"))
    viewer = ClusterViewer(model, x, y, space="latent")  # no exception
    assert "diverged" in viewer.status and _level(viewer) == "error"
    assert viewer.n_clusters_ == 0 and (viewer.labels_ == -1).all()
    viewer.widget.min_cluster_size.value = 20
    assert "diverged" in viewer.status
    viewer.widget.suggest.click()
    assert "Expected finite latent codes" in viewer.status
    viewer.widget.show_outliers.click()
    assert "Expected a clustering first" in viewer.status


def test_labels_of_wrong_length(image_vae, images):
    x, y = images
    viewer = ClusterViewer(image_vae, x, y[:10], space="latent")
    assert "Received: 10 labels" in viewer.status and _level(viewer) == "warning"
    assert viewer.labels_true is None
    assert "label" not in [v for _, v in viewer.widget.colour.options]
    assert viewer.n_clusters_ >= 1


def test_constructor_rejects_nonsense(image_vae, images):
    with pytest.raises(ValueError, match="Expected a trained"):
        ClusterViewer("model", images[0])
    with pytest.raises(ValueError, match="Expected options"):
        ClusterViewer(image_vae, images[0], min_cluster_sise=5)


@pytest.mark.slow
def test_attach_reclusters_during_training(make_vae, images):
    from vaewidget.training import Trainer

    x, _ = images
    model = make_vae(x, latent_dim=3)
    viewer = ClusterViewer(model, x, space="latent", min_cluster_size=15)
    first = viewer.embedding_.copy()
    trainer = Trainer(model, x, epochs=4, batch_size=100, validation_split=0.0)
    viewer.attach(trainer, every=2)
    assert not viewer.widget.watch_every.disabled and viewer.widget.watch_every.value == 2
    trainer.start()
    assert trainer.wait(timeout=300)
    deadline = __import__("time").time() + 60
    while viewer.updates_ < 2 and __import__("time").time() < deadline:
        __import__("time").sleep(0.2)
    assert viewer.updates_ >= 2  # epochs 2 and 4 (and the final state) merged or not
    assert not np.allclose(first, viewer.embedding_)
    viewer.detach()
    assert viewer.widget.watch_every.disabled


def test_accepts_a_fitted_vaeclusterer(images):
    from vaewidget.clustering.estimator import VAEClusterer

    x, _ = images
    est = VAEClusterer(latent_dim=3, hidden_units=(32,), epochs=2, members=3, projection=None,
                       min_cluster_size=12, min_samples=4, random_state=0).fit(x[:300])
    viewer = ClusterViewer(est, x[:300])
    assert viewer.model is est.model_
    assert viewer.widget.space.value == "latent"
    assert viewer.hdbscan_params()["min_cluster_size"] == 12
    assert viewer.hdbscan_params()["min_samples"] == 4
    np.testing.assert_allclose(viewer.embedding_, est.embedding_, atol=1e-5)
    np.testing.assert_array_equal(viewer.labels_, est.labels_)  # same data, same HDBSCAN


@pytest.mark.slow
def test_live_map_moves_points_in_place(make_vae, images):
    """While a Trainer runs, each re-clustering moves the same widget's points (no new widget)."""
    import time

    from ipywidgets.widgets.widget import _instances as live_widgets

    from vaewidget.training import Trainer

    x, _ = images
    model = make_vae(x, latent_dim=3)  # untrained: the codes move a lot in the first epochs
    viewer = ClusterViewer(model, x, space="latent", view="pca", min_cluster_size=15)
    scatter = viewer.map.widget
    widgets_before = len(live_widgets)
    trainer = Trainer(model, x, epochs=6, batch_size=100, validation_split=0.0)
    viewer.attach(trainer, every=1, min_interval=0.3)
    snapshots, seen = [], viewer.updates_
    trainer.start()
    deadline = time.monotonic() + 300
    while len(snapshots) < 2 and time.monotonic() < deadline:
        if viewer.updates_ != seen:  # one re-clustering has been shown
            seen = viewer.updates_
            snapshots.append((viewer.map.widget, scatter.points[:, :2].copy(),
                              scatter.transition_points))
        time.sleep(0.02)
    assert trainer.wait(timeout=300)
    viewer.detach()
    assert len(snapshots) >= 2, viewer.status
    (first_widget, first, _), (second_widget, second, animated) = snapshots[:2]
    assert first_widget is scatter and second_widget is scatter
    assert not np.allclose(first, second)  # the points moved
    assert animated  # ... with the widget's animated transition
    assert viewer.map.updates >= 2 and viewer.map.box.children == (scatter,)
    assert len(live_widgets) == widgets_before  # nothing new was made on the page


def test_a_weighted_fit_keeps_its_weights_when_the_space_changes(images):
    from vaewidget.clustering.estimator import VAEClusterer

    x, _ = images
    est = VAEClusterer(latent_dim=3, hidden_units=(32,), epochs=2, members=3, projection=None,
                       latent_scaling="posterior", random_state=0).fit(x[:300])
    viewer = ClusterViewer(est, x[:300])
    np.testing.assert_array_equal(viewer.labels_, est.labels_)
    viewer.widget.space.value = "pca"  # re-projects the same codes, weighed as fitted
    assert viewer.result.params["projection"] == "pca"
    np.testing.assert_array_equal(viewer.result.scale, est.result_.scale)
    np.testing.assert_allclose(viewer.result.weighted, est.embedding_ / est.result_.scale,
                               rtol=1e-6)
