"""Every kind of source round-trips through prepare -> train -> encode -> label like an array.

The same rows (well-separated clusters) are given as a numpy array and as a ``.npy``
file, a zarr array, a folder of Parquet files and a Dask array. Each goes the whole way:
``VAE.from_data`` (a streamed pass for the sources), the Trainer (streamed batches for
the sources, the array path in memory), HDBSCAN on a subsample, and labels for every
row on Dask. The preparation equals the in-memory one, and the labels agree with the
in-memory path's (ARI >= 0.99; the batch order differs, so the weights do too).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from vaewidget import VAE, Trainer
from vaewidget.clustering.distributed import cluster_source, fit_subsample, label_source
from vaewidget.clustering.results import compute_rows

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def blobs(tmp_path_factory, formats):
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=3000, centers=4, n_features=8, cluster_std=0.6, random_state=0)
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x, y, formats(x, tmp_path_factory.mktemp("blobs"))


def train(data) -> VAE:
    keras.utils.set_random_seed(0)
    model = VAE.from_data(data, latent_dim=2, hidden_units=(32,), seed=0)
    trainer = Trainer(model, data, epochs=8, batch_size=64, validation_split=0.1)
    trainer.start()
    assert trainer.wait(300) and trainer.state == "finished", trainer.error
    return model


@pytest.fixture(scope="module")
def in_memory(blobs):
    x, y, _ = blobs
    model = train(x)
    fitted = fit_subsample(model, x, max_fit=1500, min_cluster_size=150, min_samples=10)
    labels = label_source(fitted.clusterer, model.embed(x))[0].compute()
    assert adjusted_rand_score(y, labels) > 0.9  # the clusters are found at all
    return model, labels


@pytest.mark.parametrize("kind", ["npy", "zarr", "parquet", "dask"])
def test_a_source_gives_the_in_memory_result(kind, blobs, in_memory):
    x, _, files = blobs
    reference, expected = in_memory
    model = train(files[kind])
    np.testing.assert_allclose(model.preparer.offset_, reference.preparer.offset_, rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(model.preparer.scale_, reference.preparer.scale_, rtol=1e-6)
    result = cluster_source(model, files[kind], max_fit=1500, min_cluster_size=150,
                            min_samples=10, chunk_rows=700)
    rows = compute_rows({"labels": result.labels, "embedding": result.embedding})
    np.testing.assert_allclose(rows["embedding"], model.embed(x), rtol=1e-5, atol=1e-5)
    assert adjusted_rand_score(expected, rows["labels"]) >= 0.99
