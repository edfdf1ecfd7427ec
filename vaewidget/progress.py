"""Progress of long work (training, encoding, labelling): rows done, rows/s and ETA.

One :class:`ProgressReporter` per stage. ``progress=True`` draws a tqdm bar (for
scripts and terminals); a callable receives a plain dict after every update, which
is what the panel's own bars read; ``False``/``None`` reports nothing. The dict::

    {"stage": "labelling", "rows": 1_200_000, "total": 10_000_000,
     "rows_per_s": 85_000.0, "eta_s": 103.5, "elapsed_s": 14.1, "done": False}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import keras

ProgressArg = bool | Callable[[dict[str, Any]], None] | None


def check_progress(progress: Any) -> ProgressArg:
    """``progress`` as given, or ValueError when it is neither a bool, None nor callable."""
    if progress is None or isinstance(progress, bool) or callable(progress):
        return progress
    raise ValueError(
        "Expected progress to be True (a tqdm bar), False/None, or a callable taking a dict. "
        f"Received: progress={progress!r}"
    )


class ProgressReporter:
    """Count rows of one stage and report them (see the module docstring).

    Parameters
    ----------
    stage
        A short name: ``"training"``, ``"encoding"``, ``"labelling"``...
    total
        Rows the stage will process.
    progress
        ``True``, a callable, or ``False``/``None``.
    """

    def __init__(self, stage: str, total: int, progress: ProgressArg = True) -> None:
        self.stage = stage
        self.total = int(total)
        self.rows = 0
        self._callback = progress if callable(progress) else None
        self._bar = None
        self._lock = threading.Lock()
        self._start = time.monotonic()
        if progress is True:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=stage, unit="rows", unit_scale=True,
                             dynamic_ncols=True, smoothing=0.1)

    @property
    def info(self) -> dict[str, Any]:
        """The current state as a plain dict (see the module docstring)."""
        elapsed = time.monotonic() - self._start
        rate = self.rows / elapsed if elapsed > 0 and self.rows else None
        left = max(self.total - self.rows, 0)
        return {"stage": self.stage, "rows": self.rows, "total": self.total,
                "rows_per_s": rate, "eta_s": (left / rate) if rate else None,
                "elapsed_s": elapsed, "done": self.rows >= self.total}

    def update(self, rows: int) -> None:
        """Add ``rows`` finished rows (thread-safe)."""
        with self._lock:
            self.rows += int(rows)
            if self._bar is not None:
                self._bar.update(int(rows))
        if self._callback is not None:
            self._callback(self.info)

    def set(self, rows: int) -> None:
        """Set the finished rows to ``rows`` (for sources that report a running total)."""
        self.update(int(rows) - self.rows)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class KerasProgress(keras.callbacks.Callback):
    """A Keras callback that reports training rows to a :class:`ProgressReporter` per batch.

    Parameters
    ----------
    rows_per_epoch, batch_size
        To turn Keras' batch counts (per execution with ``steps_per_execution``)
        into rows.
    epochs
        Epochs of the run (the bar's total is ``rows_per_epoch * epochs``).
    progress
        ``True`` (tqdm) or a callable; see the module docstring.
    """

    #: Counting rows once per execution is enough: steps_per_execution="auto" may stay > 1.
    per_execution_ok = True

    def __init__(self, rows_per_epoch: int, batch_size: int, epochs: int,
                 progress: ProgressArg = True) -> None:
        super().__init__()
        self.rows_per_epoch, self.batch_size = int(rows_per_epoch), int(batch_size)
        self.epochs, self.progress = int(epochs), progress
        self.reporter: ProgressReporter | None = None
        self._epoch_index = 0

    def on_train_begin(self, logs=None) -> None:
        self.reporter = ProgressReporter("training", self.rows_per_epoch * self.epochs,
                                         self.progress)
        self._epoch_index = 0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        if self.reporter is not None and self._epoch_index:
            self.reporter.set(self._epoch_index * self.rows_per_epoch)

    def on_train_batch_end(self, batch, logs=None) -> None:
        done = min((batch + 1) * self.batch_size, self.rows_per_epoch)
        if self.reporter is not None:
            self.reporter.set(self._epoch_index * self.rows_per_epoch + done)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._epoch_index += 1

    def on_train_end(self, logs=None) -> None:
        if self.reporter is not None:
            self.reporter.close()
