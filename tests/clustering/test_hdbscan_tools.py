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


def test_count_distinct_rows():
    from vaewidget.clustering.hdbscan_tools import count_distinct_rows

    z = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert count_distinct_rows(z) == 6
    assert count_distinct_rows(np.vstack([z, z[:2], z[:1]])) == 6
    assert count_distinct_rows(np.zeros((5, 3))) == 1
    assert count_distinct_rows(np.zeros((0, 3))) == 0


def test_fit_projector_embeds_repeated_rows_once(blobs):
    """Stacks of identical codes get one place each, and the map stays row-aligned; data
    without repeats is projected exactly as UMAP projects it."""
    import umap

    from vaewidget.clustering.hdbscan_tools import fit_projector, place_rows

    x, _ = blobs
    projector, space = fit_projector(make_projector("umap", 2, 0, n_neighbors=15), x)
    assert projector.unique is False
    # handed umap-learn's own neighbours, found faster: the same map, bit for bit
    assert projector.precomputed_knn[0].shape == (len(x), 15)
    plain = umap.UMAP(n_neighbors=15, min_dist=0.0, random_state=0, n_jobs=1).fit_transform(x)
    np.testing.assert_array_equal(space, plain)

    stacked = np.vstack([x, np.repeat(x[:3], 8, axis=0)])  # three rows, each 8 more times
    projector, space = fit_projector(make_projector("umap", 2, 0, n_neighbors=15), stacked)
    assert projector.unique is True and space.shape == (len(stacked), 2)
    for i in range(3):
        np.testing.assert_array_equal(space[len(x) + 8 * i: len(x) + 8 * (i + 1)],
                                      np.repeat(space[i][None], 8, axis=0))
    again = fit_projector(make_projector("umap", 2, 0, n_neighbors=15), stacked.copy())[1]
    np.testing.assert_array_equal(space, again)
    np.testing.assert_allclose(place_rows(projector, x[:3]), space[:3], atol=1e-5)

    # Fewer distinct rows than UMAP's neighbours: umap-learn's own handling, full-size map.
    few = np.repeat(x[:10], 5, axis=0)
    projector, space = fit_projector(make_projector("umap", 2, 0, n_neighbors=15), few)
    assert projector.unique is False and space.shape == (50, 2)


@pytest.mark.parametrize("rows", [1100, 4200])  # umap-learn's exact route, and its pynndescent one
def test_exact_neighbours_lists_each_row_first_then_its_nearest(rows, monkeypatch):
    from vaewidget.clustering import _umap_knn
    from vaewidget.clustering.hdbscan_tools import exact_neighbours

    monkeypatch.setattr(_umap_knn, "BLOCK_ROWS", 256)  # several blocks, the last one short
    z = np.random.default_rng(0).normal(size=(rows, 6)).astype(np.float32)
    index, dist = exact_neighbours(z, 8)
    assert index.shape == dist.shape == (rows, 8) and index.dtype == np.int32
    np.testing.assert_array_equal(index[:, 0], np.arange(rows))
    assert (dist[:, 0] == 0).all() and (np.diff(dist, axis=1) >= 0).all()
    some = np.r_[0:300, rows - 300:rows]  # rows of the first and the last block
    full = np.linalg.norm(z[some, None, :].astype(np.float64) - z[None], axis=2)
    full[np.arange(len(some)), some] = -1.0  # itself first, as UMAP expects
    np.testing.assert_array_equal(index[some], np.argsort(full, axis=1, kind="stable")[:, :8])
    np.testing.assert_allclose(dist[some, 1:], np.sort(full, axis=1)[:, 1:8], rtol=1e-5,
                               atol=1e-5)


