"""Data sources: every kind of input reads back the same rows, and bad sources say why."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from vaewidget.data import DataSource, as_source
from vaewidget.models import DataPreparer

KINDS = ["array", "npy", "zarr", "parquet", "dask"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_reads_back_the_same_rows(kind, table, table_files):
    source = as_source(table_files[kind], chunk_rows=None)
    assert isinstance(source, DataSource) and source.kind == kind
    assert source.shape == table.shape and len(source) == len(table)
    assert source.row_shape == (6,) and source.ndim == 2 and source.nbytes == table.nbytes
    bounds = source.chunk_bounds
    assert bounds[0] == 0 and bounds[-1] == len(table) and np.all(np.diff(bounds) > 0)
    rows = np.concatenate([chunk for _, _, chunk in source.chunks()])
    np.testing.assert_array_equal(rows, table)
    np.testing.assert_array_equal(source.read(101, 733), table[101:733])
    assert source.read(5, 5).shape == (0, 6)
    picks = [1199, 0, 640, 3, 3]
    np.testing.assert_array_equal(source.take(picks), table[picks])
    np.testing.assert_array_equal(source.to_dask().compute(), table)
    # Dask ships sources to worker processes: a copy must read the same rows.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(source)).read(990, 1100),
                                  table[990:1100])


@pytest.mark.parametrize("kind", KINDS)
def test_chunk_rows_sets_the_chunks(kind, table_files):
    source = as_source(table_files[kind], chunk_rows=500)
    assert list(source.chunk_bounds) == [0, 500, 1000, 1200]
    assert [stop - start for start, stop, _ in source.chunks()] == [500, 500, 200]


def test_native_chunks_are_kept_when_large(tmp_path):
    import zarr

    x = np.zeros((40_000, 64), np.float32)  # 2.56 MB chunks of 10,000 rows: above the merge size
    z = zarr.create_array(store=str(tmp_path / "z.zarr"), shape=x.shape, chunks=(10_000, 64),
                          dtype="float32")
    z[:] = x
    assert list(as_source(str(tmp_path / "z.zarr")).chunk_bounds) == [0, 10_000, 20_000, 30_000,
                                                                       40_000]


def test_a_memmap_from_np_load_is_read_from_its_file(table_files, table):
    mm = np.load(table_files["npy"], mmap_mode="r")
    source = as_source(mm)
    assert source.kind == "npy" and not source.in_memory
    np.testing.assert_array_equal(source.read(0, 10), table[:10])


def test_images_on_disk(tmp_path, digits_images):
    x = np.ascontiguousarray(digits_images[0])
    np.save(tmp_path / "img.npy", x)
    source = as_source(str(tmp_path / "img.npy"))
    assert source.shape == (1797, 8, 8) and source.ndim == 3
    np.testing.assert_array_equal(source.read(7, 9), x[7:9])


# ------------------------------------------------------------------- bad sources
def test_missing_path(tmp_path):
    with pytest.raises(ValueError, match=r"Expected an existing .*Received: .*not found"):
        as_source(str(tmp_path / "nothing.npy"))


def test_unknown_file_kind(tmp_path):
    (tmp_path / "data.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match=r"Expected a .npy file.*Received: .*unknown kind"):
        as_source(str(tmp_path / "data.csv"))


def test_folder_without_parquet_files(tmp_path):
    with pytest.raises(ValueError, match=r"Expected Parquet files.*holds none"):
        as_source(str(tmp_path))


def test_non_numeric_parquet_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0], "city": ["Oslo", "Lima"]}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"Expected numeric columns.*Received: non-numeric "
                                         r"columns city \(string\)"):
        as_source(str(tmp_path / "t.parquet"))
    source = as_source(str(tmp_path / "t.parquet"), columns=["a"])
    np.testing.assert_array_equal(source.read(), [[1.0], [2.0]])
    with pytest.raises(ValueError, match=r"Expected numeric columns.*Received: missing zz"):
        as_source(str(tmp_path / "t.parquet"), columns=["zz"])


def test_ragged_parquet_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [3.0, 4.0]}), tmp_path / "p1.parquet")
    pq.write_table(pa.table({"a": [1.0, 2.0]}), tmp_path / "p2.parquet")
    with pytest.raises(ValueError, match=r"Expected every Parquet file.*Received: .*p2.parquet.*"
                                         r"ragged"):
        as_source(str(tmp_path))


def test_dask_chunks_of_unknown_size():
    import dask.array as da

    x = da.from_array(np.arange(20.0).reshape(10, 2), chunks=5)
    with pytest.raises(ValueError, match=r"Expected a Dask array with known chunk sizes.*"
                                         r"Received: chunks of unknown size"):
        as_source(x[x[:, 0] > 4])


def test_non_numeric_npy_and_wrong_dimensions(tmp_path):
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"Expected numeric data.*Received: dtype=<U1"):
        as_source(str(tmp_path / "text.npy"))
    np.save(tmp_path / "flat.npy", np.arange(10.0))
    with pytest.raises(ValueError, match=r"Expected 2-D .*Received: shape=\(10,\)"):
        as_source(str(tmp_path / "flat.npy"))


def test_zarr_group_is_not_an_array(tmp_path):
    import zarr

    zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    with pytest.raises(ValueError, match=r"Expected a zarr array. Received: .*g.zarr"):
        as_source(str(tmp_path / "g.zarr"))


def test_nan_is_reported_with_its_row_when_read(tmp_path, table):
    x = np.array(table)
    x[777, 2] = np.nan
    np.save(tmp_path / "nan.npy", x)
    source = as_source(str(tmp_path / "nan.npy"), chunk_rows=500)  # opening reads no values
    source.read(0, 500)
    with pytest.raises(ValueError, match=r"Expected finite values.*first at row 777"):
        source.read(500, 1000)
    with pytest.raises(ValueError, match=r"Expected finite values"):
        DataPreparer().fit(source)


def test_rows_of_another_shape_than_the_fitted_preparer(table_files, table):
    prep = DataPreparer().fit(table[:, :4])
    with pytest.raises(ValueError, match=r"Expected rows of shape \(4,\).*Received: "
                                         r"x.shape=\(1200, 6\)"):
        prep.check_source(table_files["npy"])
    assert prep.check_source(as_source(table[:, :4])).shape == (1200, 4)
