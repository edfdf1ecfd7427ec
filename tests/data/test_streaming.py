"""SourceDataset: every row once per pass, shuffled by block then by row, held-out blocks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from vaewidget.data import as_source
from vaewidget.data.streaming import SourceDataset, plan_blocks, split_blocks


def served(ds: SourceDataset) -> np.ndarray:
    return np.concatenate([ds[i] for i in range(len(ds))])


def test_blocks_are_chunks_split_when_too_few(table_files):
    source = as_source(table_files["npy"], chunk_rows=500)
    assert list(plan_blocks(source)) == [0, 500, 1000, 1200]
    bounds = plan_blocks(source, min_blocks=20)
    assert len(bounds) - 1 >= 20 and bounds[0] == 0 and bounds[-1] == 1200
    assert {500, 1000} <= set(bounds.tolist())  # blocks never straddle a chunk


def test_validation_blocks_are_held_out_once_and_disjoint(table_files):
    bounds = plan_blocks(as_source(table_files["zarr"]), min_blocks=20)
    train, val = split_blocks(bounds, 0.1, seed=3)
    assert len(val) == round(0.1 * (len(bounds) - 1)) and train and val
    assert sorted(train + val) == list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    assert split_blocks(bounds, 0.1, seed=3) == (train, val)
    everything, none = split_blocks(bounds, 0.0, seed=3)
    assert none == [] and len(everything) == len(bounds) - 1
    with pytest.raises(ValueError, match=r"Expected at least one training block"):
        split_blocks(np.array([0, 10]), 0.5)


def test_a_pass_serves_every_row_once_shuffled_by_block(table, table_files):
    source = as_source(table_files["npy"], chunk_rows=100)
    ds = SourceDataset(source, batch_size=64, seed=0)
    assert isinstance(ds, keras.utils.PyDataset) and len(ds) == 19
    rows = served(ds)
    order = ds.rows_in_order()
    np.testing.assert_array_equal(rows, table[order])
    assert sorted(order.tolist()) == list(range(1200))
    assert not np.array_equal(order, np.arange(1200))
    # Block by block: each run of 100 served rows comes from one chunk of the file.
    assert all(len(set((part // 100).tolist())) == 1 for part in np.split(order, 12))
    # The next pass (asked for by index 0 after the last batch) shuffles anew.
    rows2 = served(ds)
    assert ds.pass_ == 1 and not np.array_equal(rows, rows2)
    np.testing.assert_array_equal(np.sort(rows2, axis=0), np.sort(rows, axis=0))
    # The same seed and pass give the same order.
    again = SourceDataset(source, batch_size=64, seed=0)
    again.set_pass(1)
    np.testing.assert_array_equal(served(again), rows2)


def test_without_shuffle_rows_come_in_order_and_are_prepared(table, table_files):
    source = as_source(table_files["parquet"])
    blocks = [(100, 250), (900, 1000)]
    ds = SourceDataset(source, blocks, prepare=lambda r: r * 2, batch_size=64, shuffle=False)
    assert len(ds) == 4 and ds.n_rows == 250
    np.testing.assert_allclose(served(ds), 2 * np.concatenate([table[100:250], table[900:1000]]))


def test_a_model_fits_from_the_dataset(table_files, make_vae):
    model = make_vae(table_files["array"])
    ds = SourceDataset(as_source(table_files["zarr"]), prepare=model.preparer.scale_rows,
                       batch_size=128, seed=0)
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert ds.pass_ >= 1
