"""Input checks of the VAEClusterer: house-style errors that scikit-learn's checks also accept.

Each message says what was expected and what was received. Where scikit-learn's
estimator checks look for a phrase ("Reshape your data", "Complex data not
supported", "n_samples=1", "X has 3 features, but ... is expecting 4 features
as input"), the message carries that phrase too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaewidget._validation import _is_source, as_float_array


def check_input(x: Any, *, name: str = "X", min_rows: int = 1) -> np.ndarray:
    """Return ``x`` as a finite float32 array of 2, 3 or 4 dimensions, or raise ValueError."""
    _reject_sparse(x, name)
    if x is not None and not hasattr(x, "columns") and not _is_source(x):
        raw = x if isinstance(x, np.ndarray) else _try_asarray(x)
        if raw is not None:
            if np.iscomplexobj(raw):
                raise ValueError(
                    f"Expected real numbers in `{name}`. Received: dtype={raw.dtype} "
                    "(Complex data not supported)."
                )
            if raw.ndim == 1:
                raise ValueError(
                    "Expected 2-D (rows, features), 3-D or 4-D input for "
                    f"`{name}`. Received: {name}.shape={raw.shape}. Reshape your data with "
                    "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single row."
                )
            if raw.ndim == 2 and raw.shape[1] == 0:
                raise ValueError(
                    f"Expected at least one feature in `{name}`. Received: 0 feature(s) "
                    f"(shape={raw.shape}) while a minimum of 1 is required."
                )
    arr = as_float_array(x, name=name, min_rows=0)
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"Expected at least {min_rows} row{'s' if min_rows > 1 else ''} in `{name}`. Received: n_samples={arr.shape[0]} ({name}.shape={arr.shape})."
        )
    return arr


def check_row_shape(arr: np.ndarray, row_shape: tuple[int, ...], owner: str, name: str = "X"
                    ) -> None:
    """Raise ValueError unless the rows of ``arr`` have the shape seen in ``fit``."""
    if tuple(arr.shape[1:]) == tuple(row_shape):
        return
    if arr.ndim == 2 and len(row_shape) == 1:
        raise ValueError(
            f"Expected {row_shape[0]} features, as in the data seen in fit. Received: "
            f"{name} has {arr.shape[1]} features, but {owner} is expecting {row_shape[0]} "
            "features as input."
        )
    raise ValueError(
        f"Expected rows of shape {tuple(row_shape)}, as in the data seen in fit. "
        f"Received: {name}.shape={arr.shape}"
    )


def check_varies(arr: np.ndarray, name: str = "X") -> None:
    """Raise ValueError when every value is the same: there is nothing to cluster."""
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        raise ValueError(
            f"Expected data that varies. Received: every value of `{name}` equals {lo:g} "
            f"({name}.shape={arr.shape}); there is nothing to learn or cluster."
        )


def _reject_sparse(x: Any, name: str) -> None:
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return
    if sp.issparse(x):
        raise ValueError(
            f"Expected a dense array for `{name}`. Received: a sparse {type(x).__name__}; "
            "sparse input is not supported. Convert it with X.toarray() if it fits in memory."
        )


def _try_asarray(x: Any) -> np.ndarray | None:
    try:
        return np.asarray(x)
    except (ValueError, TypeError):  # ragged lists: as_float_array explains
        return None


def fingerprint(arr: np.ndarray) -> str:
    """A digest of an array's shape, dtype and bytes: equal digests mean equal data.

    The estimator keeps the digest of its training data, so a viewer given the same
    data can show the fitted clustering itself instead of recomputing it.
    """
    import hashlib

    data = np.ascontiguousarray(arr)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{data.shape}|{data.dtype.str}".encode())
    digest.update(memoryview(data).cast("B"))
    return digest.hexdigest()
