"""Datasets: the bundled digits, the synthetic generator, and the offline MNIST error."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vaewidget import datasets


def test_load_digits_rows(digits):
    x, y = digits
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and np.issubdtype(y.dtype, np.integer)
    assert x.min() == 0 and x.max() == 16
    assert set(np.unique(y)) == set(range(10))


def test_load_digits_images(digits, digits_images):
    images, y = digits_images
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    np.testing.assert_array_equal(images.reshape(1797, 64), digits[0])
    np.testing.assert_array_equal(y, digits[1])


def test_make_manifold_clusters_shapes_and_labels():
    x, y = datasets.make_manifold_clusters(n_samples=300, n_clusters=4, n_features=20)
    assert x.shape == (300, 20) and x.dtype == np.float32 and np.isfinite(x).all()
    assert y.shape == (300,) and np.bincount(y).tolist() == [75, 75, 75, 75]


def test_make_manifold_clusters_is_deterministic_per_seed():
    a = datasets.make_manifold_clusters(n_samples=100, random_state=3)
    b = datasets.make_manifold_clusters(n_samples=100, random_state=3)
    c = datasets.make_manifold_clusters(n_samples=100, random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_make_manifold_clusters_are_separable_but_not_trivially():
    x, y = datasets.make_manifold_clusters(n_samples=400, n_clusters=4, n_features=32)
    centroids = np.stack([x[y == k].mean(0) for k in range(4)])
    nearest = np.argmin(((x[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == y).mean() > 0.5  # the clusters carry signal


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_samples": 3, "n_clusters": 5}, "n_samples=3"),
        ({"n_features": 4, "noise_features": 4}, "noise_features"),
    ],
)
def test_make_manifold_clusters_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=f"Expected.*Received.*{fragment}"):
        datasets.make_manifold_clusters(**kwargs)


@pytest.mark.parametrize("loader", [datasets.load_mnist, datasets.load_fashion_mnist])
@pytest.mark.parametrize("host", ["no-such-host.invalid", "10.255.255.1"])
def test_keras_loaders_fail_fast_offline(loader, host, monkeypatch, tmp_path):
    # An empty cache, and a download server that cannot be reached: a name that
    # never resolves (RFC 6761), and an address that drops packets or is unreachable.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(datasets, "_DOWNLOAD_HOST", host)
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="load_digits") as info:
        loader(timeout=2.0)
    assert time.perf_counter() - start < 8.0
    assert "network" in str(info.value)


def test_load_mnist_offline_here_raises_connection_error():
    # This sandbox has no network: the real download path fails, and fails fast.
    start = time.perf_counter()
    try:
        x, y = datasets.load_mnist(timeout=3.0)
    except ConnectionError as err:
        assert "load_digits" in str(err)
        assert time.perf_counter() - start < 15.0
    else:  # a machine with a network (or a cached copy) must get real MNIST
        assert x.shape == (70000, 28, 28) and y.shape == (70000,)
