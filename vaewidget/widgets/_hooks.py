"""User hooks, ``on_<event>(callback, remove=False)``, shared by the panel and the viewer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Hooks:
    """Callbacks registered by event name, called in the order they were added.

    Parameters
    ----------
    events
        The event names this object fires (``"epoch"``, ``"state"``, ``"select"``).
    report
        ``report(text, level)``: where a failing callback's error goes (a status
        area). A callback that raises never stops the others, nor what fired it.
    """

    def __init__(self, *events: str, report: Callable[[str, str], None] | None = None) -> None:
        self._callbacks: dict[str, list[Callable[..., Any]]] = {e: [] for e in events}
        self._lock = threading.Lock()
        self.report = report

    def on(self, event: str, callback: Callable[..., Any], remove: bool = False) -> None:
        """Add ``callback`` to ``event`` (again: ignored), or remove it with ``remove=True``."""
        if not callable(callback):
            raise ValueError(f"Expected a callable for on_{event}. Received: "
                             f"{type(callback).__name__}")
        with self._lock:
            callbacks = self._callbacks[event]
            if remove:
                if callback in callbacks:
                    callbacks.remove(callback)
            elif callback not in callbacks:
                callbacks.append(callback)

    def fire(self, event: str, *args: Any) -> None:
        """Call every callback of ``event`` with ``args``."""
        with self._lock:
            callbacks = list(self._callbacks[event])
        for callback in callbacks:
            try:
                callback(*args)
            except Exception as err:  # a user's hook must not break training or the page
                if self.report is not None:
                    name = getattr(callback, "__name__", type(callback).__name__)
                    self.report(f"The on_{event} callback {name} failed: "
                                f"{type(err).__name__}: {err}", "error")
