"""The background Trainer: train a model in a thread, steer it, watch it live."""

from __future__ import annotations

import atexit
import math
import threading
import traceback
import weakref
from typing import Any

import keras

from vaewidget._validation import positive_int
from vaewidget.progress import KerasProgress, check_progress
from vaewidget.training._tf_memory import forget_allreduce_gradients
from vaewidget.training.callbacks import TrainerCallback, forget_skip
from vaewidget.training.checkpoints import BestTracker, check_checkpoint_path
from vaewidget.training.execution import (
    check_steps_per_execution,
    check_strategy,
    needs_every_batch,
    prepare_model,
)
from vaewidget.training.finite import model_nonfinite
from vaewidget.training.records import HistoryRecorder, LiveHyperparameters, current_values
from vaewidget.training.setup import check_options, load_checkpoint, split_data
from vaewidget.training.state import (
    ACTIVE,
    STARTABLE,
    Listeners,
    Progress,
    RunControl,
    StateCell,
    claim_model,
    new_error_log,
    release_model,
)

#: Trainers whose thread may be running; stopped at interpreter exit (see below).
_LIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_live_trainers() -> None:
    # Python runs atexit hooks before it tears daemon threads down; a training thread
    # still inside TensorFlow then aborts the process ("terminate called without an
    # active exception"). Stopping within one batch and joining avoids that.
    for trainer in list(_LIVE):
        trainer.stop(wait=True, timeout=10.0)


