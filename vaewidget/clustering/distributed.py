"""Encode and label every row of a large source on Dask, chunk by chunk.

The functions here build lazy Dask arrays (one task per chunk of rows) and never
hold all rows in the calling process:

* :func:`embed_source`: latent means of every row. The encoder (its config and
  weights, a few MB) is put into the graph once; on a ``dask.distributed`` cluster
  it is scattered to every worker once, and each worker process builds it once.
* :func:`fit_subsample`: HDBSCAN (and an optional UMAP/PCA projector) fitted on a
  random subsample, as :func:`~vaewidget.clustering.large.cluster_latent` does in
  memory. This part stays on one machine: HDBSCAN's fit is not distributed anywhere.
* :func:`label_source`: labels, membership probabilities and outlier scores of every
  row with the vectorized :func:`~vaewidget.clustering.large.approximate_predict_batched`,
  one task per chunk, in parallel.
* :func:`cluster_source`: the three together; :mod:`vaewidget.clustering.results`
  writes the results straight to zarr or Parquet, with a progress bar.

Where it runs: without set-up, on Dask's local threaded scheduler (nothing to start).
Given ``client=`` (a ``dask.distributed.Client``), or with one active (created in
the session, e.g. ``Client(LocalCluster())`` or ``Client("tcp://scheduler:8786")``),
the same calls run on that cluster unchanged.
"""

from __future__ import annotations

import copy
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaewidget.clustering.hdbscan_tools import fit_hdbscan, fit_projector, place_rows
from vaewidget.clustering.large import (
    DEFAULT_MAX_FIT,
    approximate_predict_batched,
    scale_parameters,
)
from vaewidget.data import DataSource, as_source, is_dask_array, is_zarr_array

#: Sources at least this large (as float32) are encoded and labelled lazily on Dask.
LAZY_THRESHOLD_BYTES = 512 * 2**20
#: Rows per encoder call inside a task.
ENCODE_BATCH = 8192


def active_client(client: Any = None) -> Any:
    """``client`` if given, else the active ``dask.distributed`` client, else ``None``."""
    if client is not None:
        return client
    try:
        from distributed import get_client
    except ImportError:  # distributed is optional: the local scheduler needs none
        return None
    try:
        return get_client()
    except ValueError:  # no client in this session
        return None


def is_large(x: Any, threshold_bytes: int = LAZY_THRESHOLD_BYTES) -> bool:
    """Whether results for ``x`` should be lazy Dask arrays: a Dask array, or a source
    not in memory (a path, a zarr array, a memory-mapped file) of at least
    ``threshold_bytes`` (as float32). In-memory arrays never are."""
    if is_dask_array(x):
        return True
    if isinstance(x, DataSource):
        source = x
    elif isinstance(x, (str, os.PathLike, np.memmap)) or is_zarr_array(x):
        source = as_source(x)
    else:
        return False
    return not source.in_memory and source.nbytes >= int(threshold_bytes)


def as_dask(x: Any, chunk_rows: int | None = None) -> Any:
    """Any source as a float32 Dask array, one chunk per chunk of the source."""
    source = as_source(x)
    return source.to_dask(chunk_rows)


# ------------------------------------------------------------------- shipping
_BUILT: dict[str, Any] = {}
_BUILT_LOCK = threading.Lock()
#: Encoders rebuilt from a payload in this process (one per payload, however many chunks).
BUILDS = {"count": 0}


