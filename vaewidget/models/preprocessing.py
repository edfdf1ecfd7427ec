"""Data preparation that travels with a model: scaling, shape and the loss it implies."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaewidget._validation import as_float_array

SCALINGS = ("auto", "none", "minmax", "standard", "counts")
#: Scalings whose targets lie in [0, 1]: the "auto" loss is then Bernoulli (binary
#: cross-entropy), otherwise Gaussian (squared error).
UNIT_RANGE_SCALINGS = ("none", "minmax")
RECONSTRUCTIONS = ("auto", "bce", "mse")
#: A table is read as counts when it has at least this many columns ...
COUNT_MIN_COLUMNS = 10
#: ... and at least this share of its values are 0 (see DataPreparer's "auto" rule).
COUNT_ZERO_SHARE = 0.25


class DataPreparer:
    """Scale data for a model and remember how, so new data is prepared the same way.

    The ``"auto"`` rule, applied by :meth:`fit` and recorded in :attr:`reason_`:

    * values already in [0, 1]: kept as they are, Bernoulli (``"bce"``) reconstruction;
    * images (3-D or 4-D input): one min-max over all pixels to [0, 1], ``"bce"``;
    * intensity tables, rows of non-negative integers up to 255 whose columns share
      one scale (the median column maximum is at least half the overall maximum),
      such as flattened 8x8 digits: one min-max over all values to [0, 1], ``"bce"``.
      Standardizing such columns would turn a pixel that is lit in a few rows into
      values of 40 standard deviations, which swamp the loss;
    * count tables, non-negative integers in at least 10 columns of which at least a
      quarter of all values are 0 (reads per gene, words per document): each row is
      scaled to the mean row total, then ``log1p``, then each column standardized,
      Gaussian (``"mse"``) reconstruction. Row totals (sequencing depth, document
      length) would otherwise be the strongest signal in the data, and a few large
      counts would dominate the rest;
    * other tables: each column standardized to mean 0 and variance 1,
      Gaussian (``"mse"``) reconstruction.

    Constant columns are kept and map to 0 (so 8x8 digit images, whose corner
    pixels never change, work) and are listed in ``constant_columns_``; data in
    which every column is constant is an error.

    Parameters
    ----------
    scaling
        ``"auto"``, ``"none"``, ``"minmax"``, ``"standard"`` or ``"counts"`` (tables
        of non-negative values only). A scaling chosen by name works per column for
        tables and over all pixels for images.
    reconstruction
        ``"auto"``, ``"bce"`` (needs targets in [0, 1]) or ``"mse"``.
    flatten
        Flatten images to vectors, for a dense network on image data.

    Attributes
    ----------
    kind_ : str
        ``"tabular"`` (2-D input) or ``"image"`` (3-D or 4-D input).
    original_shape_, input_shape_ : tuple of int
        The shape of one raw row, and of one row as the model sees it.
    scaling_, reconstruction_ : str
        What ``"auto"`` resolved to; ``reason_`` says why, in words.
    offset_, scale_ : ndarray of float32
        ``transform(x) = (x - offset_) / scale_``, per column or one value (after the
        count transform, for ``scaling_ == "counts"``).
    count_total_ : float or None
        For ``scaling_ == "counts"``: the row total every row is scaled to before
        ``log1p`` (the mean row total of the fitted data); ``None`` otherwise.
    constant_columns_ : list of int
        Columns of a table that never change (they map to 0).

    Examples
    --------
    >>> from vaewidget import DataPreparer
    >>> from vaewidget.datasets import load_digits
    >>> x, _ = load_digits()                  # 64 columns of grey levels 0-16
    >>> prep = DataPreparer().fit(x)
    >>> prep.kind_, prep.scaling_, prep.reconstruction_
    ('tabular', 'minmax', 'bce')
    >>> prep.constant_columns_                # pixels that are 0 in every image
    [0, 32, 39]
    >>> xp = prep.transform(x)
    >>> float(xp.min()), float(xp.max())
    (0.0, 1.0)
    >>> bool(abs(prep.inverse_transform(xp) - x).max() < 1e-4)
    True
    """

    def __init__(
        self, scaling: str = "auto", reconstruction: str = "auto", flatten: bool = False
    ) -> None:
        self.scaling = scaling
        self.reconstruction = reconstruction
        self.flatten = flatten

    # ------------------------------------------------------------------ fitting
    def fit(self, x: Any) -> DataPreparer:
        """Learn the scaling from ``x`` and choose the reconstruction loss.

        ``x`` is anything :func:`vaewidget.data.as_source` takes: arrays, DataFrames
        and nested lists, or a source on disk (a ``.npy``, zarr or Parquet path, a
        Dask array). The statistics are learned in one pass over its chunks
        (per-column min/max, mean and variance merged across chunks, see
        :mod:`vaewidget.data.stats`), so data larger than memory is never loaded
        whole; the result equals a fit on the same rows in memory to float rounding.
        """
        from vaewidget.data import as_source
        from vaewidget.data.stats import ColumnStats

        if self.scaling not in SCALINGS:
            raise ValueError(f"Expected scaling in {SCALINGS}. Received: scaling={self.scaling!r}")
        if self.reconstruction not in RECONSTRUCTIONS:
            raise ValueError(
                f"Expected reconstruction in {RECONSTRUCTIONS}. "
                f"Received: reconstruction={self.reconstruction!r}"
            )
        source = as_source(x)
        shape = source.shape
        if shape[0] < 2:
            as_float_array(np.empty(shape, np.float32), min_rows=2)  # its message, unchanged
        stats = ColumnStats()
        for _, _, chunk in source.chunks():
            stats.update(chunk)
        kind = "tabular" if source.ndim == 2 else "image"
        lo, hi = float(stats.min.min()), float(stats.max.max())
        if lo == hi:
            raise ValueError(
                "Expected data that varies. Received: every value equals "
                f"{lo:g} (x.shape={shape}); there is nothing to learn."
            )
        varies = stats.max > stats.min
        if not varies.any():
            raise ValueError(
                "Expected at least one feature that varies between rows. Received: every "
                f"column is constant (x.shape={shape}); there is nothing to learn."
            )
        scaling, per_column, reason = self._choose_scaling(stats, kind, lo, hi)
        count_total = None
        if scaling == "counts":
            if kind != "tabular" or lo < 0:
                raise ValueError(
                    "Expected a table of non-negative values for scaling='counts'. Received: "
                    f"x.shape={shape} with values in [{lo:g}, {hi:g}].")
            count_total = float(stats.mean.sum()) or 1.0  # the mean row total
            stats = ColumnStats()
            for _, _, chunk in source.chunks():
                stats.update(_log_counts(chunk, count_total))
        if scaling == "none":
            offset, scale = np.zeros(1), np.ones(1)
        elif scaling == "minmax" and per_column:
            offset, scale = stats.min, stats.max - stats.min
        elif scaling == "minmax":
            offset, scale = lo, hi - lo
        elif per_column:  # "standard", or "counts" on the log scale
            offset, scale = stats.mean, np.sqrt(stats.var)
        else:
            offset, scale = stats.overall_mean, np.sqrt(stats.overall_var)
        scale = np.atleast_1d(np.asarray(scale, dtype=np.float64))
        offset = np.atleast_1d(np.asarray(offset, dtype=np.float64))
        scale[scale == 0] = 1.0
        if scaling in UNIT_RANGE_SCALINGS:
            target_range = "[0, 1]"
        else:
            target_range = "mean 0, variance 1"
        recon = self.reconstruction
        if recon == "auto":
            recon = "bce" if scaling in UNIT_RANGE_SCALINGS else "mse"
            reason += f"; targets are {target_range}, so "
            reason += (
                "Bernoulli (binary cross-entropy) reconstruction"
                if recon == "bce"
                else "Gaussian (squared error) reconstruction"
            )
        elif recon == "bce" and scaling in ("standard", "counts"):
            raise ValueError(
                f"Expected targets in [0, 1] for reconstruction='bce'. Received: scaling={scaling!r}, "
                "which gives values outside [0, 1]. Use reconstruction='mse' or scaling='minmax'."
            )
        elif recon == "bce" and scaling == "none" and (lo < 0 or hi > 1):
            raise ValueError(
                "Expected values in [0, 1] for reconstruction='bce' with scaling='none'. "
                f"Received values in [{lo:g}, {hi:g}]. Use scaling='minmax' or reconstruction='mse'."
            )
        constant = np.flatnonzero(~varies) if kind == "tabular" else np.array([], int)
        self.kind_ = kind
        self.original_shape_ = tuple(int(d) for d in shape[1:])
        model_shape = self.original_shape_ + ((1,) if len(shape) == 3 else ())
        self.input_shape_ = (int(np.prod(model_shape)),) if self.flatten else model_shape
        self.scaling_ = scaling
        self.count_total_ = count_total
        self.reconstruction_ = recon
        self.reason_ = reason
        self.offset_ = offset.astype(np.float32)
        self.scale_ = scale.astype(np.float32)
        self.constant_columns_ = [int(c) for c in constant]
        self.value_range_ = (lo, hi)
        self.n_rows_seen_ = int(shape[0])
        return self

    def _choose_scaling(
        self, stats: Any, kind: str, lo: float, hi: float
    ) -> tuple[str, bool, str]:
        """Return ``(scaling, per_column, reason)``."""
        if self.scaling != "auto":
            per_column = kind == "tabular" and self.scaling != "none"
            how = "per column" if per_column else "over all values"
            return self.scaling, per_column, f"scaling={self.scaling!r} ({how}) was chosen by the user"
        if lo >= 0.0 and hi <= 1.0:
            return "none", False, f"values already lie in [0, 1] (range [{lo:g}, {hi:g}])"
        if kind == "image":
            return "minmax", False, f"image data in [{lo:g}, {hi:g}] is min-max scaled to [0, 1]"
        if _looks_like_intensities(stats, lo, hi):
            return "minmax", False, (
                f"tabular data of non-negative integers in [{lo:g}, {hi:g}] whose columns share "
                "one scale (like pixel intensities) is min-max scaled as a whole to [0, 1]"
            )
        if _looks_like_counts(stats, lo):
            return "counts", True, (
                f"tabular data of non-negative integer counts ({stats.zero_share:.0%} zeros, "
                f"up to {hi:g}) has each row scaled to the mean row total, then log1p, then "
                "each column standardized"
            )
        return "standard", True, f"tabular data in [{lo:g}, {hi:g}] is standardized per column"

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run."""
        return hasattr(self, "scale_")

    # ---------------------------------------------------------------- transforms
    def check(self, x: Any, name: str = "x") -> np.ndarray:
        """Validate ``x`` against the fitted shape; return it as float32, unscaled."""
        self._require_fitted()
        arr = as_float_array(x, name=name)
        if tuple(arr.shape[1:]) != self.original_shape_:
            raise ValueError(
                f"Expected rows of shape {self.original_shape_}, like the data the model was "
                f"prepared on. Received: {name}.shape={arr.shape}"
            )
        return arr

    def check_source(self, x: Any, name: str = "x") -> Any:
        """Return ``x`` as a :class:`~vaewidget.data.DataSource` whose rows fit this preparer.

        Only the shape is checked here; values are checked as chunks are read.
        """
        from vaewidget.data import as_source

        self._require_fitted()
        source = as_source(x, name=name)
        if tuple(source.row_shape) != self.original_shape_:
            raise ValueError(
                f"Expected rows of shape {self.original_shape_}, like the data the model was "
                f"prepared on. Received: {name}.shape={source.shape}"
            )
        return source

    def transform(self, x: Any, name: str = "x") -> np.ndarray:
        """Scale ``x`` and shape it for the model's input."""
        arr = self._pre(self.check(x, name=name), name)
        with np.errstate(over="ignore"):
            out = (arr - self._broadcast(self.offset_, arr)) / self._broadcast(self.scale_, arr)
        if not np.isfinite(out).all():  # far outside the fitted data: the model sees inf
            first = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
            raise ValueError(
                f"Expected values that this model's scaling maps to finite numbers. Received: "
                f"`{name}`{list(first)} = {arr[first]:.3g}, which overflows float32 once scaled "
                "like the data the model was prepared on (it lies far outside that data's range)."
            )
        return out.reshape((arr.shape[0], *self.input_shape_)).astype(np.float32, copy=False)

    def scale_rows(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`transform` without the checks, for float32 rows already validated
        (as a :class:`~vaewidget.data.DataSource` returns them)."""
        rows = self._pre(rows, "rows")
        out = (rows - self._broadcast(self.offset_, rows)) / self._broadcast(self.scale_, rows)
        return out.reshape((rows.shape[0], *self.input_shape_)).astype(np.float32, copy=False)

    def inverse_transform(self, x: Any) -> np.ndarray:
        """Map model-space data back to the original units and shape."""
        self._require_fitted()
        arr = np.asarray(x, dtype=np.float32).reshape((-1, *self.original_shape_))
        out = arr * self._broadcast(self.scale_, arr) + self._broadcast(self.offset_, arr)
        if self.count_total_ is not None:  # counts per mean row total
            out = np.expm1(np.maximum(out, 0.0))
        return out

    def _pre(self, arr: np.ndarray, name: str) -> np.ndarray:
        """The count transform of ``arr`` (``arr`` itself without one); refuses negatives."""
        if self.count_total_ is None:
            return arr
        if (arr < 0).any():
            first = tuple(int(i) for i in np.argwhere(arr < 0)[0])
            raise ValueError("Expected non-negative counts, like the data the model was "
                             f"prepared on. Received: `{name}`{list(first)} = {arr[first]:.3g}")
        return _log_counts(arr, self.count_total_)

    def _broadcast(self, v: np.ndarray, arr: np.ndarray) -> np.ndarray:
        return v if v.size > 1 else v.reshape(())

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("This DataPreparer is not fitted yet. Call fit(x) first.")

    # -------------------------------------------------------------- description
    def summary(self) -> dict[str, Any]:
        """A plain description, for humans and the panel's data box."""
        self._require_fitted()
        return {
            "rows seen": self.n_rows_seen_,
            "row shape": self.original_shape_,
            "kind": self.kind_,
            "value range": self.value_range_,
            "scaling": self.scaling_,
            "reconstruction": self.reconstruction_,
            "why": self.reason_,
            "constant columns": len(self.constant_columns_),
        }

    # ------------------------------------------------------------ serialization
    def get_config(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted preparer, as JSON-friendly values."""
        config: dict[str, Any] = {
            "scaling": self.scaling,
            "reconstruction": self.reconstruction,
            "flatten": self.flatten,
        }
        if self.is_fitted:
            config["state"] = {
                "kind": self.kind_,
                "original_shape": list(self.original_shape_),
                "input_shape": list(self.input_shape_),
                "scaling": self.scaling_,
                "count_total": self.count_total_,
                "reconstruction": self.reconstruction_,
                "reason": self.reason_,
                "offset": self.offset_.tolist(),
                "scale": self.scale_.tolist(),
                "constant_columns": self.constant_columns_,
                "value_range": list(self.value_range_),
                "n_rows_seen": self.n_rows_seen_,
            }
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DataPreparer:
        """Rebuild a preparer from :meth:`get_config`."""
        config = dict(config)
        state = config.pop("state", None)
        obj = cls(**config)
        if state is not None:
            obj.kind_ = state["kind"]
            obj.original_shape_ = tuple(state["original_shape"])
            obj.input_shape_ = tuple(state["input_shape"])
            obj.scaling_ = state["scaling"]
            obj.count_total_ = state.get("count_total")
            obj.reconstruction_ = state["reconstruction"]
            obj.reason_ = state["reason"]
            obj.offset_ = np.asarray(state["offset"], dtype=np.float32)
            obj.scale_ = np.asarray(state["scale"], dtype=np.float32)
            obj.constant_columns_ = list(state["constant_columns"])
            obj.value_range_ = tuple(state["value_range"])
            obj.n_rows_seen_ = int(state["n_rows_seen"])
        return obj

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"DataPreparer(scaling={self.scaling!r}, reconstruction={self.reconstruction!r})"
        return (
            f"DataPreparer({self.kind_}, rows of shape {self.original_shape_}, "
            f"scaling={self.scaling_!r}, reconstruction={self.reconstruction_!r})"
        )


def _looks_like_intensities(stats: Any, lo: float, hi: float) -> bool:
    """Non-negative integers up to 255 whose columns mostly reach the same maximum."""
    if lo < 0 or hi > 255 or not stats.integers:
        return False
    return bool(np.median(stats.max) >= 0.5 * hi)


def _looks_like_counts(stats: Any, lo: float) -> bool:
    """Non-negative integers in many columns, a good share of them 0: a count table."""
    return bool(lo >= 0 and stats.integers and len(stats.max) >= COUNT_MIN_COLUMNS
                and stats.zero_share >= COUNT_ZERO_SHARE)


def _log_counts(rows: np.ndarray, total: float) -> np.ndarray:
    """``log1p`` of each row scaled to sum to ``total`` (all-zero rows stay 0), as float32."""
    flat = np.asarray(rows, np.float32).reshape(len(rows), -1)
    sums = flat.sum(axis=1, keepdims=True, dtype=np.float64)
    factor = np.divide(total, sums, out=np.zeros_like(sums), where=sums > 0)
    return np.log1p(flat * factor.astype(np.float32)).reshape(np.shape(rows))
