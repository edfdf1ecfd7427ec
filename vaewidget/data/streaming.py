"""Stream prepared batches from a data source into Keras, shuffled block by block.

:class:`SourceDataset` is a ``keras.utils.PyDataset`` (so it works on every Keras
backend) over a list of row blocks of a :class:`~vaewidget.data.DataSource`. Each
pass shuffles the order of the blocks, then the rows within each block, so reads
stay sequential on disk while batches still mix the data; a block is read and
prepared once per pass and kept until its batches are served. Keras prefetches
batches while the step runs (``tf.data`` prefetching on TensorFlow; a thread pool
with ``workers > 1``).

:func:`plan_blocks` cuts a source into blocks (its own chunks, split when there are
too few), and :func:`split_blocks` holds a random set of whole blocks out for
validation.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import keras
import numpy as np

from vaewidget.data.sources import DataSource

#: Blocks a source is cut into at least when part of it is held out for validation.
MIN_BLOCKS_FOR_VALIDATION = 20


def plan_blocks(source: DataSource, min_blocks: int = 1) -> np.ndarray:
    """Block boundaries: the source's chunks, each split evenly when fewer than ``min_blocks``."""
    bounds = np.asarray(source.chunk_bounds, dtype=np.int64)
    n_chunks = len(bounds) - 1
    min_blocks = min(int(min_blocks), source.n_rows)
    if n_chunks >= min_blocks:
        return bounds
    parts = math.ceil(min_blocks / n_chunks)
    out = [0]
    for a, b in zip(bounds[:-1], bounds[1:]):
        cuts = np.linspace(a, b, min(parts, b - a) + 1).round().astype(np.int64)
        out += [int(c) for c in cuts[1:]]
    return np.asarray(out, dtype=np.int64)


def split_blocks(bounds: np.ndarray, fraction: float, seed: int = 0
                 ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split blocks into (training, validation): ``fraction`` of them, chosen at random once.

    At least one block is held out when ``fraction > 0``, and at least one is kept.
    """
    blocks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
    if fraction <= 0:
        return blocks, []
    n_val = max(1, round(fraction * len(blocks)))
    if n_val >= len(blocks):
        raise ValueError(
            f"Expected at least one training block after holding out validation_split="
            f"{fraction:g}. Received: {len(blocks)} block(s) of rows."
        )
    held = set(np.random.default_rng(seed).choice(len(blocks), n_val, replace=False).tolist())
    return ([b for i, b in enumerate(blocks) if i not in held],
            [b for i, b in enumerate(blocks) if i in held])


class SourceDataset(keras.utils.PyDataset):
    """Prepared batches of a source's rows, shuffled block by block.

    Parameters
    ----------
    source
        The rows.
    blocks
        ``(start, stop)`` row ranges to serve (default: the source's chunks).
    prepare
        Maps raw float32 rows to model input (``model.preparer.scale_rows``).
    batch_size
        Rows per batch; the last batch of a pass may be smaller.
    shuffle
        Shuffle block order, then rows within each block, anew each pass.
    seed
        Seed of the shuffles: pass ``p`` uses ``(seed, p)``.
    workers, use_multiprocessing, max_queue_size
        Keras' loading options (``workers > 1``: a thread pool prefetches batches).
    """

    def __init__(self, source: DataSource, blocks: Sequence[tuple[int, int]] | None = None, *,
                 prepare: Callable[[np.ndarray], np.ndarray] | None = None, batch_size: int = 64,
                 shuffle: bool = True, seed: int = 0, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        if blocks is None:
            bounds = source.chunk_bounds
            blocks = list(zip(bounds[:-1], bounds[1:]))
        self.source = source
        self.blocks = [(int(a), int(b)) for a, b in blocks if int(b) > int(a)]
        if not self.blocks:
            raise ValueError("Expected at least one row to serve. Received: no blocks.")
        self.prepare = prepare
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.n_rows = sum(b - a for a, b in self.blocks)
        self.pass_ = 0
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._keep = 2 + max(1, int(workers))
        self._order_pass = -1
        self._served_last = False
        self._set_order()

    # ----------------------------------------------------------------- order
    def _set_order(self) -> None:
        sizes = np.array([b - a for a, b in self.blocks], dtype=np.int64)
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.pass_)).permutation(len(self.blocks))
        else:
            order = np.arange(len(self.blocks))
        self._order = order
        self._ends = np.cumsum(sizes[order])
        self._order_pass = self.pass_

    def set_pass(self, value: int) -> None:
        """Start serving pass ``value`` (its shuffle), e.g. the next epoch of a resumed run."""
        with self._lock:
            self.pass_ = int(value)
            self._served_last = False
            self._cache.clear()
            self._set_order()

    def __len__(self) -> int:
        return math.ceil(self.n_rows / self.batch_size)

    # ----------------------------------------------------------------- batches
    def __getitem__(self, index: int) -> np.ndarray:
        index = int(index)
        if index == 0:
            with self._lock:
                if self._served_last:  # a new pass begins: shuffle anew
                    self.pass_ += 1
                    self._served_last = False
                    self._cache.clear()
                    self._set_order()
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, self.n_rows)
        with self._lock:
            order, ends, pass_ = self._order, self._ends, self._order_pass
        first = int(np.searchsorted(ends, lo, side="right"))
        parts = []
        for k in range(first, len(order)):
            begin = int(ends[k - 1]) if k else 0
            if begin >= hi:
                break
            block = self._block(pass_, int(order[k]))
            parts.append(block[max(lo, begin) - begin: min(hi, int(ends[k])) - begin])
        if index == len(self) - 1:
            with self._lock:
                self._served_last = True
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _block(self, pass_: int, b: int) -> np.ndarray:
        key = (pass_, b)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        start, stop = self.blocks[b]
        rows = self.source.read(start, stop)
        if self.shuffle:
            perm = np.random.default_rng((self.seed, pass_, b)).permutation(len(rows))
            rows = rows[perm]
        prepared = self.prepare(rows) if self.prepare is not None else np.asarray(rows, np.float32)
        prepared = np.ascontiguousarray(prepared, dtype=np.float32)
        with self._lock:
            self._cache[key] = prepared
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        return prepared

    def rows_in_order(self) -> np.ndarray:
        """Source row index of each served row, in serving order, for the current pass."""
        out = []
        for b in self._order:
            start, stop = self.blocks[int(b)]
            idx = np.arange(start, stop)
            if self.shuffle:
                idx = idx[np.random.default_rng((self.seed, self._order_pass, int(b))).permutation(
                    len(idx))]
            out.append(idx)
        return np.concatenate(out)

    def __repr__(self) -> str:
        return (f"SourceDataset({self.source!r}, {len(self.blocks)} blocks, {self.n_rows} rows, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle})")


__all__ = ["MIN_BLOCKS_FOR_VALIDATION", "SourceDataset", "plan_blocks", "split_blocks"]