class EncoderPayload:
    """What a worker needs to encode rows: the encoder's config and weights and the scaling.

    In the process that made it, it uses the live model. Pickled (to a worker
    process), it carries the config and weights, and each process rebuilds the
    encoder once (cached by a token), however many chunks it encodes.
    """

    def __init__(self, model: Any) -> None:
        import keras

        self.token = uuid.uuid4().hex
        self.preparer_config = model.preparer.get_config()
        self.config = keras.saving.serialize_keras_object(model.encoder)
        self.weights = model.encoder.get_weights()
        self.latent_dim = int(model.code_dim)
        self._live = (model.encoder, model.preparer)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_live"] = None
        return state

    def parts(self) -> tuple[Any, Any]:
        if self._live is not None:
            return self._live
        with _BUILT_LOCK:
            built = _BUILT.get(self.token)
            if built is None:
                import keras

                import vaewidget.models  # noqa: F401  (registers the custom layers)
                from vaewidget.models.preprocessing import DataPreparer

                # Keras consumes the config it revives (it pops the layers out of it):
                # revive a copy, so that this payload can still be pickled on to another
                # worker (Dask replicates scattered data) or built again.
                encoder = keras.saving.deserialize_keras_object(copy.deepcopy(self.config))
                encoder.set_weights(self.weights)
                built = (encoder, DataPreparer.from_config(self.preparer_config))
                _BUILT.clear()  # one model per process at a time
                _BUILT[self.token] = built
                BUILDS["count"] += 1
        return built

    def __call__(self, rows: np.ndarray, batch_size: int = ENCODE_BATCH) -> np.ndarray:
        from keras import ops

        encoder, preparer = self.parts()
        prepared = preparer.scale_rows(np.asarray(rows, dtype=np.float32))
        out = np.empty((len(prepared), self.latent_dim), np.float32)
        for start in range(0, len(prepared), batch_size):
            code = encoder(prepared[start: start + batch_size], training=False)
            code = code[0] if isinstance(code, (list, tuple)) else code
            out[start: start + batch_size] = ops.convert_to_numpy(code)
        return out


def ship(obj: Any, client: Any, name: str) -> Any:
    """Put ``obj`` in the graph once: scattered to every worker of ``client``, or a named
    delayed object for the local scheduler (named, so Dask does not pickle it to hash it)."""
    if client is not None:
        return client.scatter(obj, broadcast=True, hash=False)
    import dask

    return dask.delayed(obj, name=f"{name}-{uuid.uuid4().hex}")


def _encode_block(block: np.ndarray, payload: EncoderPayload, batch_size: int) -> np.ndarray:
    return payload(block, batch_size)


def embed_source(model: Any, x: Any, *, client: Any = None, chunk_rows: int | None = None,
                 batch_size: int = ENCODE_BATCH) -> Any:
    """Latent means of every row of ``x`` as a lazy Dask array ``(rows, latent_dim)``, float32.

    Parameters
    ----------
    model
        A fitted :class:`~vaewidget.VAE` or :class:`~vaewidget.Autoencoder`.
    x
        Anything :func:`vaewidget.data.as_source` takes; a Dask array keeps its chunks.
    client
        A ``dask.distributed.Client``; default: the active one, else the local scheduler.
    chunk_rows
        Rows per task (default: the source's chunks).
    batch_size
        Rows per encoder call inside a task.

    Raises
    ------
    ValueError
        When the rows do not have the shape the model was prepared on.
    """
    source = model.preparer.check_source(x)
    client = active_client(client)
    arr = source.to_dask(chunk_rows)
    arr = arr.rechunk({axis: -1 for axis in range(1, arr.ndim)})
    payload = ship(EncoderPayload(model), client, "vaewidget-encoder")
    return arr.map_blocks(
        _encode_block, payload, int(batch_size), dtype=np.float32,
        chunks=(arr.chunks[0], (int(model.code_dim),)),
        drop_axis=list(range(2, arr.ndim)) or None, name="vaewidget-embed",
        meta=np.empty((0, int(model.code_dim)), np.float32),
    )


# ------------------------------------------------------------------ clustering
@dataclass
class SubsampleFit:
    """HDBSCAN (and a projector) fitted on a subsample of the rows; see :func:`fit_subsample`."""

    clusterer: Any
    projector: Any
    fit_index: np.ndarray
    embedding: np.ndarray
    params: dict = field(default_factory=dict)


def fit_subsample(model: Any, x: Any, *, max_fit: int = DEFAULT_MAX_FIT,
                  min_cluster_size: int = 15, min_samples: int | None = None,
                  cluster_selection_method: str = "eom", projector: Any = None,
                  random_state: int | None = 0) -> SubsampleFit:
    """Fit HDBSCAN on the latent means of ``max_fit`` random rows of ``x`` (on this machine).

    ``min_cluster_size`` and ``min_samples`` are in full-data units and scaled to the
    subsample (:func:`~vaewidget.clustering.large.scale_parameters`). ``projector``
    (an unfitted UMAP or PCA, or ``None``) is fitted on the same subsample, and
    HDBSCAN then clusters its output.
    """
    source = model.preparer.check_source(x)
    n = source.n_rows
    if int(max_fit) < 2:
        raise ValueError(f"Expected max_fit >= 2. Received: max_fit={max_fit}")
    if n <= int(max_fit):
        fit_index = np.arange(n)
    else:
        rng = np.random.default_rng(random_state)
        fit_index = np.sort(rng.choice(n, int(max_fit), replace=False))
    z = model.embed(source.take(fit_index))
    space = z if projector is None else fit_projector(projector, z)[1]
    mcs, ms = scale_parameters(min_cluster_size, min_samples, n, len(fit_index))
    params = dict(min_cluster_size=mcs, min_samples=ms,
                  cluster_selection_method=cluster_selection_method)
    clusterer = fit_hdbscan(space, **params, prediction_data=True)
    return SubsampleFit(clusterer, projector, fit_index, z, params)


