"""Watch clusters form: re-encode and re-cluster every N epochs, off the training thread.

The trainer's ``on_epoch`` callback runs on the training thread, so it only sets an
event. A daemon worker thread waits on that event and does the encoding, clustering and
drawing; training never waits for it. Epochs that finish while the worker is busy are
merged into one update (the event is a flag, not a queue), so a slow re-cluster can
never pile up work, and updates are at least ``min_interval`` seconds apart. Each update
moves and recolours the points of the same map widget (animated, one message); widgets
are updated by trait sets only, which is safe from a thread.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import Any

#: Fewest seconds between two map updates while watching a trainer: longer than the map's
#: 0.8 s transition, since jupyter-scatter refuses new points while it still moves the last.
MIN_INTERVAL_S = 1.0

#: Viewers whose worker thread may run; detached at interpreter exit, so no daemon
#: thread is inside TensorFlow or numba while the process tears down.
_WATCHING: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _detach_all() -> None:
    for viewer in list(_WATCHING):
        viewer.detach()


class WatchMixin:
    """``attach(trainer, every=N)`` for :class:`~vaewidget.ClusterViewer`."""

    def _init_watch(self) -> None:
        self._trainer: Any = None
        self._every = 0
        self.min_interval = MIN_INTERVAL_S
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._worker: threading.Thread | None = None
        self.updates_ = 0

    def _wire_watch(self) -> None:
        self.widget.watch_every.observe(self._on_every, names="value")

    def attach(self, trainer: Any, every: int = 1, min_interval: float = MIN_INTERVAL_S) -> None:
        """Re-encode and re-cluster every ``every`` epochs while ``trainer`` trains.

        The map's points move and recolour in place (the widget stays the same).

        Parameters
        ----------
        trainer
            A :class:`~vaewidget.Trainer` training this viewer's model.
        every
            Epochs between updates; ``0`` turns watching off. Also a control in the viewer.
        min_interval
            Fewest seconds between two updates: epochs that end sooner are merged into
            the next update.
        """
        every = int(every)
        if every < 0:
            raise ValueError(f"Expected every >= 0. Received: every={every}")
        if not min_interval >= 0:
            raise ValueError(f"Expected min_interval >= 0 (seconds). Received: {min_interval}")
        if getattr(trainer, "model", self.model) is not self.model:
            raise ValueError("Expected a trainer of this viewer's model. Received a trainer "
                             "of another model.")
        self.detach()
        self.min_interval = float(min_interval)
        self._trainer = trainer
        trainer.on_epoch(self._on_epoch)
        trainer.on_state(self._on_state)
        w = self.widget.watch_every
        w.disabled = False
        w.value = every  # calls _on_every
        self._every = every
        if self._worker is None or not self._worker.is_alive():
            self._closing.clear()
            self._worker = threading.Thread(target=self._work, name="vaewidget-viewer-watch",
                                            daemon=True)
            self._worker.start()
        _WATCHING.add(self)

    def detach(self) -> None:
        """Stop watching the trainer (the worker thread ends)."""
        if self._trainer is not None:
            self._trainer.on_epoch(self._on_epoch, remove=True)
            self._trainer.on_state(self._on_state, remove=True)
            self._trainer = None
        self._closing.set()
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=30)
        self._worker = None
        self._wake.clear()
        self.widget.watch_every.disabled = True
        _WATCHING.discard(self)

    def close(self) -> None:
        """Detach and close every widget of the viewer, the map's too (freed in the kernel)."""
        from vaewidget.widgets._parts import close_tree

        self.detach()
        self.map.close()
        close_tree(self.widget)

    def _on_every(self, change: dict[str, Any]) -> None:
        self._every = int(change["new"])

    def _on_epoch(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        # On the training thread: only raise a flag.
        if self._every and (int(epoch) + 1) % self._every == 0:
            self._wake.set()

    def _on_state(self, state: str) -> None:
        if state == "finished" and self._every:
            self._wake.set()

    def _work(self) -> None:
        last = -float("inf")
        while True:
            self._wake.wait()
            if self._closing.is_set():
                return
            rest = self.min_interval - (time.monotonic() - last)
            if rest > 0 and self._closing.wait(rest):
                return
            self._wake.clear()
            self._guarded(self.refresh)
            last = time.monotonic()
            self.updates_ += 1
