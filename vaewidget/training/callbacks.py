"""The Keras callback through which the Trainer steers ``model.fit`` from inside.

It runs on the training thread and does, in order, at each point of ``fit``:

* batch begin: apply a pending learning rate or beta;
* batch end: count progress, catch a NaN/inf loss (the models' loss also turns
  non-finite when a weight does, see ``BaseAutoencoder._weights_guard``), honour
  stop; then, after
  the user's callbacks (:class:`Tail`), call the throttled batch listeners and
  hold while paused;
* validation: cut it short when training is stopping;
* epoch end: record the epoch (only complete, finite epochs), keep the weights
  as the last good state (only finite weights), track the best epoch, then call
  the epoch listeners.

The Trainer checks the weights once more when ``fit`` returns (:meth:`TrainerCallback.final_check`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from vaewidget.training.checkpoints import BestTracker
from vaewidget.training.finite import describe, model_nonfinite, nonfinite_names
from vaewidget.training.records import HistoryRecorder, LiveHyperparameters, current_values
from vaewidget.training.state import Listeners, Progress, RunControl

#: Why a run ended early; ``None`` while it runs (or when it ran to the end).
OUTCOMES = ("stopped", "nonfinite", "early_stopped")


class TrainerCallback(keras.callbacks.Callback):
    """Bridge between ``model.fit`` and a :class:`~vaewidget.Trainer` (internal).

    Parameters
    ----------
    control, progress, hyper, recorder, best
        The trainer's shared state.
    batch_listeners, epoch_listeners
        The trainer's ``on_batch`` and ``on_epoch`` listeners.
    batch_rate
        Most batch-listener calls per second (``None``: every batch).
    n_train, batch_size
        To count samples and batches.
    initial_epoch
        The epoch this run starts at.
    on_pause, on_resume
        Called on the training thread when it starts and stops holding.
    record
        Builds the trainer's JSON record for checkpoints.
    """

    def __init__(
        self,
        *,
        control: RunControl,
        progress: Progress,
        hyper: LiveHyperparameters,
        recorder: HistoryRecorder,
        best: BestTracker | None,
        batch_listeners: Listeners,
        epoch_listeners: Listeners,
        batch_rate: float | None,
        n_train: int,
        batch_size: int,
        initial_epoch: int,
        on_pause: Callable[[], None],
        on_resume: Callable[[], None],
        record: Callable[[], dict],
    ) -> None:
        super().__init__()
        self.control = control
        self.progress = progress
        self.hyper = hyper
        self.recorder = recorder
        self.best = best
        self.batch_listeners = batch_listeners
        self.epoch_listeners = epoch_listeners
        self.min_interval = 0.0 if not batch_rate else 1.0 / batch_rate
        self.n_train = n_train
        self.batch_size = batch_size
        self.batches = max(1, math.ceil(n_train / batch_size))
        self.on_pause = on_pause
        self.on_resume = on_resume
        self.record = record
        self.outcome: str | None = None
        self.bad: tuple[int, int, str] | None = None  # (epoch, batch, what went wrong)
        self.good_epoch: int | None = None
        self.epoch = int(initial_epoch)
        self.batch = 0
        self._good_state: tuple[list[np.ndarray], list[np.ndarray]] | None = None
        self._next_dispatch = 0.0
        self.tail = Tail(self)

    # ------------------------------------------------------------------ helpers
    def _halt(self, outcome: str) -> None:
        if self.outcome is None:
            self.outcome = outcome
        self.model.stop_training = True
        if outcome != "early_stopped" and hasattr(type(self.model), "_should_eval"):
            # Keras validates even an epoch cut short, and setting up validation takes
            # longer than a batch; this instance attribute (removed by the Trainer after
            # fit) skips it. Without it, on_test_begin still limits it to one batch.
            self.model._should_eval = _never

    def _snapshot(self) -> bool:
        """Keep the weights and optimizer state as the last good state, if all finite.

        Non-finite values halt the run instead (and the older good state stays).
        """
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            # Keras builds it lazily in the first step; build now so the start of the
            # run can be restored with its (zero) moments.
            optimizer.build(self.model.trainable_variables)
        weights = [np.array(w, copy=True) for w in self.model.get_weights()]
        opt_vars = [np.array(v.numpy(), copy=True) for v in optimizer.variables] if optimizer else []
        bad = nonfinite_names(self.model.weights, weights)
        if optimizer is not None:
            bad += nonfinite_names(optimizer.variables, opt_vars)
        if bad:
            self._fail_weights(bad)
            return False
        self._good_state = (weights, opt_vars)
        return True

    def _fail_weights(self, names: list[str], when: str = "") -> None:
        if self.bad is None:  # the first sign names the cause best
            self.bad = (self.epoch, self.batch, f"NaN or inf in the weights{when} "
                        f"({describe(names)})")
        self._halt("nonfinite")

    def final_check(self) -> None:
        """After ``fit``: halt as non-finite when any weight is NaN or inf.

        Catches what no batch showed, for example a callback that wrote the
        weights after the last batch.
        """
        if self.outcome != "nonfinite":
            bad = model_nonfinite(self.model, optimizer=True)
            if bad:
                self.outcome = None
                self._fail_weights(bad, " at the end of the run")

    def restore_good(self) -> None:
        """Put back the weights and optimizer state of the last good epoch."""
        if self._good_state is None:
            return
        weights, opt_vars = self._good_state
        self.model.set_weights(weights)
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and len(optimizer.variables) == len(opt_vars):
            for variable, value in zip(optimizer.variables, opt_vars):
                variable.assign(value)

    def nonfinite_message(self, learning_rate: float) -> str:
        """What went wrong after a NaN/inf, what was put back, and what to try."""
        epoch, batch, what = self.bad
        if self._good_state is None:
            return (
                f"Training could not start: {what}. There are no finite weights to put "
                "back: build new weights (VAE.from_data, or the panel's Reset) or load a "
                "good checkpoint."
            )
        good = (
            f"the end of epoch {self.good_epoch} (the last good epoch)"
            if self.good_epoch is not None
            else "where this run started"
        )
        return (
            f"Training diverged in epoch {epoch} (batch {batch}): {what}. "
            f"The weights and optimizer state were put back to {good}, so the model is "
            f"usable. To fix it, lower the learning rate (now {learning_rate:g}), check the "
            "data scaling (model.preparer.summary(); use scaling='standard' for features "
            "with large ranges), or lower beta."
        )

    def _apply_hyperparameters(self) -> None:
        for change in self.hyper.apply(self.model, self.epoch, self.batch):
            self.recorder.add_change(change)
            if change["name"] == "beta" and self.best is not None:
                self.best.objective_changed(self.epoch + (1 if self.batch else 0))

    # -------------------------------------------------------------- keras hooks
    def on_train_begin(self, logs=None) -> None:
        # The wanted values always win at the start: a restore may have reset them.
        self._apply_hyperparameters()
        self._snapshot()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch, self.batch = epoch, 0
        self.progress.begin_epoch(epoch)

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        if self.hyper.pending:
            self._apply_hyperparameters()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        logs = logs or {}
        # With steps_per_execution > 1, Keras reports once per execution: count every row.
        done = min(self.batch * self.batch_size, self.n_train)
        self.batch = min(batch + 1, self.batches)  # an epoch's last execution may run short
        self.progress.batch_done(self.batch, min(self.batch * self.batch_size, self.n_train) - done)
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss) and self.bad is None:
            what = f"the loss became {'nan' if math.isnan(loss) else 'inf'}"
            weights = model_nonfinite(self.model)  # once, to name the cause
            if weights:
                what += f" with NaN or inf in the weights ({describe(weights)})"
            self.bad = (self.epoch, self.batch, what)
            self._halt("nonfinite")
            return
        if self.control.stop_requested:
            self._halt("stopped")

    def after_batch(self, batch: int, logs: dict) -> None:
        """The end of a batch, once every other callback has seen it (see :class:`Tail`)."""
        if self.outcome is not None:
            return
        if self.batch_listeners:
            now = time.monotonic()
            if now >= self._next_dispatch:
                self._next_dispatch = now + self.min_interval
                info = {"epoch": self.epoch, "batch": self.batch, "batches": self.batches,
                        "logs": dict(logs or {})}
                self.batch_listeners(info)
        if self.control.pause_requested:
            self.progress.add_held(self.control.hold(self.on_pause, self.on_resume))
        if self.control.stop_requested:
            self._halt("stopped")

    def on_test_begin(self, logs=None) -> None:
        if self.outcome is None and self.control.stop_requested:
            self._halt("stopped")
        if self.outcome is not None:
            # Validation of an epoch that is cut short: let it run one batch only.
            self.model.stop_evaluating = True

    def on_test_batch_end(self, batch: int, logs=None) -> None:
        if self.control.stop_requested:
            self._halt("stopped")
            self.model.stop_evaluating = True

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.outcome is not None:
            return  # a cut-short epoch is not a finished epoch: nothing is recorded
        logs = dict(logs or {})
        bad = [k for k, v in logs.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            self.bad = (epoch, self.batch, f"non-finite {', '.join(sorted(bad))}")
            self._halt("nonfinite")
            return
        if not self._snapshot():
            return  # NaN/inf weights behind finite numbers: not a good epoch either
        entry = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
        entry.update(current_values(self.model))
        self.recorder.append(entry)
        self.good_epoch = epoch
        if self.best is not None and self.best.update(self.model, epoch, entry, self.record):
            self._halt("early_stopped")
        self.epoch_listeners(epoch, dict(entry))
        if self.control.stop_requested:
            self._halt("stopped")


def _never(*args: Any) -> bool:
    return False


def forget_skip(model: Any) -> None:
    """Remove the validation skip that :meth:`TrainerCallback._halt` set, if any."""
    if "_should_eval" in vars(model):
        delattr(model, "_should_eval")


class Tail(keras.callbacks.Callback):
    """Goes last in the callback list, so listeners and a pause come after every
    other callback has handled the batch (a user's batch log is complete while paused)."""

    def __init__(self, head: TrainerCallback) -> None:
        super().__init__()
        self.head = head

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self.head.after_batch(batch, logs)
