"""TensorFlow's load-time chatter is filtered from vaewidget's import; nothing else is.

The notebook check (a kernel that imports vaewidget and trains shows no stderr) is
``tests/test_notebooks.py::test_a_notebook_start_shows_no_stderr``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaewidget._quiet_start import ABSL_NOTICE, _Filter, keep_line

ROOT = Path(__file__).resolve().parents[1]
ONEDNN = (b"I0000 00:00:1796153292.694054    6913 port.cc:153] oneDNN custom operations are on."
          b" You may see slightly different numerical results due to floating-point round-off"
          b" errors from different computation orders. To turn them off, set the environment"
          b" variable `TF_ENABLE_ONEDNN_OPTS=0`.")
WARN = b"W1201 10:01:02.345678   77 cuda_dnn.cc:8310] Unable to register cuDNN factory"
ERROR = b"E1201 10:01:02.345678   77 cuda_fft.cc:485] Unable to register cuFFT factory"
FATAL = b"F1201 10:01:02.345678   77 cpu_feature_guard.cc:100] The TensorFlow library was compiled to use AVX"


@pytest.mark.parametrize(("level", "kept"), [
    (0, {ABSL_NOTICE, ONEDNN, WARN, ERROR, FATAL}),
    (1, {WARN, ERROR, FATAL}),
    (2, {ERROR, FATAL}),
    (3, {FATAL}),
    (9, {FATAL}),
])
def test_keep_line_follows_tf_cpp_min_log_level(level, kept):
    lines = [ABSL_NOTICE, ONEDNN, WARN, ERROR, FATAL]
    assert {line for line in lines if keep_line(line, level)} == kept


@pytest.mark.parametrize("line", [
    b"Traceback (most recent call last):",
    b"ImportError: libcudart.so.12: cannot open shared object file",
    b"I0000 is how my own message starts",
    b"/x.py:3: DeprecationWarning: old",
    b"",
])
def test_other_lines_always_pass(line):
    assert keep_line(line, 3)


def test_filter_drops_only_the_chatter_and_passes_the_rest_in_order(capfd):
    capfd.readouterr()
    quiet = _Filter(level=2)
    # As the C++ code writes it: pieces that split lines anywhere.
    os.write(2, ABSL_NOTICE[:20])
    os.write(2, ABSL_NOTICE[20:] + b"\n" + ONEDNN + b"\nreal problem 1\n" + ERROR[:5])
    os.write(2, ERROR[5:] + b"\n" + ABSL_NOTICE + b"\n" + ONEDNN + b"\nno newline at the end")
    quiet.close()
    os.write(2, b"after the import\n")
    err = capfd.readouterr().err
    assert err == ("real problem 1\n" + ERROR.decode() + "\nno newline at the end"
                   "after the import\n")


def _import_in_a_fresh_process(**env: str | None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "tensorflow"}
    for key, value in env.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    code = "import sys, vaewidget; print('imported', file=sys.stderr)"
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          timeout=300, check=True)


@pytest.mark.slow
def test_a_script_importing_vaewidget_prints_nothing_to_stderr():
    quiet = _import_in_a_fresh_process(TF_CPP_MIN_LOG_LEVEL=None)
    assert quiet.stderr.decode() == "imported\n"
    # And the filter hides nothing a user asked for: level 0 shows TensorFlow's lines.
    # Which INFO lines TensorFlow writes depends on the CPU (oneDNN's notice on some, the
    # cpu_feature_guard's on others); absl's notice precedes the first of them on every one.
    loud = _import_in_a_fresh_process(TF_CPP_MIN_LOG_LEVEL="0")
    lines = loud.stderr.splitlines()
    assert ABSL_NOTICE in lines, loud.stderr
    assert any(not keep_line(line, 1) and line != ABSL_NOTICE for line in lines), loud.stderr
    assert loud.stderr.endswith(b"imported\n")
