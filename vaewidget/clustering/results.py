"""Compute per-row results chunk by chunk, with progress, into memory, zarr or Parquet.

Per-row results of a large source (latent means, labels, probabilities, outlier
scores) are Dask arrays with the same row chunks. :func:`write_results` computes them
chunk by chunk and writes each chunk as soon as it is ready, so the rows never
gather in one process: into a zarr group (one array per result) or a folder of
Parquet files (one file per chunk; columns ``z0 … z{d-1}``, ``label``,
``probability``, ``outlier_score``). :func:`compute_rows` does the same into numpy
arrays, for results that fit in memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vaewidget.clustering.distributed import active_client
from vaewidget.progress import ProgressArg, ProgressReporter, check_progress

NAMES = ("embedding", "labels", "probabilities", "outlier_scores")


def run_tasks(tasks: list[Any], rows: list[int], stage: str, progress: ProgressArg = False,
              client: Any = None) -> list[Any]:
    """Compute Dask ``tasks`` (delayed objects) in parallel; report ``rows[i]`` as task ``i`` ends.

    On a ``dask.distributed`` client (given or active) as futures; else on the local
    threaded scheduler. Returns the results in the order of ``tasks``.
    """
    import dask

    check_progress(progress)
    client = active_client(client)
    reporter = ProgressReporter(stage, int(sum(rows)), progress) if progress else None
    try:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(tasks)
            index = {f.key: i for i, f in enumerate(futures)}
            results: list[Any] = [None] * len(tasks)
            for future in as_completed(futures):
                i = index[future.key]
                results[i] = future.result()
                if reporter is not None:
                    reporter.update(rows[i])
            return results
        if reporter is None:
            return list(dask.compute(*tasks))
        from dask.callbacks import Callback

        keys = {t.key: r for t, r in zip(tasks, rows)}

        class _Count(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if key in keys:
                    reporter.update(keys[key])

        with _Count():
            return list(dask.compute(*tasks))
    finally:
        if reporter is not None:
            reporter.close()


# Blocks are taken with optimize_graph=False: optimizing each array's graph on its own
# renames the keys they share (the latent under the labels), which would compute them
# once per output.


def _aligned(arrays: dict[str, Any]) -> dict[str, Any]:
    """Rechunk every array to the row chunks of the first one."""
    first = next(iter(arrays.values()))
    rows = first.chunks[0]
    return {k: (a if a.chunks[0] == rows else a.rechunk({0: rows})) for k, a in arrays.items()}


def _uniform(arrays: dict[str, Any]) -> dict[str, Any]:
    """Rows chunked evenly (all but the last chunk equal), as zarr chunks must be."""
    first = next(iter(arrays.values()))
    rows = first.chunks[0]
    if len(set(rows[:-1])) <= 1 and (len(rows) == 1 or rows[-1] <= rows[0]):
        return arrays
    size = int(max(rows))
    return {k: a.rechunk({0: size}) for k, a in arrays.items()}


def compute_rows(arrays: dict[str, Any], *, progress: ProgressArg = False, client: Any = None,
                 stage: str = "computing") -> dict[str, np.ndarray]:
    """Compute lazy per-row Dask arrays into numpy, chunk by chunk, with progress."""
    import dask

    arrays = _aligned(arrays)
    names = list(arrays)
    blocks = {k: a.to_delayed(optimize_graph=False).ravel() for k, a in arrays.items()}
    first = arrays[names[0]]
    tasks = [dask.delayed(tuple, pure=True)([blocks[k][i] for k in names])
             for i in range(len(first.chunks[0]))]
    parts = run_tasks(tasks, list(first.chunks[0]), stage, progress, client)
    return {k: np.concatenate([p[j] for p in parts]) for j, k in enumerate(names)}


def _write_zarr_chunk(path: str, start: int, names: list[str], *blocks: np.ndarray) -> int:
    import zarr

    group = zarr.open_group(path, mode="r+")
    for name, block in zip(names, blocks):
        group[name][start: start + len(block)] = block
    return len(blocks[0])


def _write_parquet_chunk(path: str, index: int, names: list[str], *blocks: np.ndarray) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {}
    for name, block in zip(names, blocks):
        if block.ndim == 2:
            prefix = "z" if name == "embedding" else name
            columns.update({f"{prefix}{j}": block[:, j] for j in range(block.shape[1])})
        else:
            columns[{"labels": "label", "probabilities": "probability",
                     "outlier_scores": "outlier_score"}.get(name, name)] = block
    pq.write_table(pa.table(columns), os.path.join(path, f"part-{index:05d}.parquet"))
    return len(blocks[0])


def write_results(path: str | os.PathLike, arrays: Any, *, progress: ProgressArg = False,
                  client: Any = None, overwrite: bool = False,
                  stage: str = "encoding and labelling") -> str:
    """Compute per-row results chunk by chunk and write them to zarr or Parquet.

    Parameters
    ----------
    path
        ``*.zarr``: a zarr group with one array per result (read back with
        ``zarr.open_group(path)["labels"]``). Anything else: a folder of Parquet
        files, one per chunk (read back with ``pandas.read_parquet(path)`` or as a
        vaewidget source).
    arrays
        A :class:`~vaewidget.clustering.distributed.SourceClustering`, or a dict of
        lazy Dask arrays with the same number of rows (names from :data:`NAMES`
        or your own).
    progress
        ``True`` for a tqdm bar, or a callable taking a dict (:mod:`vaewidget.progress`).
    client
        A ``dask.distributed.Client``; default: the active one, else the local scheduler.
        Its workers must be able to write to ``path`` (a shared disk on a real cluster).
    overwrite
        Replace what is at ``path``; otherwise an existing path is an error.
    stage
        The progress bar's label.

    Returns
    -------
    str
        ``path``.
    """
    import dask

    if not isinstance(arrays, dict):
        arrays = {name: getattr(arrays, name) for name in NAMES}
    target = Path(path).expanduser()
    if target.exists() and not overwrite:
        raise ValueError(
            f"Expected a new path for the results (or overwrite=True). Received: {str(path)!r}, "
            "which exists."
        )
    as_zarr = target.suffix == ".zarr"
    arrays = _aligned(arrays)
    if as_zarr:
        import zarr

        arrays = _uniform(arrays)
        group = zarr.open_group(str(target), mode="w")
        for name, arr in arrays.items():
            group.create_array(name, shape=arr.shape, chunks=(arr.chunks[0][0], *arr.shape[1:]),
                               dtype=arr.dtype)
    else:
        if target.exists():
            import shutil

            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.mkdir(parents=True)
    names = list(arrays)
    blocks = {k: a.to_delayed(optimize_graph=False).ravel() for k, a in arrays.items()}
    rows = [int(r) for r in next(iter(arrays.values())).chunks[0]]
    starts = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(int)
    writer = _write_zarr_chunk if as_zarr else _write_parquet_chunk
    tasks = [
        dask.delayed(writer, pure=False)(
            str(target), int(starts[i]) if as_zarr else i, names,
            *[blocks[k][i] for k in names])
        for i in range(len(rows))
    ]
    run_tasks(tasks, rows, stage, progress, client)
    return str(path)
