"""What the Trainer feeds ``fit``: prepared arrays, or batches streamed from a source.

Data already in memory (numpy arrays, DataFrames, nested lists) is prepared once
and passed to ``fit`` as arrays, with a random ``validation_split`` of rows held out:
that is the fastest path (a ``PyDataset`` over the same rows trained at 0.70-0.72 of
its samples/s on digits, see benchmarks/README.md, "Large data"). Any other source (a ``.npy``,
zarr or Parquet path, a zarr or Dask array) is streamed: a
:class:`~vaewidget.data.streaming.SourceDataset` reads and prepares one block of
rows at a time, shuffled block by block, and ``validation_split`` holds out a random
set of whole blocks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaewidget.data import DataSource, as_source
from vaewidget.data.streaming import (
    MIN_BLOCKS_FOR_VALIDATION,
    SourceDataset,
    plan_blocks,
    split_blocks,
)


def check_split(validation_split: Any) -> float:
    """``validation_split`` as a float in [0, 1), or a ValueError."""
    try:
        split = float(validation_split)
    except (TypeError, ValueError):
        split = math.nan
    if not (0.0 <= split < 1.0):
        raise ValueError(
            f"Expected 0 <= validation_split < 1. Received: validation_split={validation_split!r}"
        )
    return split


class StreamingData:
    """Training (and validation) rows of a source, served as :class:`SourceDataset` objects.

    The blocks are chosen here, once, so every run and a resumed trainer validate on
    the same rows; the datasets are made per run, for the batch size of that run.
    """

    streaming = True

    def __init__(self, model: Any, source: DataSource, validation_split: float,
                 validation_data: Any, seed: int) -> None:
        self.source = model.preparer.check_source(source)
        self.prepare = model.preparer.scale_rows
        self.seed = seed
        self.val_source: DataSource | None = None
        self.val_array: np.ndarray | None = None
        if validation_data is not None:
            self.train_blocks = _blocks(plan_blocks(self.source))
            self.val_blocks: list[tuple[int, int]] = []
            val = as_source(validation_data, name="validation_data")
            if val.in_memory:
                self.val_array = model.preparer.transform(val.read(), name="validation_data")
            else:
                self.val_source = model.preparer.check_source(val, name="validation_data")
                self.val_blocks = _blocks(plan_blocks(self.val_source))
        else:
            min_blocks = MIN_BLOCKS_FOR_VALIDATION if validation_split > 0 else 1
            bounds = plan_blocks(self.source, min_blocks)
            self.train_blocks, self.val_blocks = split_blocks(bounds, validation_split, seed)
            if self.val_blocks:
                self.val_source = self.source
        self.n_train = sum(b - a for a, b in self.train_blocks)
        self.n_val = (sum(b - a for a, b in self.val_blocks) if self.val_source is not None
                      else (0 if self.val_array is None else len(self.val_array)))

    @property
    def has_validation(self) -> bool:
        return self.n_val > 0

    def fit_arguments(self, batch_size: int, initial_epoch: int, workers: int | None = None
                      ) -> dict[str, Any]:
        if workers is None:
            # TensorFlow prefetches through tf.data; other backends through Keras' thread pool.
            import keras

            workers = 1 if keras.backend.backend() == "tensorflow" else 2
        train = SourceDataset(self.source, self.train_blocks, prepare=self.prepare,
                              batch_size=batch_size, shuffle=True, seed=self.seed, workers=workers)
        train.set_pass(initial_epoch)
        if self.val_source is not None:
            val: Any = SourceDataset(self.val_source, self.val_blocks, prepare=self.prepare,
                                     batch_size=batch_size, shuffle=False, workers=workers)
        else:
            val = self.val_array
        return {"x": train, "validation_data": val, "shuffle": False}


class ArrayData:
    """Rows in memory, prepared once; a random ``validation_split`` of rows held out."""

    streaming = False

    def __init__(self, model: Any, x: Any, validation_split: float, validation_data: Any,
                 seed: int) -> None:
        prepared = model.prepare(x)
        if validation_data is not None:
            self.train = prepared
            self.val = model.preparer.transform(_in_memory(validation_data), name="validation_data")
        elif validation_split == 0.0:
            self.train, self.val = prepared, None
        else:
            n = len(prepared)
            n_val = max(1, round(validation_split * n))
            if n - n_val < 1:
                raise ValueError(
                    f"Expected at least one training row after holding out validation_split="
                    f"{validation_split:g}. Received: x with {n} rows. Use more rows or "
                    "validation_split=0."
                )
            order = np.random.default_rng(seed).permutation(n)
            self.train = prepared[np.sort(order[n_val:])]
            self.val = prepared[np.sort(order[:n_val])]
        self.n_train = len(self.train)
        self.n_val = 0 if self.val is None else len(self.val)

    @property
    def has_validation(self) -> bool:
        return self.val is not None

    def fit_arguments(self, batch_size: int, initial_epoch: int, workers: int = 1
                      ) -> dict[str, Any]:
        return {"x": self.train, "validation_data": self.val, "batch_size": batch_size,
                "shuffle": True}


def _in_memory(x: Any) -> Any:
    source = as_source(x, name="validation_data")
    return source.read() if not source.in_memory else source.array


def _blocks(bounds: np.ndarray) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def training_data(model: Any, x: Any, validation_split: Any, validation_data: Any
                  ) -> ArrayData | StreamingData:
    """Check ``x`` against the model and choose how to feed it (see the module docstring).

    The validation rows (or blocks) are chosen at random once, seeded with
    ``model.seed`` (or 0), so every run validates on the same ones.
    """
    seed = model.seed if model.seed is not None else 0
    split = 0.0 if validation_data is not None else check_split(validation_split)
    source = as_source(x)
    if source.in_memory:
        return ArrayData(model, source.array, split, validation_data, seed)
    return StreamingData(model, source, split, validation_data, seed)
