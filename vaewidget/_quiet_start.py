"""Import TensorFlow without its start-up chatter on stderr, hiding nothing else.

TensorFlow's C++ libraries log while they load, from static initializers, before
``TF_CPP_MIN_LOG_LEVEL`` is read: two copies of absl print "WARNING: All log messages
before absl::InitializeLog() is called are written to STDERR", each followed by an
``I0000 ... port.cc:...] oneDNN custom operations are on ...`` line. They go straight to
file descriptor 2, so Python cannot filter them, and JupyterLab shows them in red.

:func:`import_tensorflow` points descriptor 2 at a pipe for the duration of
``import tensorflow`` only. A thread reads the pipe and passes every line on to the real
stderr at once, except the lines ``TF_CPP_MIN_LOG_LEVEL`` asks to drop: absl's
"before absl::InitializeLog()" notice, and absl-formatted lines (``I0000 12:00:00.1 ...
file.cc:12] ...``) below that level (1 drops INFO, 2 also WARNING, 3 also ERROR; FATAL
always passes). Unset, the level counts as vaewidget's default, 2. With level 0, or with
TensorFlow's verbose logging on (``TF_CPP_MAX_VLOG_LEVEL``, ``TF_CPP_VMODULE``), nothing is
dropped. oneDNN stays on; Python-level output and tracebacks pass unchanged.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading

#: absl's one-line notice, printed once per copy of absl before its first log line.
ABSL_NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
#: An absl/glog-formatted log line: severity letter, date, time, thread id, file:line].
_LOG_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d{2,}\.\d+\s+\d+ \S+:\d+\] ")
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}


def min_log_level() -> int:
    """``TF_CPP_MIN_LOG_LEVEL`` as an int (2 when unset or unreadable)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    except ValueError:
        return 2


def keep_line(line: bytes, level: int) -> bool:
    """Whether a line TensorFlow wrote while loading reaches the user at ``level``."""
    if level <= 0:
        return True
    if line.rstrip(b"\r") == ABSL_NOTICE:
        return False
    match = _LOG_LINE.match(line)
    return match is None or _SEVERITY[match.group(1)] >= min(level, 3)


class _Filter:
    """Descriptor 2 redirected to a pipe; a thread forwards the lines to keep."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        # The import holds the GIL while a library loads, so the pump cannot drain the pipe
        # then; a roomy pipe (Linux) keeps a chatty library from blocking on a full one.
        try:
            import fcntl

            if hasattr(fcntl, "F_SETPIPE_SZ"):
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)
        except (ImportError, OSError):
            pass
        self._read_end = read_end
        os.dup2(write_end, 2)
        os.close(write_end)
        self._thread = threading.Thread(target=self._pump, name="vaewidget-quiet-start",
                                        daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        pending = b""
        while chunk := os.read(self._read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            self._forward(lines, end=b"\n")
        if pending:
            self._forward([pending], end=b"")
        os.close(self._read_end)

    def _forward(self, lines: list[bytes], end: bytes) -> None:
        out = [line + end for line in lines if keep_line(line, self.level)]
        if out:
            os.write(self._saved, b"".join(out))

    def close(self) -> None:
        """Point descriptor 2 back at stderr; forward what is left."""
        os.dup2(self._saved, 2)  # drops the pipe's last write end, so the pump sees EOF
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            os.close(self._saved)


def import_tensorflow() -> None:
    """Import TensorFlow (if not yet imported) with its start-up lines filtered."""
    if "tensorflow" in sys.modules:
        return
    level = min_log_level()
    if os.environ.get("TF_CPP_MAX_VLOG_LEVEL") or os.environ.get("TF_CPP_VMODULE"):
        level = 0  # verbose logging was asked for: show all of it, unfiltered
    try:
        sys.stderr.flush()
        quiet = _Filter(level) if level > 0 else None
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2 (pythonw, ...)
        quiet = None
    try:
        importlib.import_module("tensorflow")
    finally:
        if quiet is not None:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            quiet.close()