def test_fit_projector_gives_umap_exact_neighbours_from_4096_rows(monkeypatch):
    """From 4,096 distinct rows umap-learn would call pynndescent; the projector gets the
    exact neighbour lists instead, up to EXACT_NEIGHBOURS_ROWS, and keeps its own search
    (and its repeated-rows handling) otherwise."""
    from vaewidget.clustering import hdbscan_tools as tools

    rng = np.random.default_rng(0)
    z = np.vstack([rng.normal(size=(2100, 8)) + shift for shift in (0.0, 6.0)]).astype(np.float32)
    make = lambda: make_projector("umap", 2, 0, n_neighbors=10, n_epochs=20)  # noqa: E731
    projector, space = tools.fit_projector(make(), z)
    index, dist = projector.precomputed_knn
    np.testing.assert_array_equal(index, tools.exact_neighbours(z, 10)[0])
    assert space.shape == (4200, 2) and np.isfinite(space).all()
    assert projector.graph_.shape == (4200, 4200)
    # the two blobs stay apart on the map
    assert np.linalg.norm(space[:2100].mean(0) - space[2100:].mean(0)) > 3 * space[:2100].std()

    # repeats: umap-learn's unique=True path, no neighbour lists (4,000 distinct rows, so
    # umap-learn searches them exactly itself, and no test pays pynndescent's compilation)
    stacked = np.vstack([z[1100:], z[1100:1200]])
    projector, _ = tools.fit_projector(make(), stacked)
    assert projector.unique is True and projector.precomputed_knn[0] is None

    monkeypatch.setattr(tools, "EXACT_NEIGHBOURS_ROWS", 1000)  # above it: UMAP's own search
    projector, space = tools.fit_projector(make(), z[1000:2200])
    assert projector.precomputed_knn[0] is None and space.shape == (1200, 2)


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


def test_place_rows_puts_each_row_by_itself_near_umaps_own_transform(blobs):
    from vaewidget.clustering.hdbscan_tools import place_rows

    x, y = blobs
    train, new = x[:240], x[240:]
    umap_ = make_projector("umap", 2, random_state=0, n_neighbors=15)
    space = umap_.fit_transform(train)
    placed = place_rows(umap_, new)
    assert placed.shape == (60, 2) and placed.dtype == np.float32
    # a row's position is its own: the same in any batch, in any order
    order = np.random.default_rng(0).permutation(60)
    np.testing.assert_allclose(place_rows(umap_, new[order]), placed[order], atol=1e-5)
    np.testing.assert_allclose(place_rows(umap_, new[7:8])[0], placed[7], atol=1e-5)
    # ... where UMAP's transform starts: beside the training rows of its own blob
    centres = np.stack([space[y[:240] == k].mean(axis=0) for k in range(3)])
    nearest = np.argmin(((placed[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, y[240:])
    spread = np.median(np.linalg.norm(space - space.mean(axis=0), axis=1))
    gap = np.linalg.norm(placed - np.asarray(umap_.transform(new)), axis=1)
    assert np.median(gap) < 0.1 * spread
    # PCA is linear: its own transform, row by row already
    pca = make_projector("pca", 2, random_state=0).fit(train)
    np.testing.assert_allclose(place_rows(pca, new), pca.transform(new), rtol=1e-5, atol=1e-5)


def test_prediction_uses_the_clusters_of_labels():
    # hdbscan picks the clusters of labels_ and of its prediction data by two routines that
    # can disagree (here through cluster_selection_epsilon, hdbscan PR #586; on a workshop
    # table with epsilon 0 they did too): training rows predicted again then got other ids.
    import hdbscan

    from vaewidget.clustering.large import approximate_predict_batched

    x, _ = make_blobs(100, n_features=8, centers=10, random_state=42)
    fitted = fit_hdbscan(x, min_cluster_size=5, cluster_selection_epsilon=12.0)
    assert fitted.labels_.max() + 1 == 7
    raw = hdbscan.HDBSCAN(min_cluster_size=5, cluster_selection_epsilon=12.0,
                          prediction_data=True).fit(x)
    assert np.mean(hdbscan.approximate_predict(raw, x)[0] == raw.labels_) < 0.9  # the bug
    np.testing.assert_array_equal(hdbscan.approximate_predict(fitted, x)[0], fitted.labels_)
    np.testing.assert_array_equal(approximate_predict_batched(fitted, x)[0], fitted.labels_)
    assert len(fitted.exemplars_) == 7
