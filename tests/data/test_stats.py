"""The streaming fit of DataPreparer: one pass over chunks gives the in-memory result."""

from __future__ import annotations

import numpy as np
import pytest

from vaewidget.data import as_source
from vaewidget.data.stats import ColumnStats
from vaewidget.models import DataPreparer


def test_chan_merge_equals_one_shot_statistics():
    rng = np.random.default_rng(0)
    # Far from zero and of unequal scales: where a naive sum of squares loses digits.
    x = (rng.normal(size=(10_001, 5)) * [1, 10, 1e3, 0.01, 5] + [1e4, -3, 0, 7, 1e2]).astype(
        np.float32)
    stats = ColumnStats()
    for part in np.array_split(x, [1, 2, 700, 5000, 5001]):  # uneven, some of one row
        stats.update(part)
    x64 = x.astype(np.float64)
    assert stats.n == len(x)
    np.testing.assert_allclose(stats.mean, x64.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, x64.var(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(stats.min, x.min(axis=0))
    np.testing.assert_array_equal(stats.max, x.max(axis=0))
    np.testing.assert_allclose(stats.overall_mean, x64.mean(), rtol=1e-12)
    np.testing.assert_allclose(stats.overall_var, x64.var(), rtol=1e-6)
    assert not stats.integers
    assert stats.zeros.sum() == 0 and stats.zero_share == 0.0


def _same(a: DataPreparer, b: DataPreparer) -> None:
    assert (a.kind_, a.scaling_, a.reconstruction_, a.reason_) == (
        b.kind_, b.scaling_, b.reconstruction_, b.reason_)
    assert a.original_shape_ == b.original_shape_ and a.input_shape_ == b.input_shape_
    assert a.constant_columns_ == b.constant_columns_ and a.value_range_ == b.value_range_
    np.testing.assert_allclose(a.offset_, b.offset_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a.scale_, b.scale_, rtol=1e-6)


@pytest.mark.parametrize("scaling", ["auto", "standard", "minmax", "none"])
def test_streaming_fit_equals_in_memory_fit_on_tables(scaling, tiny_data, digits):
    for x in (tiny_data[0], digits[0]):
        if scaling == "none" and x.max() > 1:
            x = x / x.max()
        whole = DataPreparer(scaling).fit(np.array(x))
        for rows in (1, 7, 64):
            _same(DataPreparer(scaling).fit(as_source(x, chunk_rows=rows)), whole)


@pytest.mark.parametrize("scaling", ["auto", "standard"])
def test_streaming_fit_equals_in_memory_fit_on_images(scaling, digits_images, tmp_path):
    x = np.ascontiguousarray(digits_images[0])
    np.save(tmp_path / "img.npy", x)
    whole = DataPreparer(scaling).fit(x)
    _same(DataPreparer(scaling).fit(as_source(str(tmp_path / "img.npy"), chunk_rows=100)), whole)


@pytest.mark.parametrize("kind", ["npy", "zarr", "parquet", "dask"])
def test_streaming_fit_from_every_kind_of_file(kind, table, table_files):
    _same(DataPreparer().fit(table_files[kind]), DataPreparer().fit(np.array(table)))


def test_too_few_rows_and_constant_sources_keep_their_messages(tmp_path):
    np.save(tmp_path / "one.npy", np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"Expected at least 2 rows"):
        DataPreparer().fit(str(tmp_path / "one.npy"))
    np.save(tmp_path / "flat.npy", np.ones((10, 3), np.float32))
    with pytest.raises(ValueError, match=r"Expected data that varies"):
        DataPreparer().fit(str(tmp_path / "flat.npy"))


def test_zero_counts_merge_across_chunks():
    x = np.random.default_rng(1).poisson(0.7, (301, 4)).astype(np.float32)
    stats = ColumnStats()
    for part in np.array_split(x, [1, 50, 51, 300]):
        stats.update(part)
    np.testing.assert_array_equal(stats.zeros, (x == 0).sum(axis=0))
    assert stats.zero_share == pytest.approx((x == 0).mean())
