"""Watch clusters form: re-encode and re-cluster every N epochs, off the training thread.

The trainer's ``on_epoch`` callback runs on the training thread, so it only sets an
event. A daemon worker thread waits on that event and does the encoding, clustering and
drawing; training never waits for it. Epochs that finish while the worker is busy are
merged into one update (the event is a flag, not a queue), so a slow re-cluster can
never pile up work. Widgets are updated by trait sets only, which is safe from a thread.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

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
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._worker: threading.Thread | None = None
        self.updates_ = 0

    def _wire_watch(self) -> None:
        self.widget.watch_every.observe(self._on_every, names="value")

    def attach(self, trainer: Any, every: int = 1) -> None:
        """Re-encode and re-cluster every ``every`` epochs while ``trainer`` trains.

        Parameters
        ----------
        trainer
            A :class:`~vaewidget.Trainer` training this viewer's model.
        every
            Epochs between updates; ``0`` turns watching off. Also a control in the viewer.
        """
        every = int(every)
        if every < 0:
            raise ValueError(f"Expected every >= 0. Received: every={every}")
        if getattr(trainer, "model", self.model) is not self.model:
            raise ValueError("Expected a trainer of this viewer's model. Received a trainer "
                             "of another model.")
        self.detach()
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
        """Detach and close every widget of the viewer (they are freed in the kernel)."""
        from vaewidget.widgets._parts import close_tree

        self.detach()
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
        while True:
            self._wake.wait()
            if self._closing.is_set():
                return
            self._wake.clear()
            self._guarded(self.refresh)
            self.updates_ += 1
