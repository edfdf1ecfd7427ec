"""ClusterPipeline, the engine every door shares: real HDBSCAN, real UMAP, real small VAEs."""

from __future__ import annotations

import numpy as np
import pytest

from vaewidget.clustering import ClusterPipeline, ClusterResult, _defaults
from vaewidget.clustering.pipeline import HDBSCAN_KEYS


def _blobs(n_per: int = 80, dims: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(dims)[:3] * 6
    z = np.concatenate([rng.normal(c, 0.4, (n_per, dims)) for c in centres])
    return z.astype(np.float32), np.repeat(np.arange(3), n_per)


def test_fit_latent_returns_one_complete_result():
    z, y = _blobs()
    result = ClusterPipeline(projection=None, random_state=0).fit_latent(z)
    assert isinstance(result, ClusterResult)
    n = len(z)
    for name in ("labels", "probabilities", "outlier_scores"):
        assert getattr(result, name).shape == (n,)
    assert result.embedding.shape == (n, 4) and result.space.shape == (n, 4)
    assert result.coords.shape == (n, 2) and result.projector is None
    assert result.n_clusters == 3 and not result.subsampled
    # every parameter is concrete, resolved by the one rule
    assert result.params == _defaults.resolve_clustering({"projection": None}, n, 4)
    assert all(v != "auto" for v in result.params.values())
    assert result.scale is None and result.weighted is result.embedding


def test_a_scale_weighs_the_codes_for_clustering_and_for_prediction():
    z, _ = _blobs()
    pipe = ClusterPipeline(projection=None, random_state=0)
    scale = np.full(4, 0.01, np.float32)
    result = pipe.fit_latent(z, scale=scale)
    np.testing.assert_allclose(result.space, z / 0.01, rtol=1e-6)
    np.testing.assert_array_equal(result.embedding, z)
    assert result.params["latent_scaling"] == "posterior" and result.n_clusters == 3
    # new codes are weighed the same way before HDBSCAN places them
    labels, _ = pipe.predict(result, z[::7])
    core = result.labels[::7] >= 0
    assert np.mean(labels[core] == result.labels[::7][core]) > 0.95
    # re-clustering keeps the weights
    again = pipe.recluster(result, min_cluster_size=20)
    assert again.scale is result.scale and again.space is result.space
    for bad in (np.ones(3), np.array([1, 1, 0, 1]), np.array([1, np.nan, 1, 1])):
        with pytest.raises(ValueError, match="Expected scale to be 4 positive finite numbers"):
            pipe.fit_latent(z, scale=bad)


def test_run_weighs_a_vae_latent_by_its_posterior_scale(tiny_data, make_vae):
    from vaewidget import Autoencoder

    x, _ = tiny_data
    model = make_vae(x, epochs=3, latent_dim=4)
    z, z_log_var = model.encode(x)
    result = ClusterPipeline(projection=None, latent_scaling="posterior",
                             random_state=0).run(model, x)
    expected = np.sqrt(np.exp(z_log_var.astype(np.float64)).mean(axis=0))
    np.testing.assert_allclose(result.scale, expected, rtol=1e-5)
    np.testing.assert_allclose(result.space, z / expected, rtol=1e-4, atol=1e-5)
    assert result.params["latent_scaling"] == "posterior"
    plain = ClusterPipeline(projection=None, random_state=0).run(model, x)  # the default
    assert plain.scale is None and plain.params["latent_scaling"] is None
    np.testing.assert_allclose(plain.space, z, rtol=1e-5, atol=1e-6)
    # an autoencoder has no variances: its codes are clustered as they are
    ae = Autoencoder.from_data(x, latent_dim=3, hidden_units=(16,), seed=0)
    ae.compile()
    assert ClusterPipeline(projection=None, latent_scaling="posterior",
                           random_state=0).run(ae, x).scale is None


def test_recluster_reuses_codes_and_projection():
    z, _ = _blobs()
    pipe = ClusterPipeline(projection="pca", n_components=3, random_state=0)
    first = pipe.fit_latent(z)
    again = pipe.recluster(first, min_cluster_size=30, cluster_selection_method="leaf")
    assert again.embedding is first.embedding and again.space is first.space
    assert again.projector is first.projector
    assert again.params["min_cluster_size"] == 30
    assert again.params["cluster_selection_method"] == "leaf"
    with pytest.raises(ValueError, match="Expected settings among"):
        pipe.recluster(first, n_neighbors=5)
    with pytest.raises(ValueError, match="Expected min_cluster_size"):
        pipe.recluster(first, min_cluster_size=1)
    assert set(HDBSCAN_KEYS) <= set(first.params)


def test_predict_labels_new_codes_in_the_fitted_clusters():
    z, _ = _blobs()
    pipe = ClusterPipeline(projection=None, random_state=0)
    result = pipe.fit_latent(z)
    labels, strengths = pipe.predict(result, z[::7])
    # training points predicted again land in their own cluster
    agree = np.mean(labels[result.labels[::7] >= 0] == result.labels[::7][result.labels[::7] >= 0])
    assert agree > 0.95 and strengths.shape == labels.shape
    with pytest.raises(ValueError, match="Expected codes with 4 dimensions"):
        pipe.predict(result, z[:, :2])


@pytest.mark.slow  # UMAP's first use in a process compiles numba code
def test_predict_through_umap_labels_each_row_by_itself():
    z, y = _blobs(n_per=60, dims=6)
    new, _ = _blobs(n_per=10, dims=6, seed=1)
    pipe = ClusterPipeline(projection="umap", random_state=0)
    result = pipe.fit_latent(z)
    assert result.projector is not None and result.n_clusters == 3
    labels, strengths = pipe.predict(result, new)
    order = np.random.default_rng(0).permutation(len(new))
    np.testing.assert_array_equal(pipe.predict(result, new[order])[0], labels[order])
    one_by_one = np.concatenate([pipe.predict(result, row[None])[0] for row in new[:6]])
    np.testing.assert_array_equal(one_by_one, labels[:6])
    # new rows from each blob take the cluster of that blob's training rows
    blob_cluster = [np.bincount(result.labels[y == k]).argmax() for k in range(3)]
    np.testing.assert_array_equal(labels, np.repeat(blob_cluster, 10))
    assert (strengths > 0).mean() > 0.8


def test_plausibility_notes_say_when_the_result_is_poor():
    z, _ = _blobs()
    pipe = ClusterPipeline(projection=None, random_state=0)
    none = pipe.recluster(pipe.fit_latent(z), min_cluster_size=239)
    assert none.n_clusters == 0 and any("All points are noise" in n for n in none.notes)


def test_noise_assign_gives_noise_rows_their_neighbours_cluster_and_keep_leaves_them():
    z, y = _blobs()
    # a few far-off rows between the blobs: HDBSCAN leaves them as noise
    stray = np.random.default_rng(1).uniform(-2, 8, (12, 4)).astype(np.float32)
    z = np.concatenate([z, stray])
    keep = ClusterPipeline(projection=None, noise="keep", random_state=0).fit_latent(z)
    assign = ClusterPipeline(projection=None, random_state=0).fit_latent(z)
    assert keep.params["noise"] == "keep" and assign.params["noise"] == "assign"
    noise = keep.labels < 0
    assert noise.any() and not assign.assigned[~noise].any()
    assert (assign.labels >= 0).all() and (assign.assigned == noise).all()
    np.testing.assert_array_equal(assign.labels[~noise], keep.labels[~noise])
    # each assigned row took the cluster of its nearest clustered row in most cases
    from sklearn.neighbors import NearestNeighbors

    nearest = NearestNeighbors(n_neighbors=1).fit(z[~noise]).kneighbors(z[noise])[1][:, 0]
    assert np.mean(assign.labels[noise] == keep.labels[~noise][nearest]) >= 0.75
    assert np.all(assign.probabilities[noise] == 0)
    assert assign.hdbscan_noise_fraction == pytest.approx(keep.noise_fraction)
    # recluster can switch it; predict follows it
    back = ClusterPipeline(projection=None).recluster(assign, noise="keep")
    np.testing.assert_array_equal(back.labels, keep.labels)
    far = np.full((1, 4), 30.0, np.float32)
    assert ClusterPipeline(projection=None).predict(assign, far)[0][0] >= 0
    assert ClusterPipeline(projection=None).predict(keep, far)[0][0] == -1
    with pytest.raises(ValueError, match="Expected noise in"):
        ClusterPipeline(noise="drop")


@pytest.mark.parametrize("bad, fragment", [
    ({"projection": "tsne"}, "projection in"),
    ({"min_cluster_size": 1}, "min_cluster_size to be an int >= 2"),
    ({"min_samples": 0}, "min_samples to be a positive int"),
    ({"cluster_selection_method": "best"}, "cluster_selection_method in"),
    ({"cluster_selection_epsilon": -1.0}, "cluster_selection_epsilon"),
    ({"n_neighbors": "many"}, "n_neighbors to be an int"),
    ({"latent_scaling": "std"}, "latent_scaling in"),
])
def test_bad_settings_are_refused_up_front(bad, fragment):
    with pytest.raises(ValueError, match="Expected") as info:
        ClusterPipeline(**bad)
    assert fragment in str(info.value)


def test_bad_latent_is_refused():
    pipe = ClusterPipeline(projection=None)
    with pytest.raises(ValueError, match="Expected finite latent values"):
        pipe.fit_latent(np.full((20, 3), np.nan))
    with pytest.raises(ValueError, match="Expected a 2-D latent"):
        pipe.fit_latent(np.zeros(20))


def test_rule_has_no_cliff_in_dims_and_caps_umap_by_rows():
    # a latent no larger than the map is clustered as it is; UMAP only where it helps
    assert _defaults.resolve_clustering({}, 1000, 2)["projection"] is None
    assert _defaults.resolve_clustering({}, 1000, 8)["projection"] == "umap"
    assert _defaults.resolve_clustering({}, 10**6, 8)["projection"] is None


@pytest.mark.slow  # UMAP's first use in a process compiles numba code
def test_umap_route_and_views(small_digits, make_vae):
    x, _ = small_digits
    model = make_vae(x, epochs=2, latent_dim=5)
    pipe = ClusterPipeline(random_state=0)
    result = pipe.run(model, x)
    assert result.params["projection"] == "umap" and result.space.shape == (len(x), 2)
    np.testing.assert_array_equal(result.coords, result.space)
    assert pipe.view(result, "pca").shape == (len(x), 2)
    labels, _ = pipe.predict(result, model.embed(x[:10]))
    assert labels.shape == (10,)
