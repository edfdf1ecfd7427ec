"""as_float_array: what it accepts, and the "Expected ... Received" message for what it does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaewidget._validation import NonNumericDataError, as_float_array, data_kind


@pytest.mark.parametrize(
    "x, shape",
    [
        ([[1, 2, 3], [4, 5, 6]], (2, 3)),  # nested lists
        (np.arange(6, dtype=np.int64).reshape(2, 3), (2, 3)),
        (np.ones((3, 4, 5)), (3, 4, 5)),
        (np.ones((2, 4, 5, 3)), (2, 4, 5, 3)),
        (np.array([[True, False], [False, True]]), (2, 2)),
        (np.array([[1, 2.5], [3, 4]], dtype=object), (2, 2)),  # numbers in an object array
    ],
)
def test_accepts_numeric_array_likes(x, shape):
    arr = as_float_array(x)
    assert arr.shape == shape and arr.dtype == np.float32


def test_accepts_numeric_dataframes_including_nullable_and_bool_columns():
    df = pd.DataFrame(
        {"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": [True, False, True]}
    ).astype({"a": "Int64"})
    arr = as_float_array(df)
    np.testing.assert_array_equal(arr, [[1, 0.5, 1], [2, 1.5, 0], [3, 2.5, 1]])


def test_float32_input_is_not_copied():
    x = np.ones((3, 2), np.float32)
    assert as_float_array(x) is x


def _raises(x, *fragments, **kwargs):
    with pytest.raises(ValueError) as info:
        as_float_array(x, **kwargs)
    message = str(info.value)
    assert "Expected" in message and "Received" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def test_nan_and_inf_are_counted_and_located():
    x = np.zeros((3, 4))
    x[1, 2] = np.nan
    x[2, 0] = np.inf
    _raises(x, "1 NaN and 1 infinite", "(1, 2)")


def test_nan_in_a_nullable_dataframe_column():
    df = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": [1.0, 2.0, 3.0]})
    _raises(df, "1 NaN")


def test_non_numeric_dataframe_columns_are_named():
    df = pd.DataFrame({"a": [1.0, 2.0], "city": ["Oslo", "Lima"], "when": pd.to_datetime(["2020", "2021"])})
    err = _raises(df, "Received: non-numeric columns city (", "when (datetime64")
    assert isinstance(err, NonNumericDataError) and "'a" not in str(err)


@pytest.mark.parametrize(
    "x",
    [
        np.array([["1.5", "2"], ["3", "4"]]),  # unicode array, even numeric-looking
        np.array([[1.0, "x"], [2.0, 3.0]], dtype=object),
        [["a", "b"], ["c", "d"]],
    ],
)
def test_strings_are_refused(x):
    err = _raises(x, "numeric")
    assert isinstance(err, TypeError)  # NonNumericDataError is both, like numpy's own error


def test_other_objects_give_numpys_reason():
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=object)
    x[0, 0] = {"foo": "bar"}
    _raises(x, "{'foo': 'bar'}", "argument must be a string or a real number")


def test_ragged_lists_are_refused():
    _raises([[1, 2, 3], [4, 5]], "rectangular", "ragged")


@pytest.mark.parametrize("shape", [(10,), (2, 3, 4, 5, 6), ()])
def test_wrong_number_of_dimensions(shape):
    _raises(np.ones(shape), f"x.shape={shape}")


def test_zero_rows_and_too_few_rows():
    _raises(np.ones((0, 3)), "at least 1 row", "n_samples=0")
    _raises(np.ones((1, 3)), "at least 2 rows", "n_samples=1", min_rows=2)


def test_zero_features():
    _raises(np.ones((12, 0)), "0 feature(s) (shape=(12, 0)) while a minimum of 1 is required")


def test_complex_and_none_are_refused():
    _raises(np.ones((2, 2), complex), "real numbers")
    _raises(None, "x=None")


def test_error_uses_the_given_name():
    _raises(np.ones(3), "Received: data.shape=(3,)", name="data")


def test_data_kind():
    assert data_kind(np.ones((2, 3))) == "tabular"
    assert data_kind(np.ones((2, 3, 3))) == "image"
    assert data_kind(np.ones((2, 3, 3, 1))) == "image"


@pytest.mark.parametrize(
    "x",
    [
        np.array([["2024-01-01", "2024-01-02"]], dtype="datetime64[D]"),
        np.array([[1, 2]], dtype="timedelta64[s]"),
        np.array([[np.datetime64("2024-01-01"), 1.0]], dtype=object),
        pd.Series(pd.date_range("2024-01-01", periods=3)).to_frame().to_numpy(),
        pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3), "v": [1.0, 2, 3]}),
    ],
)
def test_dates_are_refused_not_turned_into_numbers(x):
    with pytest.raises(ValueError, match=r"Expected numeric|Expected numbers") as info:
        as_float_array(x)
    assert "Received" in str(info.value)


def test_masked_entries_are_refused_not_unmasked():
    x = np.ma.array([[1.0, 2.0], [3.0, 4.0]], mask=[[False, True], [False, False]])
    with pytest.raises(ValueError, match="Expected plain values.*1 masked entries"):
        as_float_array(x)
    # Nothing masked: nothing to lose.
    np.testing.assert_array_equal(as_float_array(np.ma.array([[1.0, 2.0]])), [[1.0, 2.0]])
