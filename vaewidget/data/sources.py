"""Data sources: every kind of input, read the same way, one chunk at a time.

:func:`as_source` turns what a user passes (a numpy array, a DataFrame, nested lists,
a path to a ``.npy`` file, a zarr array or the path to one, a Parquet file or a folder
of them, a Dask array) into a :class:`DataSource`: a sized, chunked reader with
``n_rows``, ``row_shape``, ``dtype``, ``chunk_bounds``, ``read(start, stop)`` and
``chunks()``. The rest of vaewidget reads data through it, so a dataset larger than
memory is never loaded whole.

Reads return float32 rows and are checked: a NaN or infinite value raises
``ValueError("Expected finite values ... Received: ...")`` naming its row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vaewidget._validation import as_float_array

#: Rows per chunk aim at this many bytes (as float32) where a source has no chunks of its own.
DEFAULT_CHUNK_BYTES = 8 * 2**20
#: Native chunks smaller than this are merged with their neighbours when reading.
MIN_CHUNK_BYTES = 2 * 2**20
_NDIMS = (2, 3, 4)


class DataSource:
    """A sized, chunked, read-only table of rows (the base of every source).

    Attributes
    ----------
    kind : str
        ``"array"``, ``"npy"``, ``"zarr"``, ``"parquet"`` or ``"dask"``.
    n_rows : int
        Number of rows.
    row_shape : tuple of int
        Shape of one row: ``(features,)``, ``(H, W)`` or ``(H, W, C)``.
    dtype : numpy.dtype
        The stored dtype (reads return float32).
    chunk_bounds : ndarray of int
        ``n_chunks + 1`` row indices from 0 to ``n_rows``: chunk ``i`` is rows
        ``chunk_bounds[i]:chunk_bounds[i + 1]``.
    in_memory : bool
        Whether the rows already sit in memory (a numpy array).
    name : str
        What error messages call the data (``"x"``, or the path).
    """

    kind = "base"
    in_memory = False

    def __init__(self, n_rows: int, row_shape: tuple[int, ...], dtype: Any, name: str,
                 native_rows: int | None = None, chunk_rows: int | None = None) -> None:
        self.n_rows = int(n_rows)
        self.row_shape = tuple(int(d) for d in row_shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        _check_shape(self.shape, name)
        self.chunk_bounds = _plan_chunks(self.n_rows, self.row_bytes, native_rows, chunk_rows)

    # ------------------------------------------------------------------ sizes
    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_rows, *row_shape)``."""
        return (self.n_rows, *self.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    @property
    def row_bytes(self) -> int:
        """Bytes of one row as float32."""
        return 4 * int(np.prod(self.row_shape))

    @property
    def nbytes(self) -> int:
        """Bytes of all rows as float32."""
        return self.n_rows * self.row_bytes

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_bounds) - 1

    def __len__(self) -> int:
        return self.n_rows

    # ---------------------------------------------------------------- reading
    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` as a new float32 array, checked for finite values."""
        stop = self.n_rows if stop is None else min(int(stop), self.n_rows)
        start = max(0, int(start))
        if stop <= start:
            return np.empty((0, *self.row_shape), np.float32)
        out = np.asarray(self._read(start, stop), dtype=np.float32)
        check_finite(out, self.name, start)
        return out

    def chunks(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(start, stop, rows)`` for each chunk in order."""
        for start, stop in zip(self.chunk_bounds[:-1], self.chunk_bounds[1:]):
            yield int(start), int(stop), self.read(start, stop)

    def take(self, indices: Any) -> np.ndarray:
        """The rows at ``indices`` (any order), read chunk by chunk."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_rows):
            raise ValueError(
                f"Expected row indices in [0, {self.n_rows}). Received: "
                f"min {idx.min()}, max {idx.max()}"
            )
        order = np.argsort(idx, kind="stable")
        out = np.empty((len(idx), *self.row_shape), np.float32)
        sorted_idx = idx[order]
        which = np.searchsorted(self.chunk_bounds, sorted_idx, side="right") - 1
        for c in np.unique(which):
            sel = which == c
            rows = sorted_idx[sel]
            block = self.read(rows.min(), rows.max() + 1)
            out[order[sel]] = block[rows - rows.min()]
        return out

    def _read(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def to_dask(self, chunk_rows: int | None = None) -> Any:
        """A Dask array over the same rows, one task per chunk, float32.

        Each task calls :meth:`read` on its own copy of this (picklable) source, so
        the rows are read where the task runs and never pass through the caller.
        """
        import dask
        import dask.array as da

        bounds = self.chunk_bounds if chunk_rows is None else _even_bounds(self.n_rows, chunk_rows)
        parts = [
            da.from_delayed(dask.delayed(_read_part, pure=True)(self, int(a), int(b)),
                            shape=(int(b - a), *self.row_shape), dtype=np.float32)
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
        return da.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, shape={self.shape}, dtype={self.dtype}, "
                f"{self.n_chunks} chunk{'s' if self.n_chunks != 1 else ''})")


def _read_part(source: DataSource, start: int, stop: int) -> np.ndarray:
    return source.read(start, stop)


class ArraySource(DataSource):
    """Rows already in memory (a numpy array, a DataFrame or nested lists)."""

    kind = "array"
    in_memory = True

    def __init__(self, x: Any, name: str = "x", chunk_rows: int | None = None) -> None:
        self.array = as_float_array(x, name=name)
        super().__init__(len(self.array), self.array.shape[1:], self.array.dtype, name,
                         chunk_rows=chunk_rows)

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        # as_float_array checked every value already; a slice is a view, not a copy.
        return self.array[max(0, int(start)): self.n_rows if stop is None else int(stop)]

    def take(self, indices: Any) -> np.ndarray:
        return self.array[np.asarray(indices, dtype=np.int64)]

    def to_dask(self, chunk_rows: int | None = None) -> Any:
        import dask.array as da

        bounds = self.chunk_bounds if chunk_rows is None else _even_bounds(self.n_rows, chunk_rows)
        return da.from_array(self.array, chunks=(tuple(np.diff(bounds).tolist()),
                                                 *self.row_shape))


class NpySource(DataSource):
    """A ``.npy`` file, memory-mapped one chunk at a time.

    Each read maps only the rows it needs and unmaps them after copying, so
    reading the whole file never holds more than a chunk in this process's
    memory (pages of a mapping that stays open would count towards its RSS).
    """

    kind = "npy"

    def __init__(self, path: str | os.PathLike, name: str | None = None,
                 chunk_rows: int | None = None) -> None:
        self.path = str(Path(path).expanduser())
        try:
            probe = np.load(self.path, mmap_mode="r")
        except Exception as err:  # not an .npy file, or an object array
            raise ValueError(
                f"Expected a .npy file of numbers. Received: {self.path!r} ({err})"
            ) from None
        if not isinstance(probe, np.memmap):
            raise ValueError(f"Expected a .npy file of numbers. Received: {self.path!r}")
        self.offset = int(probe.offset)
        self.fortran = bool(probe.flags.f_contiguous and not probe.flags.c_contiguous)
        shape, dtype = probe.shape, probe.dtype
        del probe
        _check_dtype(dtype, name or self.path)
        super().__init__(shape[0] if shape else 0, shape[1:], dtype, name or self.path,
                         chunk_rows=chunk_rows)

    def _map(self, start: int, stop: int) -> np.ndarray:
        if self.fortran:  # columns are contiguous: map them all, touch only rows start:stop
            whole = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset,
                              shape=self.shape, order="F")
            return whole[start:stop]
        per_row = int(np.prod(self.row_shape)) * self.dtype.itemsize
        return np.memmap(self.path, dtype=self.dtype, mode="r",
                         offset=self.offset + start * per_row, shape=(stop - start, *self.row_shape))

    def _read(self, start: int, stop: int) -> np.ndarray:
        view = self._map(start, stop)
        out = np.array(view, dtype=np.float32)  # a copy: the mapping closes with `view`
        del view
        return out

    def take(self, indices: Any) -> np.ndarray:
        """The rows at ``indices``, read with one ``pread`` per row: a memory map would
        fault in (and count towards RSS) whole pages, and their neighbours, per row."""
        if self.fortran:
            return super().take(indices)
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_rows):
            raise ValueError(f"Expected row indices in [0, {self.n_rows}). Received: {idx.min()}"
                             f"..{idx.max()}")
        per_row = int(np.prod(self.row_shape)) * self.dtype.itemsize
        raw = bytearray(len(idx) * per_row)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for j, i in enumerate(idx.tolist()):
                raw[j * per_row:(j + 1) * per_row] = os.pread(fd, per_row,
                                                             self.offset + i * per_row)
        finally:
            os.close(fd)
        out = np.frombuffer(raw, dtype=self.dtype).reshape((len(idx), *self.row_shape))
        out = out.astype(np.float32)
        check_finite(out, self.name, None)
        return out


class ZarrSource(DataSource):
    """A zarr array (or the path to one), read chunk by chunk along the rows."""

    kind = "zarr"

    def __init__(self, array: Any, name: str | None = None, chunk_rows: int | None = None) -> None:
        import zarr

        if isinstance(array, (str, os.PathLike)):
            path = str(Path(array).expanduser())
            try:
                array = zarr.open_array(path, mode="r")
            except Exception as err:  # a group, or no array there
                raise ValueError(
                    f"Expected a zarr array. Received: {path!r} ({type(err).__name__}: {err})"
                ) from None
            name = name or path
        self.array = array
        _check_dtype(array.dtype, name or "x")
        super().__init__(array.shape[0] if array.shape else 0, array.shape[1:], array.dtype,
                         name or "x", native_rows=int(array.chunks[0]) if array.shape else None,
                         chunk_rows=chunk_rows)

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self.array[start:stop]


class DaskSource(DataSource):
    """A Dask array: its own chunks along the rows, each computed when read."""

    kind = "dask"

    def __init__(self, array: Any, name: str = "x", chunk_rows: int | None = None) -> None:
        row_chunks = array.chunks[0] if array.ndim else ()
        if any(not np.isfinite(c) for c in row_chunks) or any(
            not np.isfinite(d) for d in array.shape
        ):
            raise ValueError(
                f"Expected a Dask array with known chunk sizes for `{name}`. Received: chunks "
                f"of unknown size (shape={array.shape}); call x.compute_chunk_sizes() first."
            )
        _check_dtype(array.dtype, name)
        self.array = array
        native = int(max(row_chunks)) if row_chunks else None
        super().__init__(array.shape[0] if array.ndim else 0, array.shape[1:], array.dtype, name,
                         chunk_rows=chunk_rows)
        if chunk_rows is None and native is not None:
            bounds = np.concatenate([[0], np.cumsum(row_chunks)]).astype(np.int64)
            self.chunk_bounds = _merge_small(bounds, self.row_bytes)

    def _read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.array[start:stop].compute())

    def to_dask(self, chunk_rows: int | None = None) -> Any:
        arr = self.array.astype(np.float32)
        return arr if chunk_rows is None else arr.rechunk({0: int(chunk_rows)})


# ---------------------------------------------------------------------------- helpers
def check_finite(arr: np.ndarray, name: str, offset: int | None) -> None:
    """Raise ``ValueError`` naming the first non-finite row of ``arr``."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    bad = np.argwhere(~finite)[0]
    n_nan = int(np.isnan(arr).sum())
    n_inf = int((~finite).sum()) - n_nan
    where = f"row {int(bad[0]) + offset}" if offset is not None else f"index {tuple(bad)}"
    raise ValueError(
        f"Expected finite values in `{name}`. Received: {n_nan} NaN and {n_inf} infinite "
        f"values in the rows read (first at {where}). Impute or drop them; values beyond "
        "float32's range (about 3.4e38) also count as infinite."
    )


def _check_dtype(dtype: Any, name: str) -> None:
    kind = np.dtype(dtype).kind
    if kind not in "biuf":
        raise ValueError(
            f"Expected numeric data in `{name}`. Received: dtype={np.dtype(dtype)}. "
            "Convert it to numbers before passing it."
        )


def _check_shape(shape: tuple[int, ...], name: str) -> None:
    if len(shape) not in _NDIMS:
        raise ValueError(
            "Expected 2-D (rows, features), 3-D (rows, height, width) or 4-D "
            f"(rows, height, width, channels) data in `{name}`. Received: shape={shape}"
        )
    if shape[0] < 1:
        raise ValueError(f"Expected at least 1 row in `{name}`. Received: shape={shape}")
    if min(shape[1:]) == 0:
        raise ValueError(f"Expected at least one feature in `{name}`. Received: shape={shape}")


def _even_bounds(n_rows: int, rows: int) -> np.ndarray:
    rows = max(1, int(rows))
    return np.unique(np.concatenate([np.arange(0, n_rows, rows), [n_rows]])).astype(np.int64)


def _merge_small(bounds: np.ndarray, row_bytes: int) -> np.ndarray:
    """Merge consecutive chunks smaller than ``MIN_CHUNK_BYTES`` (never split one)."""
    min_rows = max(1, MIN_CHUNK_BYTES // max(row_bytes, 1))
    out = [int(bounds[0])]
    for b in bounds[1:-1]:
        if int(b) - out[-1] >= min_rows:
            out.append(int(b))
    if len(bounds) > 1:
        if len(out) > 1 and int(bounds[-1]) - out[-1] < min_rows // 2:
            out.pop()  # a small tail joins the chunk before it
        out.append(int(bounds[-1]))
    return np.asarray(out, dtype=np.int64)


def _plan_chunks(n_rows: int, row_bytes: int, native_rows: int | None,
                 chunk_rows: int | None) -> np.ndarray:
    if chunk_rows is not None:
        if int(chunk_rows) < 1:
            raise ValueError(f"Expected chunk_rows >= 1. Received: chunk_rows={chunk_rows}")
        return _even_bounds(n_rows, int(chunk_rows))
    if native_rows:
        return _merge_small(_even_bounds(n_rows, native_rows), row_bytes)
    return _even_bounds(n_rows, max(1, DEFAULT_CHUNK_BYTES // max(row_bytes, 1)))
