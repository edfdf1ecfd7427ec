"""Hypothesis strategies and checks shared by the property-based tests in tests/fuzz.

The contract every door of vaewidget keeps, whatever it is given (docs/testing.md):

* a Python call with bad input raises ``ValueError`` whose message contains "Expected"
  and "Received" (``NonNumericDataError`` is such a ValueError, and also a TypeError);
  no other exception type escapes;
* bad input changes nothing: a fitted estimator, a trained model, a panel stay as they were;
* a training run that goes wrong ends in the state ``failed`` with a reason, not in an
  exception, and leaves no thread behind;
* widget controls and buttons never raise: their errors go to the status area.

Examples are deterministic (``derandomize=True``, no example database), with a fixed
budget per test, so the suite runs the same inputs on every machine and in CI.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st

#: Settings of every fuzz test; each adds its own ``max_examples``.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

#: The states docs/trainer.md documents (the panel adds none).
STATES = {"idle", "running", "paused", "stopping", "stopped", "finished", "failed"}
#: Value scales: unit, pixel and count ranges most often; tiny, huge, near float32's limit.
SCALES = [1.0, 1.0, 16.0, 255.0, 1e-3, 1e6, 1e-30, 1e30, 3e38]
OFFSETS = [0.0, 0.0, 0.0, 1.0, -1.0, 1e6, -1e30]
#: dtypes a user's data arrives in, the usual ones most often.
DTYPES = (["float64", "float32"] * 6 + ["float16", "int64", "int32", "uint8", "bool"]
          + ["int8", "object", "str", "complex64", "datetime64[D]"])
SPECIALS = [np.nan, np.inf, -np.inf]

def assert_house_error(err: BaseException) -> None:
    """``err`` is the documented bad-input error: a ValueError saying Expected/Received."""
    assert isinstance(err, ValueError), f"{type(err).__name__} escaped: {err}"
    text = str(err)
    assert "Expected" in text and "Received" in text, f"not in the house form: {text!r}"


def call(fn, *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """``fn(*args, **kwargs)`` -> (result, None), or (None, the documented ValueError).

    Any other exception propagates and fails the test, with its traceback.
    """
    try:
        return fn(*args, **kwargs), None
    except ValueError as err:
        assert_house_error(err)
        return None, err


# Hypothesis draws one seed per example; numpy's generator, seeded with it, draws the
# data with the weights below. Hypothesis' own choices favour the simplest values (zero
# rows, index 0), which would make most examples the same few refusals; the seed keeps
# the examples varied and still deterministic. `note` shows a failing example's data.
seeds = st.integers(0, 2**32 - 1)


def random_shape(rng: np.random.Generator, max_rows: int = 24, max_side: int = 6,
                 ndims: tuple[int, ...] = (1, 2, 3, 4, 5),
                 weights: tuple[float, ...] = (0.05, 0.7, 0.1, 0.1, 0.05)) -> tuple[int, ...]:
    """Mostly tables (and some images) of at least 2 rows; now and then 0 or 1 rows,
    0 features, 1-D or 5-D."""
    p = np.asarray(weights[:len(ndims)], float)
    ndim = int(rng.choice(ndims, p=p / p.sum()))
    rows = int(rng.integers(0, 2)) if rng.random() < 0.08 else int(rng.integers(2, max_rows + 1))
    sides = [0 if rng.random() < 0.04 else int(rng.integers(1, max_side + 1))
             for _ in range(ndim - 1)]
    return (rows, *sides)


def random_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float64 values of ``shape``: noise, constants, integer pixels or a 0/1 range, at a
    random scale and offset, with NaN/inf at random positions 1 time in 8."""
    kind = rng.choice(["normal"] * 4 + ["unit", "pixels", "constant", "constant column",
                                        "sparse"])
    if kind == "unit":
        x = rng.random(shape)
    elif kind == "pixels":
        x = rng.integers(0, 256, shape).astype(float)
    elif kind == "constant":
        x = np.full(shape, rng.choice([0.0, 1.0, -3.5]))
    else:
        x = rng.standard_normal(shape)
        if kind == "constant column" and len(shape) > 1 and shape[1] > 0:
            x[:, 0] = 7.0
        if kind == "sparse":
            x[rng.random(shape) < 0.9] = 0.0
        with np.errstate(all="ignore"):
            x = x * rng.choice(SCALES) + rng.choice(OFFSETS)
    if x.size and rng.random() < 1 / 8:
        for _ in range(int(rng.integers(1, 4))):
            x.flat[int(rng.integers(0, x.size))] = rng.choice(SPECIALS)
    return x


