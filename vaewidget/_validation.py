"""Input checks shared by the models, the trainer, the clusterer and the widgets.

Every error says what was expected and what was received, in the Keras style:
``Expected 2-D, 3-D or 4-D input. Received: x.shape=(10,)``. The messages also
carry the phrases scikit-learn's ``check_estimator`` looks for ("n_samples=1",
"0 feature(s)", "NaN", "argument must be a string or a real number").
"""

from __future__ import annotations

import datetime
import numbers
import os
from typing import Any

import numpy as np

_KIND_BY_NDIM = {2: "tabular", 3: "image", 4: "image"}
#: Half of float32's largest value: the difference of any two accepted values, and so any
#: min-max or standard scaling of them, stays finite in float32.
MAX_MAGNITUDE = float(np.finfo(np.float32).max) / 2
_DATES = (np.datetime64, np.timedelta64, datetime.date, datetime.time, datetime.timedelta)


class NonNumericDataError(ValueError, TypeError):
    """Data that is not made of numbers.

    A ``ValueError`` like every other bad-input error in vaewidget, and also a
    ``TypeError``, which is what NumPy and scikit-learn raise for the same thing.
    """


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int, or ``ValueError`` unless it is an integer >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Expected an integer {name} >= 1. Received: {name}={value!r}")
    return int(value)


def as_float_array(x: Any, *, name: str = "x", min_rows: int = 1) -> np.ndarray:
    """Return ``x`` as a finite float32 array of 2, 3 or 4 dimensions.

    Accepts numpy arrays, numeric pandas DataFrames (bool and nullable numeric
    columns included) and nested lists.

    Parameters
    ----------
    x
        The data: rows first.
    name
        The name used in error messages.
    min_rows
        The least number of rows accepted.

    Returns
    -------
    ndarray of float32
        A new array or ``x`` itself when it is already a float32 array.

    Raises
    ------
    ValueError
        On non-numeric data (:class:`NonNumericDataError`), ragged nested
        lists, a wrong number of dimensions, too few rows, no features, NaN or
        infinite values.
    """
    if x is None:
        raise ValueError(f"Expected an array-like of numbers for `{name}`. Received: {name}=None")
    if _is_source(x):
        x = read_source(x, name=name)
    if isinstance(x, np.ma.MaskedArray) and np.ma.getmask(x) is not np.ma.nomask and x.mask.any():
        raise ValueError(
            f"Expected plain values in `{name}`, with no masked entries. Received: a masked "
            f"array with {int(np.ma.count_masked(x))} masked entries, whose mask would be "
            "lost. Impute or drop them (x.filled(value) or x.compressed()) first."
        )
    columns = getattr(x, "columns", None)
    dtypes = getattr(x, "dtypes", None)
    if columns is not None and dtypes is not None:  # a pandas DataFrame
        bad = [f"{c!s} ({t})" for c, t in zip(columns, dtypes) if not _is_numeric_dtype(t)]
        if bad:
            raise NonNumericDataError(
                f"Expected numeric columns in `{name}`. Received: non-numeric columns "
                f"{', '.join(bad[:10])}{' …' if len(bad) > 10 else ''}. Encode them as "
                "numbers (for example with pandas.get_dummies) or drop them."
            )
        x = x.to_numpy(dtype=np.float64, na_value=np.nan)
    if isinstance(x, np.ma.MaskedArray) and np.ma.getmask(x) is not np.ma.nomask \
            and np.ma.getmask(x).any():
        raise ValueError(
            f"Expected plain numbers in `{name}`. Received: a masked array with "
            f"{int(np.ma.getmask(x).sum())} masked values, whose mask would be lost. Fill them "
            "(x.filled(value)) or drop those rows first."
        )
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise ValueError(
            f"Expected a rectangular array-like for `{name}` (every row the same length). "
            f"Received a ragged sequence ({err})."
        ) from None
    if arr.dtype.kind in "USa":
        raise NonNumericDataError(
            f"Expected numeric data in `{name}`. Received: dtype={arr.dtype} (text). "
            "Convert the text to numbers before passing it."
        )
    if arr.dtype.kind == "c":
        raise ValueError(f"Expected real numbers in `{name}`. Received: dtype={arr.dtype}")
    if arr.dtype.kind in "mM":
        _refuse_dates(name, f"dtype={arr.dtype}")
    if arr.dtype.kind not in "biuf":
        _reject_text(arr, name)
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise NonNumericDataError(
                f"Expected numeric data in `{name}`. Received: dtype={arr.dtype} with a value "
                f"that is not a number, {_first_non_number(arr)!r} ({err})."
            ) from None
    if arr.ndim not in _KIND_BY_NDIM:
        raise ValueError(
            "Expected 2-D (rows, features), 3-D (rows, height, width) or 4-D "
            f"(rows, height, width, channels) input for `{name}`. Received: {name}.shape={arr.shape}"
        )
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"Expected at least {min_rows} row{'s' if min_rows != 1 else ''} (samples) in "
            f"`{name}`. Received: {name}.shape={arr.shape}, n_samples={arr.shape[0]}"
        )
    if min(arr.shape[1:]) == 0:
        raise ValueError(
            f"Expected at least one feature in `{name}`. Received: 0 feature(s) "
            f"(shape={arr.shape}) while a minimum of 1 is required."
        )
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int((~finite).sum()) - n_nan
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"Expected finite values in `{name}`. Received: {n_nan} NaN and {n_inf} infinite "
            f"values (first at index {first}). Impute or drop them; values beyond float32's "
            "range (about 3.4e38) also count as infinite."
        )
    if arr.size and (float(arr.max()) > MAX_MAGNITUDE or float(arr.min()) < -MAX_MAGNITUDE):
        big = np.abs(arr) > MAX_MAGNITUDE
        first = tuple(int(i) for i in np.argwhere(big)[0])
        raise ValueError(
            f"Expected values of magnitude at most {MAX_MAGNITUDE:.2g} in `{name}` (half of "
            "float32's range, so that scaling them cannot overflow). Received: "
            f"{int(big.sum())} larger values (first at index {first}, {arr[first]:.3g}). "
            "Rescale the data, for example to other units."
        )
    return arr