class Trainer:
    """Train a :class:`~vaewidget.VAE` or :class:`~vaewidget.Autoencoder` in the background.

    ``start()`` returns at once; one thread, which owns the model while it runs,
    compiles it (if needed) and calls ``model.fit``. The notebook stays free to
    pause, resume or stop it, to change the learning rate or beta live, and to
    read ``history`` and ``progress`` at any time. Nothing is lost: every finished
    epoch stays in ``history``, a NaN/inf loss puts back the last good epoch's
    weights, and ``start()`` again continues where training left off.

    Parameters
    ----------
    model
        A model built with ``VAE.from_data`` / ``Autoencoder.from_data``. If it is
        not compiled yet, the training thread compiles it with Adam.
    x
        Training data in its original units and shape. Arrays, DataFrames and
        nested lists are validated and prepared here with ``model.prepare`` (bad
        input raises ``ValueError`` now). A source on disk or a Dask array (a
        ``.npy``, zarr or Parquet path, a zarr or Dask array; see
        :func:`vaewidget.data.as_source`) is checked for its row shape here and
        streamed while training: batches are read and prepared block by block,
        shuffled by block and then by row, and a NaN met while reading fails the run.
    validation_split
        Fraction of ``x`` held out for validation, chosen at random once (seeded
        with ``model.seed``, or 0), so every run validates on the same rows: rows
        of an array, whole blocks of rows of a streamed source.
        Ignored when ``validation_data`` is given. 0 trains without validation.
    validation_data
        Separate validation data in original units.
    epochs
        Epochs per ``start()``; a later ``start()`` trains this many more.
    batch_size
        Rows per gradient step.
    learning_rate
        Learning rate of the optimizer, assigned at every start. Live: see
        :attr:`learning_rate`.
    callbacks
        Extra ``keras.callbacks.Callback`` objects for ``model.fit``.
    early_stopping_patience
        Stop after this many epochs without a lower ``val_loss`` and put back the
        best weights (needs validation). Epochs of a KL warm-up do not count.
    checkpoint_path
        Save the best model here (a ``.keras`` file, with its optimizer) and a
        ``.trainer.json`` record beside it; see :meth:`resume_from`.
    batch_rate
        Most ``on_batch`` calls per second (``None``: every batch).
    steps_per_execution
        Training steps per call into the compiled step (Keras' option). Batch
        callbacks, listeners, pause, stop and live hyperparameters act between
        executions. ``"auto"`` keeps one execution near 0.2 s: estimated from the
        model's size at first, from the measured speed on later starts; it is 1
        when ``batch_rate=None`` or a callback in ``callbacks`` has batch hooks
        (see :mod:`vaewidget.training.execution`).
    strategy
        A ``tf.distribute.Strategy`` (TensorFlow backend) whose scope built the
        model, e.g. ``MirroredStrategy`` for several GPUs; ``batch_size`` is then
        the global batch, split across replicas. Runs one step per execution
        (Keras 3.15 fails with more under a strategy).
    steps_per_epoch
        Batches per epoch (``None``: one pass over ``x``). For data so large that a
        pass takes long: each epoch (one history entry, one validation, one
        checkpoint chance) trains this many batches, and the next epoch goes on
        where it stopped.
    progress
        ``True``: a tqdm bar per run (rows, rows/s, ETA), for scripts; a callable:
        called with a dict (``stage``, ``rows``, ``total``, ``rows_per_s``,
        ``eta_s``...) on the training thread, see :mod:`vaewidget.progress`.

    Examples
    --------
    >>> import numpy as np
    >>> from vaewidget import VAE, Trainer
    >>> x = np.random.default_rng(0).random((300, 8)).astype("float32")
    >>> model = VAE.from_data(x, latent_dim=2, hidden_units=(16,), seed=0)
    >>> t = Trainer(model, x, epochs=3, batch_size=64)
    >>> finished = []
    >>> t.on_epoch(lambda epoch, logs: finished.append(epoch))  # runs on the training thread
    >>> t.start()                             # returns at once; training runs in a thread
    >>> t.wait(timeout=120)                   # block until the run ends
    True
    >>> t.state, finished, len(t.history["val_loss"])
    ('finished', [0, 1, 2], 3)
    >>> t.epochs = 2
    >>> t.start(); t.wait(timeout=120)        # 2 more epochs on the same weights
    True
    >>> finished, t.epochs_done
    ([0, 1, 2, 3, 4], 5)
    """

    def __init__(
        self,
        model: Any,
        x: Any,
        *,
        validation_split: float = 0.1,
        validation_data: Any = None,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        callbacks: list[keras.callbacks.Callback] | None = None,
        early_stopping_patience: int | None = None,
        checkpoint_path: str | None = None,
        batch_rate: float | None = 10.0,
        steps_per_execution: int | str = "auto",
        strategy: Any = None,
        progress: Any = False,
        steps_per_epoch: int | None = None,
    ) -> None:
        options = check_options(
            model, epochs=epochs, batch_size=batch_size, batch_rate=batch_rate,
            callbacks=callbacks, early_stopping_patience=early_stopping_patience,
        )
        self.strategy = check_strategy(model, strategy)
        self.progress_bar = check_progress(progress)
        self.steps_per_epoch = (None if steps_per_epoch is None
                                else positive_int("steps_per_epoch", steps_per_epoch))
        self.steps_per_execution = check_steps_per_execution(steps_per_execution, self.strategy)
        self._seconds_per_step: float | None = None
        self._model = model
        self._data = split_data(model, x, validation_split, validation_data)
        if early_stopping_patience is not None and not self._data.has_validation:
            raise ValueError(
                "Expected validation data for early stopping (it watches val_loss). "
                f"Received: validation_split={validation_split!r}, validation_data=None"
            )
        self._epochs = options["epochs"]
        self._batch_size = options["batch_size"]
        self.batch_rate = options["batch_rate"]
        self.callbacks = options["callbacks"]
        self.early_stopping_patience = options["early_stopping_patience"]
        self.checkpoint_path = check_checkpoint_path(checkpoint_path)
        self.validation_split = float(validation_split) if validation_data is None else None
        beta = current_values(model).get("beta")
        self._hyper = LiveHyperparameters(learning_rate, beta)
        self._recorder = HistoryRecorder()
        self._progress = Progress()
        self._control = RunControl()
        self._lock = threading.Lock()
        self._listener_errors = new_error_log()
        self._state = StateCell(Listeners("state", self._listener_errors, self._lock))
        self._batch_listeners = Listeners("batch", self._listener_errors, self._lock)
        self._epoch_listeners = Listeners("epoch", self._listener_errors, self._lock)
        self._best = None
        if early_stopping_patience is not None or self.checkpoint_path is not None:
            monitor = "val_loss" if self._data.has_validation else "loss"
            warmup = int(getattr(model, "kl_warmup_epochs", 0) or 0)  # losses grow until then
            self._best = BestTracker(
                monitor, self.early_stopping_patience, warmup, self.checkpoint_path
            )
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        self._exception: BaseException | None = None
        self.stopped_early = False
        self._reset_progress(0)

    # ------------------------------------------------------------ read access
    @property
    def model(self) -> Any:
        """The model being trained (usable after a stop, pause or failure)."""
        return self._model

    @property
    def state(self) -> str:
        """``idle``, ``running``, ``paused``, ``stopping``, ``stopped``, ``finished`` or ``failed``."""
        return self._state.value

    @property
    def history(self) -> dict[str, list[float]]:
        """A copy of the per-epoch values: every Keras metric (``loss``,
        ``reconstruction_loss``, ``kl_loss``, ``weighted_kl_loss``, ``val_*``...) plus
        ``learning_rate`` and, for a VAE, ``beta`` and ``kl_weight``; one entry per
        finished epoch, all runs together."""
        return self._recorder.history()

    @property
    def changes(self) -> list[dict[str, Any]]:
        """Live hyperparameter changes, in order: dicts with ``name``
        (``"learning_rate"`` or ``"beta"``), ``old``, ``new``, ``epoch`` and ``batch``
        (the first batch of ``epoch`` that used the new value) and ``time``."""
        return self._recorder.changes()

    @property
    def progress(self) -> dict[str, Any]:
        """A copy of ``epoch`` (0-based index of the current epoch), ``epochs`` (the
        epoch count this run reaches), ``batch`` (batches done in the epoch),
        ``batches`` (per epoch), ``samples_per_s`` and ``eta_s`` (``None`` until known)."""
        return self._progress.snapshot()

    @property
    def epochs_done(self) -> int:
        """Finished epochs, all runs together (the next run's ``initial_epoch``)."""
        return self._recorder.n_epochs

    @property
    def best(self) -> dict[str, Any] | None:
        """``{"epoch", "monitor", "value"}`` of the best epoch so far, when tracked."""
        return None if self._best is None else self._best.summary()

    @property
    def error(self) -> str | None:
        """Why the last run failed (with the traceback), else ``None``."""
        return self._error

    @property
    def exception(self) -> BaseException | None:
        """The exception that ended the last run, if any."""
        return self._exception

    @property
    def listener_errors(self) -> list[dict[str, Any]]:
        """Errors raised by listeners (newest 100): ``event``, ``listener``, ``error``,
        ``traceback``, ``time``."""
        with self._lock:
            return [dict(entry) for entry in self._listener_errors]

    @property
    def epochs(self) -> int:
        """Epochs each ``start()`` trains; settable while no run is active."""
        return self._epochs

    @epochs.setter
    def epochs(self, value: int) -> None:
        if self.state in ACTIVE:
            raise RuntimeError(f"Cannot change epochs while training is {self.state}.")
        self._epochs = check_options(self._model, epochs=value)["epochs"]
        self._reset_progress(0)

    @property
    def batch_size(self) -> int:
        """Rows per step; settable while no run is active (applies to the next run)."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if self.state in ACTIVE:
            raise RuntimeError(f"Cannot change batch_size while training is {self.state}.")
        self._batch_size = check_options(self._model, batch_size=value)["batch_size"]
        self._reset_progress(0)

    # ------------------------------------------------------- live hyperparameters
    @property
    def learning_rate(self) -> float:
        """The learning rate; setting it while running takes effect from the next batch."""
        return self._hyper.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._hyper.learning_rate = value

    @property
    def beta(self) -> float | None:
        """The VAE's KL weight beta (``None`` for an Autoencoder); settable live like
        :attr:`learning_rate`. Best-epoch tracking restarts after a change, since the
        loss then measures another objective."""
        return self._hyper.beta

    @beta.setter
    def beta(self, value: float) -> None:
        if self._hyper.beta is None:
            raise ValueError(
                f"Expected a VAE to set beta. Received: a {type(self._model).__name__}, "
                "whose loss has no KL term."
            )
        self._hyper.beta = value

    # ------------------------------------------------------------- listeners
    def on_state(self, callback, remove: bool = False) -> None:
        """Call ``callback(state)`` on every state change, in order, on the thread
        that made the change (``start``/``resume``/``stop``: the caller's; the rest:
        the training thread). ``remove=True`` unregisters it."""
        self._state.listeners.add(callback, remove)

    def on_batch(self, callback, remove: bool = False) -> None:
        """Call ``callback(info)`` on the training thread after a batch, at most
        ``batch_rate`` times a second. ``info``: ``epoch``, ``batch`` (batches done
        in the epoch), ``batches`` and ``logs`` (running means of this epoch)."""
        self._batch_listeners.add(callback, remove)

    def on_epoch(self, callback, remove: bool = False) -> None:
        """Call ``callback(epoch, logs)`` on the training thread after each finished
        epoch, once it is in :attr:`history`; ``logs`` is that epoch's entry."""
        self._epoch_listeners.add(callback, remove)

    # -------------------------------------------------------------- control
    def start(self) -> None:
        """Train ``epochs`` more epochs in a background thread; return at once.

        Raises
        ------
        RuntimeError
            If training is already running, paused or stopping.
        """
        current = threading.current_thread()
        with self._lock:
            if self.state in ACTIVE:
                raise RuntimeError(
                    f"Expected an idle, stopped, finished or failed trainer to start. "
                    f"Received: state={self.state!r}. Use resume() after pause(), or "
                    "stop(wait=True) before starting again."
                )
            thread = self._thread
        if thread is not None and thread.is_alive():
            if thread is current:
                raise RuntimeError("start() cannot be called from the training thread.")
            thread.join()  # it has announced its final state and is only exiting
        with self._lock:
            if self.state not in STARTABLE or (self._thread is not thread):
                raise RuntimeError(f"Another start() won the race (state={self.state!r}).")
            claim_model(self._model, self)
            self._control.reset()
            self._error, self._exception, self.stopped_early = None, None, False
            initial = self._recorder.n_epochs
            target = initial + self._epochs
            self._reset_progress(self._rows_per_epoch * self._epochs)
            if self._best is not None:
                self._best.new_run()
            self._thread = threading.Thread(
                target=self._run, args=(initial, target), name="vaewidget-trainer", daemon=True
            )
        self._state.set("running")
        _LIVE.add(self)
        self._thread.start()

    def pause(self, wait: bool = False, timeout: float | None = None) -> bool:
        """Hold training at the next batch end until :meth:`resume`.

        With ``wait=True``, block until the thread holds (or training ended).
        Returns whether it is paused. Does nothing unless running.
        """
        if self.state != "running":
            return self.state == "paused"
        self._control.request_pause()
        if wait and threading.current_thread() is not self._thread:
            self._state.wait_for(lambda s: s != "running", timeout)
        return self.state == "paused"

    def resume(self) -> None:
        """Continue after :meth:`pause`, in the same epoch. Does nothing otherwise."""
        self._state.set("running", allowed={"paused"})
        self._control.release()

    def stop(self, wait: bool = False, timeout: float | None = None) -> bool:
        """Stop within one batch. Does nothing when no run is active.

        The epoch cut short is not recorded; weights stay as they are. With
        ``wait=True``, block until the thread has ended (not when called from a
        listener on the training thread). Returns whether the thread has ended.
        """
        if self.state in ACTIVE:
            self._control.request_stop()
            self._state.set("stopping", allowed={"running", "paused"})
        if wait and threading.current_thread() is not self._thread:
            return self.wait(timeout)
        thread = self._thread
        return thread is None or not thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the training thread ends; return False if ``timeout`` ran out."""
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            raise RuntimeError("wait() cannot be called from the training thread.")
        thread.join(timeout)
        return not thread.is_alive()

    # ---------------------------------------------------------- the thread
    def _run(self, initial_epoch: int, epochs: int) -> None:
        callback = None
        final = "failed"
        try:
            model = self._model
            self._prepare_model()
            callback = self._make_callback(initial_epoch)
            model.fit(
                **self._data.fit_arguments(self.batch_size, initial_epoch),
                steps_per_epoch=self.steps_per_epoch,
                epochs=epochs,
                initial_epoch=initial_epoch,
                verbose=0,
                callbacks=[callback, *self.callbacks, *self._bar(epochs - initial_epoch),
                           callback.tail],
            )
            final = self._conclude(callback)
            self._measure_speed()
        except BaseException as err:  # captured for the user, never swallowed
            self._exception = err
            self._error = (
                f"Training failed in epoch {self._progress.snapshot()['epoch']}: "
                f"{type(err).__name__}: {err}\n\n" + "".join(traceback.format_exception(err))
            )
            # fit was interrupted: drop the validation iterator it caches between epochs.
            if getattr(self._model, "_eval_epoch_iterator", None) is not None:
                self._model._eval_epoch_iterator = None
            if callback is not None and model_nonfinite(self._model):
                callback.restore_good()  # never leave NaN weights behind a failure
                head, _, rest = self._error.partition("\n\n")
                self._error = (f"{head} The weights held NaN or inf; the last good ones "
                               f"were put back.\n\n{rest}")
        finally:
            forget_skip(self._model)
            forget_allreduce_gradients()  # else TensorFlow keeps every traced step
            self._progress.end_run()
            release_model(self._model, self)
            self._state.set(final, allowed=ACTIVE)

    def _prepare_model(self) -> None:
        """Compile if needed (inside the strategy's scope) and set the steps per execution."""
        prepare_model(self._model, learning_rate=self._hyper.learning_rate,
                      strategy=self.strategy, steps=self.steps_per_execution,
                      every_batch=needs_every_batch(self.callbacks, self.batch_rate),
                      batch_size=self.batch_size, seconds_per_step=self._seconds_per_step)

    def _bar(self, epochs: int) -> list[keras.callbacks.Callback]:
        if not self.progress_bar:
            return []
        return [KerasProgress(self._rows_per_epoch, self.batch_size, epochs, self.progress_bar)]

    def _measure_speed(self) -> None:
        rate = self._progress.snapshot()["samples_per_s"]
        if rate:
            self._seconds_per_step = self.batch_size / rate

    @property
    def _rows_per_epoch(self) -> int:
        rows = self._data.n_train
        return rows if self.steps_per_epoch is None else min(rows,
                                                             self.steps_per_epoch * self.batch_size)

    def _reset_progress(self, samples: int) -> None:
        n_epochs, batches = self._recorder.n_epochs, math.ceil(self._rows_per_epoch / self.batch_size)
        self._progress.begin_run(n_epochs, n_epochs + self._epochs, batches, samples)

    def _make_callback(self, initial_epoch: int) -> TrainerCallback:
        return TrainerCallback(
            control=self._control,
            progress=self._progress,
            hyper=self._hyper,
            recorder=self._recorder,
            best=self._best,
            batch_listeners=self._batch_listeners,
            epoch_listeners=self._epoch_listeners,
            batch_rate=self.batch_rate,
            n_train=self._rows_per_epoch,
            batch_size=self.batch_size,
            initial_epoch=initial_epoch,
            on_pause=lambda: self._state.set("paused", allowed={"running"}),
            on_resume=lambda: self._state.set("running", allowed={"paused"}),
            record=self._record,
        )

    def _conclude(self, callback: TrainerCallback) -> str:
        callback.final_check()  # NaN/inf weights that no loss showed end the run too
        if callback.outcome == "nonfinite":
            callback.restore_good()
            self._error = callback.nonfinite_message(self.learning_rate)
            return "failed"
        if callback.outcome == "early_stopped":
            self.stopped_early = True
            self._best.restore_best(self._model)
            return "finished"
        if callback.outcome == "stopped" or self._control.stop_requested:
            return "stopped"
        return "finished"

    def _record(self) -> dict[str, Any]:
        return {
            **self._recorder.to_dict(),
            "config": {
                "epochs": self._epochs,
                "batch_size": self.batch_size,
                "learning_rate": self.learning_rate,
                "validation_split": self.validation_split,
                "early_stopping_patience": self.early_stopping_patience,
                "batch_rate": self.batch_rate,
            },
        }

    # ------------------------------------------------------------ resuming
    @classmethod
    def resume_from(cls, path: str, x: Any, **kwargs: Any) -> Trainer:
        """Load a checkpoint written with ``checkpoint_path=`` and continue from it.

        The model comes back with its optimizer state; the ``.trainer.json`` record
        beside it (when present) brings back the history, the epoch count (so a KL
        warm-up keeps its place), the best value and the settings, which
        ``kwargs`` override. New checkpoints go to ``path`` unless
        ``checkpoint_path`` says otherwise. Call ``start()`` to train on.
        """
        model, record, options = load_checkpoint(path)
        trainer = cls(model, x, **{**options, **kwargs})
        if record is not None:
            trainer._recorder.load(record)
            if trainer._best is not None:
                trainer._best.load(record.get("best"))
        trainer._reset_progress(0)
        return trainer

    def __repr__(self) -> str:
        p = self.progress
        return (
            f"Trainer({type(self._model).__name__}, state={self.state!r}, "
            f"epochs done={self.epochs_done}, epoch {p['epoch']}/{p['epochs']}, "
            f"batch {p['batch']}/{p['batches']})"
        )
