"""Data sources and streaming: read any input one chunk at a time (see ``sources.py``)."""

from __future__ import annotations

from vaewidget.data.sources import (
    ArraySource,
    DaskSource,
    DataSource,
    NpySource,
    ZarrSource,
    as_source,
    is_dask_array,
)

__all__ = [
    "ArraySource",
    "DaskSource",
    "DataSource",
    "NpySource",
    "ZarrSource",
    "as_source",
    "is_dask_array",
]
