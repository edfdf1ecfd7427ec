"""Per-column statistics learned in one pass over chunks, merged as they come.

Means and variances merge with the pairwise update of Chan, Golub and LeVeque
(1979): for two parts with counts ``n_a``, ``n_b``, means ``m_a``, ``m_b`` and sums
of squared deviations ``M_a``, ``M_b``, the whole has
``m = m_a + d * n_b / n`` and ``M = M_a + M_b + d**2 * n_a * n_b / n`` with
``d = m_b - m_a``. Each chunk's own terms are computed in float64 around its own
mean, so the result matches a one-shot ``mean``/``var`` of all rows to float
rounding, however the rows are chunked.
"""

from __future__ import annotations

import numpy as np


class ColumnStats:
    """Count, min, max, mean, variance and zeros of each flattened column, and whether all
    values are integers."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.min: np.ndarray | None = None
        self.max: np.ndarray | None = None
        self.zeros: np.ndarray | None = None
        self.integers = True

    def update(self, chunk: np.ndarray) -> ColumnStats:
        """Add the rows of ``chunk`` (float32, rows first); returns ``self``."""
        flat = np.asarray(chunk).reshape(len(chunk), -1)
        n_b = len(flat)
        if n_b == 0:
            return self
        mean_b = flat.mean(axis=0, dtype=np.float64)
        dev = flat - mean_b.astype(flat.dtype)
        np.square(dev, out=dev)
        m2_b = dev.sum(axis=0, dtype=np.float64)
        # Correct for rounding the chunk mean to float32 before subtracting it.
        shift = mean_b - mean_b.astype(flat.dtype).astype(np.float64)
        m2_b -= n_b * shift**2
        del dev
        if self.integers:
            self.integers = bool(np.array_equal(flat, np.round(flat)))
        lo, hi = flat.min(axis=0), flat.max(axis=0)
        zeros_b = np.count_nonzero(flat == 0, axis=0)
        if self.mean is None:
            self.n, self.mean, self.m2, self.min, self.max = n_b, mean_b, m2_b, lo, hi
            self.zeros = zeros_b
            return self
        n_a, n = self.n, self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta**2 * (n_a * n_b / n)
        self.min = np.minimum(self.min, lo)
        self.max = np.maximum(self.max, hi)
        self.zeros = self.zeros + zeros_b
        self.n = n
        return self

    @property
    def var(self) -> np.ndarray:
        """Population variance of each column (as ``numpy.var``)."""
        return np.maximum(self.m2 / self.n, 0.0)

    @property
    def zero_share(self) -> float:
        """Share of all values that are exactly 0."""
        return float(self.zeros.sum() / (self.n * len(self.zeros)))

    @property
    def overall_mean(self) -> float:
        """Mean of every value (every column has the same count)."""
        return float(self.mean.mean())

    @property
    def overall_var(self) -> float:
        """Variance of every value: within-column plus between-column parts."""
        within = self.m2.sum()
        between = self.n * ((self.mean - self.mean.mean()) ** 2).sum()
        return float(max((within + between) / (self.n * len(self.mean)), 0.0))