def data_kind(arr: np.ndarray) -> str:
    """Return ``"tabular"`` for 2-D data and ``"image"`` for 3-D or 4-D data."""
    return _KIND_BY_NDIM[arr.ndim]


def _is_numeric_dtype(dtype: Any) -> bool:
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:  # pandas extension dtypes (Int64, Float64, boolean, category, ...)
        return getattr(dtype, "kind", "O") in "biuf"


#: Sources (files, zarr, Dask) up to this size are read whole by the doors that work in
#: memory (VAEClusterer, VAEPanel, ClusterViewer); larger ones go through the streaming API.
IN_MEMORY_LIMIT_BYTES = 2 << 30


def _is_source(x: Any) -> bool:
    """A path, a zarr or Dask array, or a DataSource: read through vaewidget.data."""
    if isinstance(x, (str, os.PathLike)):
        return True
    from vaewidget.data import DataSource, is_dask_array, is_zarr_array

    return isinstance(x, DataSource) or is_dask_array(x) or is_zarr_array(x)


def read_source(x: Any, *, name: str = "x", limit: int | None = None) -> np.ndarray:
    """Read a source (a ``.npy``/zarr/Parquet path, a zarr or Dask array) whole, as float32.

    Raises ``ValueError("Expected ... Received: ...")`` for a bad source, and for one larger
    than ``limit`` bytes (default :data:`IN_MEMORY_LIMIT_BYTES`), naming the streaming route.
    """
    from vaewidget.data import as_source

    source = as_source(x, name=name)
    limit = IN_MEMORY_LIMIT_BYTES if limit is None else int(limit)
    if source.nbytes > limit:
        raise ValueError(
            f"Expected `{name}` to fit in memory here (at most {limit / 2**30:.1f} GiB). "
            f"Received: a source of {source.nbytes / 2**30:.1f} GiB, shape {source.shape}. "
            "Stream it instead: VAE.from_data(path), Trainer(model, path) and "
            "vaewidget.clustering.distributed.cluster_source read one chunk at a time "
            "(docs/large_data.md)."
        )
    return source.read()


def _refuse_dates(name: str, what: str) -> None:
    raise NonNumericDataError(
        f"Expected numbers in `{name}`. Received: {what} (dates or durations), which would "
        "silently turn into counts of time units. Convert them to features that mean "
        "something for the data (for example day of week, or seconds since an event) first."
    )


def _reject_text(arr: np.ndarray, name: str) -> None:
    """Refuse strings and dates inside object arrays, even ones that look like numbers."""
    for value in arr.ravel():
        if isinstance(value, _DATES):
            _refuse_dates(name, f"dtype={arr.dtype} holding {value!r}")
        if isinstance(value, (str, bytes)):
            raise NonNumericDataError(
                f"Expected numeric data in `{name}`. Received: dtype={arr.dtype} holding text, "
                f"e.g. {value!r}. Convert the text to numbers before passing it."
            )


def _first_non_number(arr: np.ndarray) -> Any:
    for value in arr.ravel():
        try:
            float(value)
        except (TypeError, ValueError):
            return value
    return None
