"""Real files of one small table in every supported format, written once per session.

``table`` is a float32 (1,200, 6) array of clustered rows with standardized-scale
values; ``table_files`` maps each source kind to what a user would pass for it:
the array itself, a ``.npy`` path, a zarr path, a folder of Parquet files (three
files of several row groups each), and a Dask array.
"""

from __future__ import annotations

import numpy as np
import pytest

from vaewidget import datasets


def write_formats(x: np.ndarray, folder) -> dict:
    """Write ``x`` as .npy, zarr and Parquet under ``folder``; return every source kind."""
    import dask.array as da
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zarr

    np.save(folder / "x.npy", x)
    z = zarr.create_array(store=str(folder / "x.zarr"), shape=x.shape, chunks=(97, x.shape[1]),
                          dtype="float32")
    z[:] = x
    pq_dir = folder / "parquet"
    pq_dir.mkdir()
    for i, part in enumerate(np.array_split(x, 3)):
        table = pa.table({f"f{j}": part[:, j] for j in range(x.shape[1])})
        pq.write_table(table, pq_dir / f"part-{i}.parquet", row_group_size=150)
    return {
        "array": x,
        "npy": str(folder / "x.npy"),
        "zarr": str(folder / "x.zarr"),
        "parquet": str(pq_dir),
        "dask": da.from_array(x, chunks=(250, x.shape[1])),
    }


@pytest.fixture(scope="session")
def formats():
    """The function that writes an array in every format: ``formats(x, folder) -> dict``."""
    return write_formats


@pytest.fixture(scope="session")
def table() -> np.ndarray:
    x, _ = datasets.make_manifold_clusters(
        n_samples=1200, n_clusters=3, n_features=6, noise_features=1, random_state=0
    )
    x = np.ascontiguousarray(x, dtype=np.float32)
    x.setflags(write=False)
    return x


@pytest.fixture(scope="session")
def table_labels() -> np.ndarray:
    return datasets.make_manifold_clusters(
        n_samples=1200, n_clusters=3, n_features=6, noise_features=1, random_state=0
    )[1]


@pytest.fixture(scope="session")
def table_files(table, tmp_path_factory) -> dict:
    return write_formats(np.array(table), tmp_path_factory.mktemp("table"))
