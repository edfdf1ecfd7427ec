"""Best-epoch tracking: early stopping, best weights and ``.keras`` checkpoints.

A checkpoint is two files: the model (``best.keras``, with its optimizer state)
and a small JSON record beside it (``best.trainer.json``: history, epoch count,
best value and the trainer's settings) that ``Trainer.resume_from`` reads so the
epoch count, the KL warm-up schedule and the history carry on.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vaewidget.training.finite import check_finite_weights

RECORD_FORMAT = 1


def record_path(checkpoint_path: str | os.PathLike) -> Path:
    """The JSON record that goes with a ``.keras`` checkpoint."""
    path = Path(checkpoint_path)
    return path.with_name(path.name[: -len(".keras")] + ".trainer.json")


def check_checkpoint_path(path: Any) -> Path | None:
    """Validate ``checkpoint_path``: ``None`` or a path ending in ``.keras``."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)) or not str(path).endswith(".keras"):
        raise ValueError(
            f"Expected checkpoint_path to be a path ending in '.keras' (or None). "
            f"Received: checkpoint_path={path!r}"
        )
    parent = Path(path).expanduser().parent
    if not parent.is_dir():
        raise ValueError(
            f"Expected checkpoint_path in an existing folder. Received: {str(path)!r}, "
            f"whose folder {str(parent)!r} does not exist."
        )
    return Path(path).expanduser()


def read_record(checkpoint_path: str | os.PathLike) -> dict[str, Any] | None:
    """Read the JSON record of a checkpoint, or ``None`` when there is none."""
    path = record_path(checkpoint_path)
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as fh:
        record = json.load(fh)
    if record.get("format") != RECORD_FORMAT:
        raise ValueError(
            f"Expected a trainer record of format {RECORD_FORMAT}. "
            f"Received: format={record.get('format')!r} in {str(path)!r}"
        )
    return record


class BestTracker:
    """Watch one metric per epoch; keep the best weights, save checkpoints, stop early.

    Parameters
    ----------
    monitor
        The metric to minimize (``"val_loss"``, or ``"loss"`` without validation).
    patience
        Stop after this many epochs without improvement (``None``: never).
    comparable_from
        The first epoch whose loss can be compared with later ones. During a KL
        warm-up the loss grows with the KL weight, so earlier epochs are not
        candidates; the checkpoint then holds the latest epoch.
    checkpoint_path
        Where to save the best model (``None``: no file).
    """

    def __init__(
        self,
        monitor: str,
        patience: int | None,
        comparable_from: int,
        checkpoint_path: Path | None,
    ) -> None:
        self.monitor = monitor
        self.patience = patience
        self.comparable_from = comparable_from
        self.checkpoint_path = checkpoint_path
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.wait = 0

    def new_run(self) -> None:
        self.wait = 0

    def objective_changed(self, epoch: int) -> None:
        """Beta changed: older losses measure another objective, so start over."""
        self.best, self.best_epoch, self.best_weights = None, None, None
        self.wait = 0
        self.comparable_from = max(self.comparable_from, epoch)

    def update(
        self, model: Any, epoch: int, logs: dict[str, float], record: Callable[[], dict]
    ) -> bool:
        """Account for a finished epoch; return True when training should stop early."""
        value = logs.get(self.monitor)
        if value is None or not math.isfinite(value):
            return False
        if epoch < self.comparable_from:
            self._save(model, record)
            return False
        if self.best is None or value < self.best:
            self.best, self.best_epoch, self.wait = float(value), int(epoch), 0
            if self.patience is not None:
                self.best_weights = [np.array(w, copy=True) for w in model.get_weights()]
            self._save(model, record)
            return False
        self.wait += 1
        return self.patience is not None and self.wait >= self.patience

    def restore_best(self, model: Any) -> bool:
        """Put the best weights back into ``model``; return whether there were any."""
        if self.best_weights is None:
            return False
        model.set_weights(self.best_weights)
        return True

    def summary(self) -> dict[str, Any] | None:
        if self.best is None:
            return None
        return {"epoch": self.best_epoch, "monitor": self.monitor, "value": self.best}

    def load(self, best: dict[str, Any] | None) -> None:
        if best and best.get("monitor") == self.monitor:
            self.best, self.best_epoch = float(best["value"]), int(best["epoch"])

    def _save(self, model: Any, record: Callable[[], dict]) -> None:
        if self.checkpoint_path is None:
            return
        check_finite_weights(model, "save a checkpoint")
        path = self.checkpoint_path
        # Write beside the target, then rename: a crash mid-save keeps the old best.
        tmp_model = path.with_name(f".{path.name[: -len('.keras')]}.partial.keras")
        model.save(tmp_model)
        data = {"format": RECORD_FORMAT, **record(), "best": self.summary()}
        json_path = record_path(path)
        tmp_json = json_path.with_name(f".{json_path.name}.partial")
        with open(tmp_json, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp_model, path)
        os.replace(tmp_json, json_path)
