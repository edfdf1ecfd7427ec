"""Waiting on a condition, not a fixed sleep, in the widget tests (a loaded CI machine is slow)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true (return True) or ``timeout`` seconds pass (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False
