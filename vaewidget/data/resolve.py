"""The one door to the data sources: :func:`as_source` picks the reader for what it is given."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vaewidget.data.sources import (
    _NDIMS,
    ArraySource,
    DaskSource,
    DataSource,
    NpySource,
    ZarrSource,
)


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a Dask array (without importing Dask when it is not)."""
    return type(x).__module__.split(".")[0] == "dask" and hasattr(x, "chunks")


def is_zarr_array(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "zarr" and hasattr(x, "chunks")


def _looks_like_zarr(path: Path) -> bool:
    return path.suffix == ".zarr" or (path.is_dir() and any(
        (path / marker).exists() for marker in ("zarr.json", ".zarray")))


def as_source(x: Any, *, name: str = "x", columns: list[str] | None = None,
              chunk_rows: int | None = None) -> DataSource:
    """Turn any supported input into a :class:`DataSource`.

    Parameters
    ----------
    x
        A numpy array, numeric DataFrame or nested lists (read into memory and
        checked at once); a ``np.memmap`` or the path to a ``.npy`` file (memory-mapped);
        a zarr array or the path to one (``*.zarr``, or a folder with ``zarr.json``
        / ``.zarray``); a ``.parquet`` file or a folder of them; a Dask array; or a
        :class:`DataSource` (returned as is).
    name
        What error messages call the data.
    columns
        Parquet only: the numeric columns to read (default: all).
    chunk_rows
        Rows per chunk, instead of the source's own chunks (or about 8 MB).

    Raises
    ------
    ValueError
        ``"Expected ... Received: ..."`` for a missing path, a file of unknown
        kind, non-numeric data or columns, Dask chunks of unknown size, ragged
        Parquet files, or a wrong number of dimensions.
    """
    if isinstance(x, DataSource):
        return x
    if isinstance(x, (str, os.PathLike)):
        path = Path(x).expanduser()
        label = name if name != "x" else str(x)
        if not path.exists():
            raise ValueError(
                f"Expected an existing .npy file, zarr array or Parquet file/folder for "
                f"`{name}`. Received: {str(x)!r} (not found)"
            )
        if path.suffix == ".npy" and path.is_file():
            return NpySource(path, name=label, chunk_rows=chunk_rows)
        if _looks_like_zarr(path):
            return ZarrSource(str(path), name=label, chunk_rows=chunk_rows)
        if path.suffix in (".parquet", ".pq") or path.is_dir():
            from vaewidget.data.parquet import ParquetSource

            return ParquetSource(path, columns=columns, name=label, chunk_rows=chunk_rows)
        raise ValueError(
            f"Expected a .npy file, a zarr array or Parquet files for `{name}`. "
            f"Received: {str(x)!r} (unknown kind of file)"
        )
    if isinstance(x, np.memmap) and getattr(x, "filename", None) and x.ndim in _NDIMS \
            and _is_whole_npy(x):
        return NpySource(x.filename, name=name, chunk_rows=chunk_rows)
    if is_dask_array(x):
        return DaskSource(x, name=name, chunk_rows=chunk_rows)
    if is_zarr_array(x):
        return ZarrSource(x, name=name, chunk_rows=chunk_rows)
    return ArraySource(x, name=name, chunk_rows=chunk_rows)


def _is_whole_npy(x: np.memmap) -> bool:
    """Whether ``x`` is the whole array of a ``.npy`` file (as ``np.load(mmap_mode=...)`` gives)."""
    try:
        probe = np.load(x.filename, mmap_mode="r")
    except Exception:
        return False
    same = isinstance(probe, np.memmap) and probe.shape == x.shape and probe.dtype == x.dtype \
        and probe.offset == x.offset
    del probe
    return bool(same)
