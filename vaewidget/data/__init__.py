"""Data sources and streaming: read any input one chunk at a time (see ``sources.py``)."""

from __future__ import annotations

from vaewidget.data.resolve import as_source, is_dask_array, is_zarr_array
from vaewidget.data.sources import ArraySource, DaskSource, DataSource, NpySource, ZarrSource

__all__ = [
    "ArraySource",
    "DaskSource",
    "DataSource",
    "NpySource",
    "ZarrSource",
    "as_source",
    "is_dask_array",
    "is_zarr_array",
]
