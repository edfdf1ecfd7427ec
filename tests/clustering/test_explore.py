"""Parameter suggestion, summaries, exemplars, outlier ranking and traversal, without widgets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.datasets import make_blobs

from vaewidget.clustering.explore import (
    cluster_prototypes,
    cluster_summary,
    exemplar_indices,
    latent_means,
    latent_traversal,
    outlier_ranking,
    suggest_parameters,
    top_outliers,
)
from vaewidget.clustering.hdbscan_tools import fit_hdbscan


@pytest.fixture(scope="module")
def blobs():
    z, y = make_blobs(1500, 4, centers=5, cluster_std=0.8, random_state=7)
    return z, y


@pytest.mark.parametrize("score", ["dbcv", "persistence"])
def test_suggest_finds_the_blobs_without_labels(blobs, score):
    z, _ = blobs
    ranking = suggest_parameters(z, score=score, max_points=800)
    assert ranking == sorted(ranking, key=lambda r: (r["score"], r["coverage"]), reverse=True)
    best = ranking[0]
    assert set(best) == {"min_cluster_size", "min_samples", "cluster_selection_method",
                         "score", "n_clusters", "coverage"}
    assert np.isfinite(best["score"]) and best["n_clusters"] == 5
    # Sizes are in full-data units: the defaults are shares of the 1500 rows.
    assert {r["min_cluster_size"] for r in ranking} == {8, 15, 30, 75}


def test_suggest_single_blob_scores_minus_inf():
    z = np.random.default_rng(0).normal(size=(400, 3))
    ranking = suggest_parameters(z, min_cluster_sizes=[150], min_samples=[None],
                                 methods=["eom"])
    assert ranking[0]["n_clusters"] < 2 and ranking[0]["score"] == -np.inf


def test_suggest_bad_input(blobs):
    with pytest.raises(ValueError, match="score"):
        suggest_parameters(blobs[0], score="ari")
    with pytest.raises(ValueError, match="finite"):
        suggest_parameters(np.full((50, 2), np.nan))
    with pytest.raises(ValueError, match="candidate sizes"):
        suggest_parameters(blobs[0][:20], min_cluster_sizes=[1000])


def test_summary_and_exemplars(blobs):
    z, _ = blobs
    fit = fit_hdbscan(z, min_cluster_size=30)
    summary = cluster_summary(fit.labels_, fit.probabilities_, z, fit.cluster_persistence_)
    assert [s["cluster"] for s in summary] == list(range(fit.labels_.max() + 1))
    for s in summary:
        members = fit.labels_ == s["cluster"]
        assert s["size"] == members.sum()
        assert s["mean_probability"] == pytest.approx(fit.probabilities_[members].mean())
        np.testing.assert_allclose(s["centroid"], z[members].mean(axis=0))
        rows = exemplar_indices(fit, z, s["cluster"], k=4)
        assert 1 <= len(rows) <= 4 and (fit.labels_[rows] == s["cluster"]).all()
    with pytest.raises(ValueError, match="Expected a cluster"):
        exemplar_indices(fit, z, 99)


def test_outlier_ranking_is_documented_rank_mix():
    glosh = np.array([0.1, 0.9, 0.5, 0.2])
    err = np.array([3.0, 1.0, 2.0, 10.0])
    combined = outlier_ranking(glosh, err, weight=0.5)
    expected = 0.5 * (rankdata(glosh) - 1) / 3 + 0.5 * (rankdata(err) - 1) / 3
    np.testing.assert_allclose(combined, expected)
    np.testing.assert_allclose(outlier_ranking(glosh, err, 1.0), (rankdata(glosh) - 1) / 3)
    assert list(top_outliers(outlier_ranking(glosh, err, 0.0), 2)) == [3, 0]
    assert len(top_outliers(combined, 10)) == 4
    with pytest.raises(ValueError, match="one outlier score and one reconstruction error"):
        outlier_ranking(glosh, err[:2])
    with pytest.raises(ValueError, match="weight"):
        outlier_ranking(glosh, err, 2.0)


def test_model_parts(trained_vae, small_digits):
    x, _ = small_digits
    z = latent_means(trained_vae, x)
    assert z.shape == (len(x), trained_vae.latent_dim)
    labels = np.where(z[:, 0] > np.median(z[:, 0]), 1, 0)
    labels[:5] = -1
    protos = cluster_prototypes(trained_vae, z, labels)
    assert sorted(protos) == [0, 1] and protos[0].shape == x.shape[1:]
    frames = latent_traversal(trained_vae, z[0], 1, np.linspace(-2, 2, 5))
    assert frames.shape == (5, *x.shape[1:])
    with pytest.raises(ValueError, match="dim"):
        latent_traversal(trained_vae, z[0], 9, [0.0])


def test_latent_means_rejects_nan(make_vae, small_digits):
    x, _ = small_digits
    model = make_vae(x)
    for v in model.encoder.weights:
        v.assign(np.full(v.shape, np.nan, dtype="float32"))
    with pytest.raises(ValueError, match="diverged"):
        latent_means(model, x)
