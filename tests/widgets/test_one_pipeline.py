"""One pipeline from the engine to the widgets: the estimator, the viewer and the panel agree."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from vaewidget import ClusterViewer, DataPreparer, VAEClusterer, VAEPanel
from vaewidget.clustering import _defaults


@pytest.fixture(scope="module")
def fitted(small_digits):
    x, _ = small_digits
    return VAEClusterer(epochs=5, random_state=0).fit(x), x


def test_viewer_of_a_fitted_estimator_shows_its_labels(fitted):
    est, x = fitted
    viewer = ClusterViewer(est, x)
    assert viewer.result is est.result_  # the engine's own result, not recomputed
    np.testing.assert_array_equal(viewer.labels_, est.labels_)
    assert viewer.hdbscan_params()["min_cluster_size"] == est.params_["min_cluster_size"]


def test_viewer_on_other_data_runs_the_same_pipeline(fitted):
    est, x = fitted
    part = x[:150].copy()
    viewer = ClusterViewer(est, part)
    assert viewer.result is not est.result_
    assert viewer.result.params["projection"] == est.params_["projection"]
    np.testing.assert_allclose(viewer.embedding_, est.transform(part), atol=1e-5)


def test_viewer_refuses_data_of_the_wrong_width(fitted):
    est, x = fitted
    with pytest.raises(ValueError, match=r"Expected rows of shape \(64,\).*Received"):
        ClusterViewer(est, x[:, :10])
    with pytest.raises(ValueError, match=r"Expected rows of shape"):
        ClusterViewer(est.model_, x[:, :10])


def test_panel_starts_from_the_estimators_resolved_settings(small_digits):
    x, _ = small_digits
    panel = VAEPanel(x)
    params = _defaults.resolve({}, x)
    model, train = panel.controls.model_options(), panel.controls.train_options()
    for key in ("latent_dim", "hidden_units", "beta", "kl_warmup_epochs"):
        assert model[key] == params[key], key
    for key in ("epochs", "batch_size", "learning_rate"):
        assert train[key] == params[key], key
    assert train["validation_split"] == 0.0
    assert params["scaling"] == "auto"  # the preparer's rule decides, for both doors
    est_prep = DataPreparer(params["scaling"]).fit(x)
    assert panel.model.preparer.scaling_ == est_prep.scaling_ == "minmax"
    panel.close()


@pytest.mark.slow
def test_panel_clusters_tab_shows_the_estimators_labels(fitted, small_digits):
    est, x = fitted
    _, y = small_digits
    panel = VAEPanel(x, labels=y, seed=0, epochs=5)
    trainer = panel.train()
    assert trainer is not None and trainer.wait(timeout=600), panel.status
    assert trainer.state == "finished"
    panel.tab.selected_index = 1
    deadline = time.monotonic() + 600
    while (panel.viewer is None or panel.viewer.result is None) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert panel.viewer is not None and panel.viewer.result is not None
    assert adjusted_rand_score(est.labels_, panel.viewer.labels_) >= 0.99
    panel.close()
