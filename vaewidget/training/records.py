"""The per-epoch history and the live hyperparameters (learning rate, beta)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any


def _to_float(value: Any) -> float:
    # float() reads a variable without numpy's __array__ copy warning; 7 digits
    # drop float32 noise (1e-3, not 0.0010000000474974513).
    try:
        number = float(value)
    except TypeError:  # distributed variables (tf.distribute's MirroredVariable) have no __float__
        from keras import ops

        number = float(ops.convert_to_numpy(value))
    return float(f"{number:.7g}")


def check_learning_rate(value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    try:
        lr = float(value)
    except (TypeError, ValueError):
        lr = float("nan")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(
            f"Expected a finite learning_rate > 0. Received: learning_rate={value!r}"
        )
    return lr


def check_beta(value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    try:
        beta = float(value)
    except (TypeError, ValueError):
        beta = float("nan")
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"Expected a finite beta >= 0. Received: beta={value!r}")
    return beta


class HistoryRecorder:
    """Per-epoch values (one list entry per finished epoch) and hyperparameter changes.

    Every list has one entry per finished epoch; a key that appears late (or is
    missing in some epoch) is padded with NaN so the lists stay aligned.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: dict[str, list[float]] = {}
        self._changes: list[dict[str, Any]] = []
        self._epochs = 0

    @property
    def n_epochs(self) -> int:
        return self._epochs

    def append(self, values: dict[str, float]) -> None:
        with self._lock:
            for key in values.keys() - self._history.keys():
                self._history[key] = [math.nan] * self._epochs
            for key, column in self._history.items():
                column.append(float(values.get(key, math.nan)))
            self._epochs += 1

    def add_change(self, change: dict[str, Any]) -> None:
        with self._lock:
            self._changes.append(dict(change))

    def history(self) -> dict[str, list[float]]:
        with self._lock:
            return {key: list(column) for key, column in self._history.items()}

    def changes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(change) for change in self._changes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy (NaN is written as ``None``)."""
        with self._lock:
            history = {
                key: [None if math.isnan(v) else v for v in column]
                for key, column in self._history.items()
            }
            return {"epochs": self._epochs, "history": history, "changes": list(self._changes)}

    def load(self, data: dict[str, Any]) -> None:
        """Restore :meth:`to_dict` output (used by ``Trainer.resume_from``)."""
        history = {
            str(key): [math.nan if v is None else float(v) for v in column]
            for key, column in data.get("history", {}).items()
        }
        epochs = int(data.get("epochs", 0))
        if any(len(column) != epochs for column in history.values()):
            raise ValueError(
                f"Expected {epochs} entries per history key in the checkpoint's trainer "
                f"record. Received lengths {sorted({len(c) for c in history.values()})}."
            )
        with self._lock:
            self._history, self._epochs = history, epochs
            self._changes = [dict(c) for c in data.get("changes", [])]


class LiveHyperparameters:
    """Learning rate and beta that may be set from any thread.

    Setting only records the wish; the training thread calls :meth:`apply`
    before each batch, so a change takes effect from the next batch and never
    in the middle of a step.
    """

    def __init__(self, learning_rate: float, beta: float | None) -> None:
        self._lock = threading.Lock()
        self._learning_rate = check_learning_rate(learning_rate)
        self._beta = None if beta is None else check_beta(beta)
        self.pending = True

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        lr = check_learning_rate(value)
        with self._lock:
            self._learning_rate = lr
            self.pending = True

    @property
    def beta(self) -> float | None:
        return self._beta

    @beta.setter
    def beta(self, value: Any) -> None:
        beta = check_beta(value)
        with self._lock:
            self._beta = beta
            self.pending = True

    def apply(self, model: Any, epoch: int, batch: int) -> list[dict[str, Any]]:
        """Assign pending values to the model; return the changes actually made.

        Runs on the training thread. ``batch`` is the number of batches already
        done in ``epoch``, so the change is in effect from batch ``batch`` on.
        """
        with self._lock:
            wanted = {"learning_rate": self._learning_rate, "beta": self._beta}
            self.pending = False
        current = current_values(model)
        changes = []
        for name, new in wanted.items():
            old = current.get(name)
            if new is None or old is None or math.isclose(old, new, rel_tol=1e-6, abs_tol=0):
                continue
            if name == "learning_rate":
                model.optimizer.learning_rate = new
            else:
                model.beta.assign(new)
            changes.append(
                {"name": name, "old": old, "new": new, "epoch": epoch, "batch": batch,
                 "time": time.time()}
            )
        return changes


def current_values(model: Any) -> dict[str, float]:
    """The learning rate, beta and KL weight the model is using now (those it has)."""
    values = {}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        values["learning_rate"] = _to_float(optimizer.learning_rate)
    if getattr(model, "variational", False):
        values["beta"] = _to_float(model.beta)
        values["kl_weight"] = _to_float(model.kl_weight)
    return values
