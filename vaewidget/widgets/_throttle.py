"""A UI-side throttle: redraw at a bounded rate on one daemon thread, never on the trainer's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    """Call ``fn`` at most ``rate`` times a second, only when something was :meth:`poke`-d.

    The training thread only pokes (sets an Event: microseconds); the drawing happens
    on this throttle's own daemon thread, so a slow redraw never holds back training
    and a burst of batches collapses into one redraw.

    Parameters
    ----------
    fn
        The redraw. Exceptions go to ``on_error`` and the thread keeps running. When it
        returns ``True`` (work left over), it is called again after the interval.
    rate
        Maximum calls per second.
    on_error
        Called with the exception when ``fn`` raises.
    """

    def __init__(
        self,
        fn: Callable[[], None],
        rate: float = 4.0,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "vaewidget-ui",
    ) -> None:
        if not rate > 0:
            raise ValueError(f"Expected rate > 0 (calls per second). Received: rate={rate}")
        self.fn = fn
        self.interval = 1.0 / float(rate)
        self.on_error = on_error
        self.name = name
        self.calls = 0
        self._news = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def poke(self) -> None:
        """Ask for a redraw soon (cheap; any thread)."""
        self._news.set()
        if self._thread is None:
            self._start()

    def flush(self) -> None:
        """Redraw now, on the calling thread."""
        self._news.clear()
        self._call()

    def close(self) -> None:
        """Stop the thread; later pokes do nothing."""
        self._closed = True
        self._news.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the thread has ended (after :meth:`close`); return whether it has."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return thread is None
        thread.join(timeout)
        return not thread.is_alive()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def _call(self) -> bool:
        try:
            again = self.fn() is True
            self.calls += 1
            return again
        except Exception as err:  # the UI must survive a failed redraw
            if self.on_error is not None:
                self.on_error(err)
            return False

    def _loop(self) -> None:
        while True:
            self._news.wait()
            if self._closed:
                return
            self._news.clear()
            started = time.monotonic()
            if self._call():
                self._news.set()
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))
