"""The shared HDBSCAN / projection helpers and the clustering scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from vaewidget.clustering import fit_hdbscan, make_projector, project_2d, score_clustering


@pytest.fixture(scope="module")
def blobs():
    x, y = make_blobs(300, n_features=5, centers=3, cluster_std=0.5, random_state=0)
    return x.astype(np.float32), y


def test_fit_hdbscan_finds_blobs_and_keeps_prediction_data(blobs):
    import hdbscan

    x, y = blobs
    fitted = fit_hdbscan(x, min_cluster_size=20, min_samples=5)
    scores = score_clustering(y, fitted.labels_)
    assert scores["n_clusters"] == 3 and scores["ari"] > 0.95
    labels, strengths = hdbscan.approximate_predict(fitted, x[:10])
    np.testing.assert_array_equal(labels, fitted.labels_[:10])


@pytest.mark.parametrize(
    "z, kwargs, fragment",
    [
        (np.zeros(5), {}, "2-D latent"),
        (np.full((30, 2), np.nan), {}, "finite"),
        (np.zeros((30, 2)), {"min_cluster_size": 1}, "min_cluster_size >= 2"),
        (np.zeros((30, 2)), {"min_samples": 0}, "min_samples >= 1"),
        (np.zeros((30, 2)), {"cluster_selection_method": "best"}, "cluster_selection_method"),
        (np.zeros((10, 2)), {"min_cluster_size": 15}, "more rows than min_cluster_size"),
    ],
)
def test_fit_hdbscan_bad_input(z, kwargs, fragment):
    with pytest.raises(ValueError, match="Expected") as info:
        fit_hdbscan(z, **kwargs)
    assert fragment in str(info.value) and "Received" in str(info.value)


def test_make_projector_kinds():
    pca = make_projector("pca", 2, random_state=0)
    assert type(pca).__name__ == "PCA"
    seeded = make_projector("umap", 2, random_state=0, n_neighbors=12)
    assert seeded.n_neighbors == 12 and seeded.min_dist == 0.0 and seeded.n_jobs == 1
    assert make_projector("umap").n_jobs == -1
    with pytest.raises(ValueError, match="Expected projection in"):
        make_projector("tsne")


def test_project_2d(blobs):
    x, _ = blobs
    np.testing.assert_array_equal(project_2d(x[:, :2]), x[:, :2])
    assert project_2d(x[:, :1]).shape == (300, 2)
    assert project_2d(x).shape == (300, 2)


def test_score_clustering_counts_noise_as_its_own_label():
    y = np.array([0, 0, 1, 1, 2, 2])
    perfect = score_clustering(y, y)
    assert perfect["ari"] == 1.0 and perfect["coverage"] == 1.0 and perfect["n_clusters"] == 3
    # noise that covers a whole class is one more label, hence a perfect partition
    assert score_clustering(y, [0, 0, 1, 1, -1, -1])["ari"] == 1.0
    noisy = score_clustering(y, [0, 0, 1, -1, 2, -1])
    assert noisy["coverage"] == pytest.approx(4 / 6)
    assert noisy["ari_clustered"] == 1.0 and noisy["ari"] < 1.0 and noisy["n_clusters"] == 3
    assert np.isnan(score_clustering(y, [-1] * 6)["ari_clustered"])
    with pytest.raises(ValueError, match="Expected labels of the same length"):
        score_clustering(y, y[:3])
