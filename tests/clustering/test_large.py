"""Subsampled HDBSCAN and the vectorized approximate_predict, against hdbscan's own."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from vaewidget.clustering.hdbscan_tools import fit_hdbscan
from vaewidget.clustering.large import (
    approximate_predict_batched,
    cluster_latent,
    scale_parameters,
)


@pytest.fixture(scope="module")
def blobs():
    z, y = make_blobs(4000, 5, centers=6, cluster_std=1.2, random_state=3)
    noise = np.random.default_rng(0).uniform(z.min(), z.max(), (200, 5))
    return np.vstack([z, noise]), np.concatenate([y, np.full(200, -1)])


@pytest.mark.parametrize("options", [
    {"min_cluster_size": 30},
    {"min_cluster_size": 15, "min_samples": 3, "cluster_selection_method": "leaf"},
    {"min_cluster_size": 40, "cluster_selection_epsilon": 1.0},
])
def test_fast_predict_equals_hdbscan(blobs, options):
    z, _ = blobs
    rng = np.random.default_rng(1)
    order = rng.permutation(len(z))
    clusterer = fit_hdbscan(z[order[:1500]], **options)
    new = np.vstack([z[order[1500:2500]], z[order[:100]]])  # unseen rows and fitted rows
    ref = approximate_predict_batched(clusterer, new, method="hdbscan", batch_size=333)
    fast = approximate_predict_batched(clusterer, new, method="fast", batch_size=333)
    np.testing.assert_array_equal(fast[0], ref[0])
    np.testing.assert_allclose(fast[1], ref[1], atol=1e-12)
    np.testing.assert_allclose(fast[2], ref[2], atol=1e-12)
    assert (fast[0] >= 0).mean() > 0.5


def test_subsample_labels_everything(blobs):
    z, y = blobs
    full = cluster_latent(z, min_cluster_size=100, min_samples=10, max_fit=None)
    sub = cluster_latent(z, min_cluster_size=100, min_samples=10, max_fit=1000, random_state=0)
    assert not full.subsampled and sub.subsampled
    assert len(sub.fit_index) == 1000 and len(sub.labels) == len(z)
    assert sub.fit_params["min_cluster_size"] == scale_parameters(100, 10, len(z), 1000)[0]
    np.testing.assert_array_equal(sub.labels[sub.fit_index], sub.clusterer.labels_)
    assert np.isfinite(sub.probabilities).all() and np.isfinite(sub.outlier_scores).all()
    assert sub.n_clusters == full.n_clusters == 6
    clustered = (y >= 0) & (sub.labels >= 0)
    assert adjusted_rand_score(y[clustered], sub.labels[clustered]) > 0.95


def test_scale_parameters():
    assert scale_parameters(500, 50, 100_000, 20_000) == (100, 10)
    assert scale_parameters(500, 10, 100_000, 20_000) == (100, 5)  # the floor
    assert scale_parameters(5, None, 100, 100) == (5, None)
    assert scale_parameters(3, 1, 1_000_000, 10_000) == (2, 1)


def test_no_cluster_predicts_noise():
    z = np.random.default_rng(0).normal(size=(300, 2))
    res = cluster_latent(z, min_cluster_size=200, max_fit=250)
    assert res.n_clusters == 0 and (res.labels == -1).all()
    assert (res.probabilities == 0).all()


def test_bad_input():
    with pytest.raises(ValueError, match="Expected finite latent"):
        cluster_latent(np.array([[0.0, np.nan]] * 30))
    with pytest.raises(ValueError, match="Expected a 2-D latent"):
        cluster_latent(np.zeros(10))
    with pytest.raises(ValueError, match="max_fit"):
        cluster_latent(np.zeros((10, 2)), max_fit=1)
    clusterer = fit_hdbscan(np.random.default_rng(0).normal(size=(100, 3)), min_cluster_size=10)
    with pytest.raises(ValueError, match=r"Expected points of shape \(n, 3\)"):
        approximate_predict_batched(clusterer, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="method"):
        approximate_predict_batched(clusterer, np.zeros((4, 3)), method="slow")
