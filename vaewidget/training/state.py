"""Thread-safe pieces the Trainer shares with its training thread.

``StateCell`` holds the observable state and calls its listeners in order;
``Listeners`` calls user callbacks and keeps what they raise; ``RunControl``
carries the stop and pause requests; ``Progress`` measures speed and ETA.
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

STATES = ("idle", "running", "paused", "stopping", "stopped", "finished", "failed")
#: States from which ``start()`` may begin a new run.
STARTABLE = frozenset({"idle", "stopped", "finished", "failed"})
#: States of a live training thread.
ACTIVE = frozenset({"running", "paused", "stopping"})

_MAX_KEPT_ERRORS = 100

# One live training thread per model, across all Trainer objects.
_OWNERS: dict[int, Any] = {}
_OWNERS_LOCK = threading.Lock()


def claim_model(model: Any, owner: Any) -> None:
    """Register ``owner`` as the one trainer training ``model``; raise if another is."""
    with _OWNERS_LOCK:
        other = _OWNERS.get(id(model))
        if other is not None and other is not owner:
            raise RuntimeError(
                "Expected no other Trainer to be training this model. Received: a model "
                f"that {other!r} is training. Stop that one first (stop(wait=True))."
            )
        _OWNERS[id(model)] = owner


def release_model(model: Any, owner: Any) -> None:
    with _OWNERS_LOCK:
        if _OWNERS.get(id(model)) is owner:
            del _OWNERS[id(model)]


class Listeners:
    """User callbacks for one event; what they raise is recorded, never propagated.

    A listener that raises gets one ``RuntimeWarning`` (the first time) and every
    error goes to the shared ``errors`` list (the newest 100 are kept), so a
    broken plot cannot stop training.
    """

    def __init__(self, event: str, errors: deque, lock: threading.Lock) -> None:
        self.event = event
        self._callbacks: list[Callable[..., Any]] = []
        self._errors = errors
        self._lock = lock
        self._warned: set[int] = set()

    def add(self, callback: Callable[..., Any], remove: bool = False) -> None:
        if not callable(callback):
            raise ValueError(
                f"Expected a callable for on_{self.event}. Received: {callback!r} "
                f"of type {type(callback).__name__}"
            )
        with self._lock:
            if remove:
                # Bound methods compare equal but are new objects each time: use ==.
                self._callbacks = [cb for cb in self._callbacks if cb != callback]
            elif callback not in self._callbacks:
                self._callbacks.append(callback)

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def __call__(self, *args: Any) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(*args)
            except Exception as err:  # a listener must never kill training
                self._record(callback, err)

    def _record(self, callback: Callable[..., Any], err: Exception) -> None:
        name = getattr(callback, "__qualname__", None) or repr(callback)
        entry = {
            "event": self.event,
            "listener": name,
            "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc(),
            "time": time.time(),
        }
        with self._lock:
            self._errors.append(entry)
            first = id(callback) not in self._warned
            self._warned.add(id(callback))
        if first:
            warnings.warn(
                f"An on_{self.event} listener ({name}) raised {entry['error']}. Training "
                "goes on; see Trainer.listener_errors for every error and its traceback.",
                RuntimeWarning,
                stacklevel=2,
            )


def new_error_log() -> deque:
    """The bounded list that all listeners of one trainer report to."""
    return deque(maxlen=_MAX_KEPT_ERRORS)


class StateCell:
    """The observable state: transitions under a lock, listeners called in order.

    Listeners run on the thread that made the change. When a listener itself
    changes the state (or another thread does meanwhile), the new state is queued
    and delivered after the current one, so every listener sees the states in
    the order they happened, and no lock is held while a listener runs.
    """

    def __init__(self, listeners: Listeners) -> None:
        self._state = "idle"
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[str] = deque()
        self._dispatching = False
        self.listeners = listeners

    @property
    def value(self) -> str:
        return self._state

    def set(self, new: str, allowed: frozenset[str] | set[str] | None = None) -> bool:
        """Move to ``new`` if the current state is in ``allowed``; return whether it moved."""
        with self._lock:
            if self._state == new or (allowed is not None and self._state not in allowed):
                return False
            self._state = new
            self._queue.append(new)
            self._changed.notify_all()
            if self._dispatching:
                return True
            self._dispatching = True
        while True:
            with self._lock:
                if not self._queue:
                    self._dispatching = False
                    return True
                state = self._queue.popleft()
            self.listeners(state)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float | None) -> bool:
        """Block until ``predicate(state)`` holds; return False on timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: predicate(self._state), timeout)


class RunControl:
    """Stop and pause requests from the caller's thread to the training thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self.stop_requested = False
        self.pause_requested = False

    def reset(self) -> None:
        with self._lock:
            self.stop_requested = False
            self.pause_requested = False

    def request_stop(self) -> None:
        with self._lock:
            self.stop_requested = True
            self._wake.notify_all()

    def request_pause(self) -> None:
        with self._lock:
            self.pause_requested = True

    def release(self) -> None:
        with self._lock:
            self.pause_requested = False
            self._wake.notify_all()

    def hold(self, on_hold: Callable[[], None], on_release: Callable[[], None]) -> float:
        """Block the training thread while a pause is requested; return seconds held.

        ``on_hold`` runs once the thread is really holding (so no batch can finish
        after the ``paused`` state is announced); ``on_release`` when it goes on.
        A stop request ends the hold at once.
        """
        with self._lock:
            if not self.pause_requested or self.stop_requested:
                return 0.0
        start = time.monotonic()
        on_hold()
        with self._lock:
            self._wake.wait_for(lambda: not self.pause_requested or self.stop_requested)
        on_release()
        return time.monotonic() - start


class Progress:
    """Epoch, batch, samples per second and ETA, readable from any thread.

    Speed is measured from the end of the run's first batch (which includes
    graph tracing) over active time, so pauses neither slow it nor the ETA.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data = {
            "epoch": 0,
            "epochs": 0,
            "batch": 0,
            "batches": 0,
            "samples_per_s": None,
            "eta_s": None,
        }
        self._origin: tuple[float, int] | None = None
        self._held = 0.0
        self._samples = 0
        self._total = 0

    def begin_run(self, epoch: int, epochs: int, batches: int, total_samples: int) -> None:
        with self._lock:
            self._data.update(epoch=epoch, epochs=epochs, batch=0, batches=batches)
            self._data.update(samples_per_s=None, eta_s=None)
            self._origin, self._held, self._samples = None, 0.0, 0
            self._total = total_samples

    def begin_epoch(self, epoch: int) -> None:
        with self._lock:
            self._data.update(epoch=epoch, batch=0)

    def add_held(self, seconds: float) -> None:
        with self._lock:
            self._held += seconds

    def batch_done(self, batch: int, samples: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._samples += samples
            self._data["batch"] = batch
            if self._origin is None:
                self._origin = (now - self._held, self._samples)
                return
            elapsed = now - self._held - self._origin[0]
            if elapsed > 0:
                rate = (self._samples - self._origin[1]) / elapsed
                self._data["samples_per_s"] = rate
                left = max(self._total - self._samples, 0)
                self._data["eta_s"] = left / rate if rate > 0 else None

    def end_run(self) -> None:
        with self._lock:
            self._data["eta_s"] = 0.0 if self._samples >= self._total else None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._data)