def as_dtype(x: np.ndarray, dtype: str) -> np.ndarray:
    """``x`` converted the way a user's data might arrive (overflow and all)."""
    with np.errstate(all="ignore"):
        if dtype == "str":
            return x.astype(str)
        if dtype == "object":
            return x.astype(object)
        if dtype.startswith("datetime64"):
            return np.nan_to_num(x, nan=0, posinf=0, neginf=0).clip(-1e5, 1e5).astype(dtype)
        if np.dtype(dtype).kind in "iub":
            return np.nan_to_num(x, nan=0, posinf=0, neginf=0).clip(-1e9, 1e9).astype(dtype)
        return x.astype(dtype)


def random_data(rng: np.random.Generator, shape: tuple[int, ...] | None = None,
                containers: bool = True, **shape_options: Any) -> Any:
    """Array-likes a user might pass: numpy arrays of many dtypes and shapes, masked
    arrays, DataFrames (2-D, sometimes with a text column) and nested lists."""
    shape = random_shape(rng, **shape_options) if shape is None else shape
    x = as_dtype(random_values(rng, shape), str(rng.choice(DTYPES)))
    container = rng.choice(["array"] * 12 + ["masked", "frame", "list"]) if containers else "array"
    if container == "masked" and x.dtype.kind in "biuf" and x.size:
        return np.ma.masked_array(x, mask=np.arange(x.size).reshape(x.shape) % 3 == 0)
    if container == "frame" and x.ndim == 2 and x.dtype.kind in "biufO":
        frame = pd.DataFrame(x, columns=[f"c{i}" for i in range(x.shape[1])])
        if x.shape[1] and rng.random() < 0.5:
            frame["c0"] = frame["c0"].astype(str)  # a text column
        return frame
    if container == "list" and x.ndim in (1, 2) and x.dtype.kind in "biuf":
        return x.tolist()
    return x


@st.composite
def data(draw, width: int | None = None, **shape_options: Any) -> Any:
    """Random data (see :func:`random_data`); with ``width``, rows of ``width`` features
    3 times in 4."""
    rng = np.random.default_rng(draw(seeds))
    shape = None
    if width is not None and rng.random() < 0.75:
        shape = (int(rng.integers(1, shape_options.get("max_rows", 24) + 1)), width)
    x = random_data(rng, shape, **shape_options)
    note(f"data: {describe(x)}")
    return x


def describe(x: Any) -> str:
    """A one-line summary of random data, then the data itself, for failure reports."""
    arr = np.asarray(x, dtype=object) if isinstance(x, list) else x
    kind = type(x).__name__
    with np.printoptions(threshold=200, edgeitems=3):
        return f"{kind} shape={getattr(arr, 'shape', '?')} dtype={getattr(arr, 'dtype', '?')}\n{x!r}"


def vaewidget_threads() -> list[threading.Thread]:
    """vaewidget's own threads that are alive (trainer, UI, viewer watchers)."""
    return [t for t in threading.enumerate() if t.is_alive() and t.name.startswith("vaewidget")]


def wait_for_threads(before: set[threading.Thread], timeout: float = 30.0,
                     names: tuple[str, ...] = ("vaewidget",)) -> list[threading.Thread]:
    """Wait until no thread named ``names*`` that was not in ``before`` is alive; return
    those still alive after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()
                and t.name.startswith(names)]
        if not left or time.monotonic() > end:
            return left
        left[0].join(timeout=0.1)
