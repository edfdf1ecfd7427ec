"""Offline datasets and synthetic data; loaders for larger sets that need a network."""

from __future__ import annotations

import os
import socket

import numpy as np


def load_digits(*, images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (no network needed).

    Parameters
    ----------
    images
        Return ``X`` as ``(1797, 8, 8)`` images instead of ``(1797, 64)`` rows.

    Returns
    -------
    X : ndarray of float32, values 0-16
    y : ndarray of int, the digit (for scoring only)

    Examples
    --------
    >>> from vaewidget.datasets import load_digits
    >>> x, y = load_digits()
    >>> x.shape, x.dtype, float(x.max()), y[:5]
    ((1797, 64), dtype('float32'), 16.0, array([0, 1, 2, 3, 4]))
    >>> load_digits(images=True)[0].shape
    (1797, 8, 8)
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    x = bunch.images if images else bunch.data
    return x.astype(np.float32), bunch.target.astype(int)


def make_manifold_clusters(
    n_samples: int = 5000,
    n_clusters: int = 8,
    n_features: int = 128,
    intrinsic_dim: int = 2,
    noise_features: int | None = None,
    noise: float = 0.05,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Clusters on curved low-dimensional manifolds, embedded in many dimensions.

    Each cluster is a random patch of an ``intrinsic_dim``-dimensional surface,
    mapped into ``n_features - noise_features`` dimensions by a random smooth
    (sine/cosine) map; the remaining ``noise_features`` columns are pure noise.
    Round clusters in a straight space are easy; these are not.

    Parameters
    ----------
    n_samples, n_clusters, n_features
        Rows, clusters (balanced sizes) and columns.
    intrinsic_dim
        Dimension of the surface each cluster lives on.
    noise_features
        Columns of pure noise among ``n_features``; default ``n_features // 4``.
    noise
        Standard deviation of the noise added to the signal columns.
    random_state
        Seed: the same seed gives the same data.

    Returns
    -------
    X : ndarray of float32, shape (n_samples, n_features)
    y : ndarray of int, the cluster of each row (for scoring only)

    Examples
    --------
    >>> import numpy as np
    >>> from vaewidget.datasets import make_manifold_clusters
    >>> x, y = make_manifold_clusters(600, n_clusters=3, n_features=16, random_state=0)
    >>> x.shape, np.bincount(y)               # balanced clusters; 16 // 4 = 4 noise columns
    ((600, 16), array([200, 200, 200]))
    >>> bool((make_manifold_clusters(600, n_clusters=3, n_features=16)[0] == x).all())
    True
    """
    if n_clusters < 1 or n_samples < n_clusters:
        raise ValueError(
            "Expected 1 <= n_clusters <= n_samples. "
            f"Received: n_clusters={n_clusters}, n_samples={n_samples}"
        )
    if intrinsic_dim < 1 or noise < 0:
        raise ValueError(
            "Expected intrinsic_dim >= 1 and noise >= 0. "
            f"Received: intrinsic_dim={intrinsic_dim}, noise={noise}"
        )
    if noise_features is None:
        noise_features = n_features // 4
    signal = n_features - noise_features
    if noise_features < 0 or signal < 1:
        raise ValueError(
            "Expected 0 <= noise_features < n_features. "
            f"Received: noise_features={noise_features}, n_features={n_features}"
        )
    rng = np.random.default_rng(random_state)
    y = rng.permutation(np.arange(n_samples) % n_clusters)
    centers = rng.uniform(-3, 3, size=(n_clusters, intrinsic_dim)) * 1.5
    t = centers[y] + rng.normal(scale=0.6, size=(n_samples, intrinsic_dim))
    freqs = rng.normal(size=(intrinsic_dim, signal)) * 0.7
    phases = rng.uniform(0, 2 * np.pi, size=signal)
    proj = rng.normal(size=(intrinsic_dim, signal)) / np.sqrt(intrinsic_dim)
    x_signal = np.sin(t @ freqs + phases) + 0.3 * (t @ proj)
    x_signal += rng.normal(scale=noise, size=x_signal.shape)
    x_noise = rng.normal(scale=x_signal.std(), size=(n_samples, noise_features))
    x = np.concatenate([x_signal, x_noise], axis=1)
    x = x[:, rng.permutation(n_features)]
    return x.astype(np.float32), y.astype(int)


# Where keras.datasets downloads MNIST and Fashion-MNIST from.
_DOWNLOAD_HOST = "storage.googleapis.com"
_CACHED_FILES = {
    "mnist": ["mnist.npz"],
    "fashion_mnist": [
        f"fashion-mnist/{part}-{kind}-idx{dim}-ubyte.gz"
        for part in ("train", "t10k")
        for kind, dim in (("labels", 1), ("images", 3))
    ],
}


def _is_cached(name: str) -> bool:
    # Keras caches under $KERAS_HOME (default ~/.keras), or /tmp/.keras when that is read-only.
    homes = [os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"), "/tmp/.keras"]
    return any(
        all(os.path.exists(os.path.join(os.path.expanduser(h), "datasets", f)) for f in files)
        for h in homes
        for files in [_CACHED_FILES[name]]
    )


def _offline_error(name: str, err: BaseException) -> ConnectionError:
    return ConnectionError(
        f"Could not download {name.replace('_', '-').upper()} through keras.datasets "
        f"({type(err).__name__}: {err}). It needs a network connection the first time; "
        "offline, use vaewidget.datasets.load_digits(), which ships with scikit-learn."
    )


def _load_keras(name: str, timeout: float) -> tuple[np.ndarray, np.ndarray]:
    import keras

    if not _is_cached(name):
        # Fail in `timeout` seconds where packets are dropped, rather than hang.
        try:
            socket.create_connection((_DOWNLOAD_HOST, 443), timeout=timeout).close()
        except OSError as err:
            raise _offline_error(name, err) from err
    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as err:  # urllib/HTTP/socket errors all mean the same to a user
        raise _offline_error(name, err) from err
    x = np.concatenate([x_train, x_test]).astype(np.float32)
    y = np.concatenate([y_train, y_test]).astype(int).ravel()
    return x, y


def load_mnist(*, timeout: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST (70,000 28x28 images) through ``keras.datasets``; needs a network the first time.

    The download is cached by Keras (``~/.keras/datasets``); later calls are offline.

    Parameters
    ----------
    timeout
        Seconds to wait for the download server before giving up.

    Returns
    -------
    X : ndarray of float32, shape (70000, 28, 28), values 0-255
    y : ndarray of int, the digit

    Raises
    ------
    ConnectionError
        When offline, with a pointer to :func:`load_digits`.

    Examples
    --------
    >>> from vaewidget.datasets import load_digits, load_mnist
    >>> try:
    ...     x, y = load_mnist(timeout=2.0)
    ... except ConnectionError:               # offline: the bundled digits instead
    ...     x, y = load_digits(images=True)
    >>> x.ndim, x.dtype                       # images either way
    (3, dtype('float32'))
    """
    return _load_keras("mnist", timeout)


def load_fashion_mnist(*, timeout: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (70,000 28x28 images) through ``keras.datasets``; needs a network.

    Parameters
    ----------
    timeout
        Seconds to wait for the download server before giving up.

    Returns
    -------
    X : ndarray of float32, shape (70000, 28, 28), values 0-255
    y : ndarray of int, the clothing class

    Raises
    ------
    ConnectionError
        When offline, with a pointer to :func:`load_digits`.

    Examples
    --------
    >>> from vaewidget.datasets import load_fashion_mnist
    >>> try:
    ...     x, y = load_fashion_mnist(timeout=2.0)
    ...     message = "downloaded"
    ... except ConnectionError as err:        # offline: the message says what to use
    ...     message = "load_digits()" in str(err) and "offline"
    >>> message in ("downloaded", "offline")
    True
    """
    return _load_keras("fashion_mnist", timeout)
