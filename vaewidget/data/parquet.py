"""Parquet files as a data source: numeric columns, read one row group at a time with pyarrow."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from vaewidget.data.sources import DataSource, _merge_small


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    t = arrow_type
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                or pa.types.is_decimal(t))


def parquet_files(path: str | os.PathLike) -> list[Path]:
    """The Parquet files at ``path``: the file itself, or every ``*.parquet`` below a folder."""
    root = Path(path).expanduser()
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".parquet", ".pq"))
    if not files:
        raise ValueError(
            f"Expected Parquet files (*.parquet) in the folder. Received: {str(path)!r}, "
            "which holds none."
        )
    return files


class ParquetSource(DataSource):
    """One Parquet file or a folder of them, as rows of their numeric columns.

    Every file must have the same columns. Chunks are row groups (small ones
    merged); the last row group read is kept, so reading a row group in several
    parts decodes it once.

    Parameters
    ----------
    path
        A ``.parquet`` file or a folder holding ``*.parquet`` files (read in name order).
    columns
        The columns to use; default: all, which must all be numeric.
    """

    kind = "parquet"

    def __init__(self, path: str | os.PathLike, columns: list[str] | None = None,
                 name: str | None = None, chunk_rows: int | None = None) -> None:
        import pyarrow.parquet as pq

        self.path = str(Path(path).expanduser())
        self.files = [str(f) for f in parquet_files(path)]
        name = name or self.path
        first = pq.read_schema(self.files[0])
        names = list(first.names)
        if columns is None:
            bad = [f"{f.name} ({f.type})" for f in first if not _is_numeric(f.type)]
            if bad:
                raise ValueError(
                    f"Expected numeric columns in {name!r}. Received: non-numeric columns "
                    f"{', '.join(bad[:10])}{' …' if len(bad) > 10 else ''}. Pass "
                    "columns=[...] to choose numeric ones, or encode them as numbers."
                )
            columns = names
        else:
            columns = [str(c) for c in columns]
            missing = [c for c in columns if c not in names]
            bad = [f"{c} ({first.field(c).type})" for c in columns
                   if c in names and not _is_numeric(first.field(c).type)]
            if missing or bad or not columns:
                raise ValueError(
                    f"Expected numeric columns of {name!r} in columns=. Received: "
                    f"{'missing ' + ', '.join(missing) if missing else ''}"
                    f"{'; ' if missing and bad else ''}"
                    f"{'non-numeric ' + ', '.join(bad) if bad else ''}"
                    f"{'an empty list' if not columns else ''}"
                )
        self.columns = columns
        groups: list[tuple[int, int, int]] = []  # (file index, row group, rows)
        for i, file in enumerate(self.files):
            meta = pq.read_metadata(file)
            schema = meta.schema.to_arrow_schema()
            missing = [c for c in columns if c not in schema.names]
            if missing or any(not _is_numeric(schema.field(c).type) for c in columns):
                raise ValueError(
                    f"Expected every Parquet file in {name!r} to have the numeric columns of "
                    f"the first ({len(columns)} columns). Received: {file!r} with columns "
                    f"{schema.names[:10]}{' …' if len(schema.names) > 10 else ''} "
                    "(ragged files cannot form one table)."
                )
            groups += [(i, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
        self.groups = [g for g in groups if g[2] > 0]
        sizes = np.array([g[2] for g in self.groups], dtype=np.int64)
        self.group_bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        super().__init__(int(self.group_bounds[-1]), (len(columns),), np.float32, name,
                         chunk_rows=chunk_rows)
        if chunk_rows is None:
            self.chunk_bounds = _merge_small(self.group_bounds, self.row_bytes)
        self._lock = threading.Lock()
        self._cache: tuple[int, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_lock"], state["_cache"] = None, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _group(self, g: int) -> np.ndarray:
        import pyarrow.parquet as pq

        with self._lock:
            cached = self._cache
        if cached is not None and cached[0] == g:
            return cached[1]
        file_index, group, rows = self.groups[g]
        table = pq.ParquetFile(self.files[file_index]).read_row_group(group, columns=self.columns)
        out = np.empty((rows, len(self.columns)), np.float32)
        for j, column in enumerate(table.columns):
            out[:, j] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float32)
        with self._lock:
            self._cache = (g, out)
        return out

    def _read(self, start: int, stop: int) -> np.ndarray:
        first = int(np.searchsorted(self.group_bounds, start, side="right")) - 1
        last = int(np.searchsorted(self.group_bounds, stop, side="left"))
        parts = []
        for g in range(first, last):
            lo, hi = self.group_bounds[g], self.group_bounds[g + 1]
            part = self._group(g)[max(start, lo) - lo: min(stop, hi) - lo]
            parts.append(part)
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)
