"""The in-memory doors (VAEClusterer, ClusterViewer, VAEPanel) take every kind of source.

A source that fits in memory is read whole and goes the array's way, so the labels are
exactly those of the same rows given as an array; one above the limit gets a clear error
that names the streaming route, and nothing fitted changes.
"""

from __future__ import annotations

import numpy as np
import pytest

import vaewidget._validation as validation
from vaewidget import ClusterViewer, VAEClusterer, VAEPanel

#: members=3: the doors, not the ensemble's size, are tested here ("auto" would train nine).
TINY = {"latent_dim": 2, "hidden_units": (16,), "epochs": 3, "members": 3, "random_state": 0}


@pytest.fixture(scope="module")
def files(tmp_path_factory, formats, table):
    return formats(table, tmp_path_factory.mktemp("doors"))


@pytest.fixture(scope="module")
def fitted(table):
    return VAEClusterer(**TINY).fit(table)


@pytest.mark.parametrize("kind", ["npy", "zarr", "parquet", "dask"])
def test_estimator_fit_transform_predict_on_each_source(files, fitted, table, kind):
    est = VAEClusterer(**TINY).fit(files[kind])
    np.testing.assert_array_equal(est.labels_, fitted.labels_)
    np.testing.assert_allclose(est.transform(files[kind]), fitted.transform(table), atol=1e-5)
    np.testing.assert_array_equal(fitted.predict(files[kind]), fitted.predict(table))


def test_viewer_and_panel_take_a_path(files, fitted, table):
    viewer = ClusterViewer(fitted, files["npy"])
    try:
        np.testing.assert_array_equal(viewer.labels_, fitted.labels_)
    finally:
        viewer.close()
    panel = VAEPanel(files["zarr"])
    try:
        assert panel.x.shape == table.shape
    finally:
        panel.close()


def test_a_source_above_the_limit_names_the_streaming_route(files, fitted, monkeypatch):
    labels = fitted.labels_.copy()
    monkeypatch.setattr(validation, "IN_MEMORY_LIMIT_BYTES", 1000)
    with pytest.raises(ValueError, match="Expected `X` to fit in memory.*Received: a source"
                       ) as info:
        fitted.fit(files["npy"])
    assert "cluster_source" in str(info.value)
    np.testing.assert_array_equal(fitted.labels_, labels)
    with pytest.raises(ValueError, match="Expected an existing .npy file"):
        VAEClusterer(**TINY).fit("no/such/file.npy")
