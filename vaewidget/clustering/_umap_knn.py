"""umap-learn's own exact neighbours below 4,096 rows, without its slow distance loop.

Below 4,096 rows umap-learn computes every pairwise distance with scikit-learn's
``pairwise_distances`` and its numba ``euclidean`` as a Python callable: one Python call
per pair, about 4.5 s for 1,797 rows and 20 s for 4,000 on two cores. This module makes
the same distances with the same ``euclidean`` inside one compiled loop, in blocks of
rows, and picks each row's neighbours with umap-learn's own ``fast_knn_indices``. Given
to UMAP as ``precomputed_knn``, they give the map umap-learn would have made, bit for bit
(``tests/clustering/test_hdbscan_tools.py`` checks it). Imported only when needed: it
imports umap-learn and compiles with numba (cached on disk after the first time).
"""

from __future__ import annotations

import numba
import numpy as np
from umap.distances import euclidean
from umap.utils import fast_knn_indices

#: Rows whose distances are held at once (512 x 4,095 float32: 8 MB).
BLOCK_ROWS = 512


@numba.njit(cache=True)
def _distance_rows(x: np.ndarray, start: int, stop: int) -> np.ndarray:  # pragma: no cover
    # As scikit-learn's callable path fills its matrix: d(i, j) for i < j, mirrored, and 0
    # on the diagonal; float32 like the float32 codes UMAP is given.
    n = x.shape[0]
    out = np.zeros((stop - start, n), dtype=np.float32)
    for i in range(start, stop):
        for j in range(n):
            if i < j:
                out[i - start, j] = euclidean(x[i], x[j])
            elif j < i:
                out[i - start, j] = euclidean(x[j], x[i])
    return out


def umap_exact_neighbours(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, distances)`` of each row's ``k`` nearest rows, as umap-learn finds them."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    index = np.empty((len(z), k), dtype=np.int32)
    dist = np.empty((len(z), k), dtype=np.float32)
    for start in range(0, len(z), BLOCK_ROWS):
        block = _distance_rows(z, start, min(start + BLOCK_ROWS, len(z)))
        found = fast_knn_indices(block, k)
        index[start:start + len(block)] = found
        dist[start:start + len(block)] = np.take_along_axis(block, found.astype(np.intp), axis=1)
    return index, dist
