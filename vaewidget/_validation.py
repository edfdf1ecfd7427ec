"""Input checks shared by the models, the trainer, the clusterer and the widgets.

Every error says what was expected and what was received, in the Keras style:
``Expected 2-D, 3-D or 4-D input. Received: x.shape=(10,)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_KIND_BY_NDIM = {2: "tabular", 3: "image", 4: "image"}


def as_float_array(x: Any, *, name: str = "x", min_rows: int = 1) -> np.ndarray:
    """Return ``x`` as a finite float32 array of 2, 3 or 4 dimensions.

    Accepts numpy arrays, numeric pandas DataFrames and nested lists.

    Parameters
    ----------
    x
        The data: rows first.
    name
        The name used in error messages.
    min_rows
        The least number of rows accepted.

    Raises
    ------
    ValueError
        On non-numeric data, a wrong number of dimensions, too few rows,
        NaN or infinite values.
    """
    if x is None:
        raise ValueError(f"Expected an array-like of numbers for `{name}`. Received: {name}=None")
    columns = getattr(x, "columns", None)
    dtypes = getattr(x, "dtypes", None)
    if columns is not None and dtypes is not None:  # a pandas DataFrame
        bad = [str(c) for c, t in zip(columns, dtypes) if not _is_numeric_dtype(t)]
        if bad:
            raise ValueError(
                f"Expected numeric columns in `{name}`. Received non-numeric columns: "
                f"{bad[:10]}{' …' if len(bad) > 10 else ''}. Encode them as numbers "
                "(for example with pandas.get_dummies) or drop them."
            )
        x = x.to_numpy(dtype=np.float64)
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise ValueError(
            f"Expected a rectangular array-like for `{name}`. Received a ragged sequence ({err})."
        ) from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"Expected numeric data in `{name}`. Received dtype={arr.dtype} with values "
                f"that are not numbers, e.g. {_first_non_number(arr)!r}."
            ) from None
    if np.iscomplexobj(arr):
        raise ValueError(f"Expected real numbers in `{name}`. Received: dtype={arr.dtype}")
    if arr.ndim not in _KIND_BY_NDIM:
        raise ValueError(
            "Expected 2-D (rows, features), 3-D (rows, height, width) or 4-D "
            f"(rows, height, width, channels) input for `{name}`. Received: {name}.shape={arr.shape}"
        )
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"Expected at least {min_rows} row{'s' if min_rows != 1 else ''} in `{name}`. "
            f"Received: {name}.shape={arr.shape}"
        )
    if arr.size and min(arr.shape[1:]) == 0:
        raise ValueError(
            f"Expected at least one feature in `{name}`. Received: {name}.shape={arr.shape}"
        )
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int((~finite).sum()) - n_nan
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"Expected finite values in `{name}`. Received {n_nan} NaN and {n_inf} infinite "
            f"values (first at index {first}). Impute or drop them before training."
        )
    return arr


def data_kind(arr: np.ndarray) -> str:
    """Return ``"tabular"`` for 2-D data and ``"image"`` for 3-D or 4-D data."""
    return _KIND_BY_NDIM[arr.ndim]


def _is_numeric_dtype(dtype: Any) -> bool:
    try:
        return bool(np.issubdtype(np.dtype(dtype), np.number) or np.dtype(dtype) == np.bool_)
    except TypeError:  # pandas extension dtypes
        kind = getattr(dtype, "kind", "O")
        return kind in "biuf"


def _first_non_number(arr: np.ndarray) -> Any:
    for value in arr.ravel():
        try:
            float(value)
        except (TypeError, ValueError):
            return value
    return None
