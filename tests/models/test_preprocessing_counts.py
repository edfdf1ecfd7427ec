"""DataPreparer's count route: depth-normalize, log1p, standardize, and back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vaewidget.data import as_source
from vaewidget.models import DataPreparer


def test_auto_rule_for_count_tables_is_log_counts_and_mse(count_table):
    x, _ = count_table
    prep = DataPreparer().fit(x)
    assert (prep.scaling_, prep.reconstruction_) == ("counts", "mse")
    assert "counts" in prep.reason_ and "log1p" in prep.reason_
    total = x.sum(1).mean()
    np.testing.assert_allclose(prep.count_total_, total, rtol=1e-5)
    logged = np.log1p(x / x.sum(1, keepdims=True) * total)
    expected = (logged - logged.mean(0)) / np.where(logged.std(0) > 0, logged.std(0), 1)
    np.testing.assert_allclose(prep.transform(x), expected, rtol=1e-4, atol=1e-4)


def test_a_row_and_a_deeper_copy_of_it_are_prepared_alike(count_table):
    x, _ = count_table
    prep = DataPreparer().fit(x)
    out = prep.transform(np.stack([x[0], 3 * x[0]]))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-5)


def test_inverse_gives_counts_per_mean_row_total(count_table):
    x = count_table[0].copy()
    x[5] = 0  # an all-zero row stays zero
    prep = DataPreparer().fit(x)
    back = prep.inverse_transform(prep.transform(x))
    sums = x.sum(1, keepdims=True)
    expected = np.divide(x * prep.count_total_, sums, out=np.zeros_like(x), where=sums > 0)
    np.testing.assert_allclose(back, expected, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(back[5], 0, atol=1e-6)


@pytest.mark.parametrize(
    "x",
    [
        np.random.default_rng(0).integers(1, 9, (80, 30)) * np.geomspace(1, 1000, 30).round(),
        np.random.default_rng(0).poisson(0.5, (80, 6)) * [1.0, 2, 5, 10, 50, 100],  # 6 columns
        np.random.default_rng(0).poisson(0.5, (80, 30)) + 0.5,  # not integers
    ],
    ids=["few-zeros", "few-columns", "not-integers"],
)
def test_other_non_negative_tables_are_standardized(x):
    assert DataPreparer().fit(x).scaling_ == "standard"


def test_negative_values_are_refused_and_the_preparer_is_kept(count_table):
    x, _ = count_table
    prep = DataPreparer().fit(x)
    before = prep.transform(x[:3])
    bad = x[:3].copy()
    bad[1, 4] = -2
    with pytest.raises(ValueError, match=r"Expected non-negative counts.*Received: `x`\[1, 4\] = -2"):
        prep.transform(bad)
    with pytest.raises(ValueError, match=r"Expected non-negative counts.*Received"):
        prep.scale_rows(bad)
    np.testing.assert_array_equal(prep.transform(x[:3]), before)


def test_counts_chosen_by_name_need_a_table_of_non_negative_values():
    with pytest.raises(ValueError, match=r"Expected a table of non-negative values for "
                                         r"scaling='counts'\. Received: x.shape=\(10, 2\)"):
        DataPreparer("counts").fit(np.arange(-10.0, 10.0).reshape(10, 2))
    with pytest.raises(ValueError, match=r"scaling='counts'"):
        DataPreparer("counts", "bce").fit(np.arange(20.0).reshape(10, 2))
    prep = DataPreparer("counts").fit(np.arange(20.0).reshape(10, 2) + 0.5)
    assert prep.scaling_ == "counts" and "chosen by the user" in prep.reason_


def test_count_config_is_json_and_round_trips(count_table):
    x, _ = count_table
    prep = DataPreparer().fit(x)
    clone = DataPreparer.from_config(json.loads(json.dumps(prep.get_config())))
    assert clone.count_total_ == pytest.approx(prep.count_total_)
    np.testing.assert_array_equal(clone.transform(x), prep.transform(x))
    np.testing.assert_array_equal(clone.inverse_transform(clone.transform(x[:4])),
                                  prep.inverse_transform(prep.transform(x[:4])))


def test_streaming_count_fit_equals_in_memory_fit(count_table):
    x, _ = count_table
    whole = DataPreparer().fit(x)
    for rows in (1, 7, 64):
        part = DataPreparer().fit(as_source(x, chunk_rows=rows))
        assert (part.scaling_, part.reason_) == (whole.scaling_, whole.reason_)
        assert part.count_total_ == pytest.approx(whole.count_total_, rel=1e-6)
        np.testing.assert_allclose(part.offset_, whole.offset_, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(part.scale_, whole.scale_, rtol=1e-5)