def _label_block(z: np.ndarray, model: Any, threads: int | None) -> np.ndarray:
    clusterer, projector = model
    space = z if projector is None else place_rows(projector, z)
    labels, probs, scores = approximate_predict_batched(
        clusterer, space, batch_size=max(len(space), 1), threads=threads)
    return np.column_stack([labels.astype(np.float64), probs, scores])


def label_source(clusterer: Any, z: Any, projector: Any = None, *, client: Any = None,
                 chunk_rows: int | None = None, threads: int | None = 1) -> tuple[Any, Any, Any]:
    """Labels, membership probabilities and GLOSH outlier scores of every row of ``z``.

    Parameters
    ----------
    clusterer
        A fitted ``hdbscan.HDBSCAN`` with ``prediction_data=True``.
    z
        The rows in the clusterer's input space (or the latent, when ``projector``
        maps it there): a Dask array (as :func:`embed_source` returns) or any source.
    projector
        A fitted UMAP/PCA applied to each chunk first, or ``None``.
    client
        As in :func:`embed_source`.
    chunk_rows
        Rows per task, for inputs that are not Dask arrays.
    threads
        Threads per task for the neighbour search (1: parallel across tasks only).

    Returns
    -------
    labels, probabilities, outlier_scores : dask.array.Array
        int64, float64, float64; one value per row, lazy.
    """
    client = active_client(client)
    arr = z if is_dask_array(z) else as_dask(z, chunk_rows)
    arr = arr.rechunk({1: -1})
    payload = ship((clusterer, projector), client, "vaewidget-clusterer")
    out = arr.map_blocks(_label_block, payload, threads, dtype=np.float64,
                         chunks=(arr.chunks[0], (3,)), name="vaewidget-label",
                         meta=np.empty((0, 3), np.float64))
    return out[:, 0].astype(np.int64), out[:, 1], out[:, 2]


@dataclass
class SourceClustering:
    """Lazy per-row results of :func:`cluster_source` and the fitted parts."""

    embedding: Any
    labels: Any
    probabilities: Any
    outlier_scores: Any
    fit: SubsampleFit

    @property
    def clusterer(self) -> Any:
        return self.fit.clusterer

    @property
    def n_clusters(self) -> int:
        """Clusters found on the subsample (every row is labelled with one of them, or -1)."""
        return int(self.fit.clusterer.labels_.max()) + 1


def cluster_source(model: Any, x: Any, *, max_fit: int = DEFAULT_MAX_FIT,
                   min_cluster_size: int = 15, min_samples: int | None = None,
                   cluster_selection_method: str = "eom", projector: Any = None,
                   random_state: int | None = 0, client: Any = None,
                   chunk_rows: int | None = None, threads: int | None = 1) -> SourceClustering:
    """Encode every row of ``x``, fit HDBSCAN on a subsample, label every row: lazily.

    Nothing but the subsample is computed here; write the results with
    :func:`vaewidget.clustering.results.write_results` (zarr or Parquet) or compute
    them (``dask.compute``). See :func:`fit_subsample` and :func:`label_source`.
    """
    fitted = fit_subsample(model, x, max_fit=max_fit, min_cluster_size=min_cluster_size,
                           min_samples=min_samples,
                           cluster_selection_method=cluster_selection_method,
                           projector=projector, random_state=random_state)
    z = embed_source(model, x, client=client, chunk_rows=chunk_rows)
    labels, probs, scores = label_source(fitted.clusterer, z, fitted.projector, client=client,
                                         threads=threads)
    return SourceClustering(z, labels, probs, scores, fitted)
