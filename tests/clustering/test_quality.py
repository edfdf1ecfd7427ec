"""Quality floors on digits, at a reduced budget: a change that breaks clustering fails here.

The targets themselves (issue 13's, listed in benchmarks/README.md) are measured by
``benchmarks/quality.py`` on the whole suite, not tested; these floors sit well below them.
"""

from __future__ import annotations

import pytest

from vaewidget.clustering import VAEClusterer, score_clustering
from vaewidget.datasets import load_digits


@pytest.fixture(scope="module")
def digits_scores():
    x, y = load_digits()
    # The defaults, with under half the default training (28 epochs on digits).
    est = VAEClusterer(epochs=12, random_state=0).fit(x)
    return est, score_clustering(y, est.labels_)


@pytest.mark.slow
def test_issue_2_floor_digits_clusters_beat_chance(digits_scores):
    _, scores = digits_scores
    assert scores["n_clusters"] >= 5
    assert scores["ari"] > 0.3


@pytest.mark.slow
def test_issue_7_regression_floor(digits_scores):
    est, scores = digits_scores
    assert scores["ari"] > 0.5, scores
    assert scores["coverage"] > 0.8, scores
    assert est.params_["projection"] == "umap" and est.params_["beta"] == 0.01
    # Pixel intensities: scaled as a whole to [0, 1], Bernoulli loss.
    assert est.model_.preparer.scaling_ == "minmax"
    assert est.model_.preparer.reconstruction_ == "bce"
