"""A file four times the memory budget is fitted and labelled within that budget.

Two fresh processes run the same pipeline (``budget_run.py``: the scaling pass, 20
training steps, encoding and labelling every row on Dask, results written to zarr):
one on a small file, whose peak memory (``VmHWM``) is the baseline of TensorFlow,
the model and the pipeline itself, and one on a file of at least four times the
budget. The second may use at most the budget more than the first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
#: Memory the large file may add to the baseline.
BUDGET = 64 * 2**20
CHUNK_ROWS = 16_384  # 4 MB chunks of 64 float32 features


def write_rows(path: Path, rows: int) -> None:
    """``rows`` x 64 float32 rows of 6 clusters, written chunk by chunk."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5.0, size=(6, 64)).astype(np.float32)
    np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 64)).flush()
    for start in range(0, rows, 250_000):
        n = min(250_000, rows - start)
        out = np.load(path, mmap_mode="r+")
        out[start:start + n] = centres[rng.integers(0, 6, n)] + rng.normal(
            size=(n, 64)).astype(np.float32)
        out.flush()
        del out


def run(path: Path) -> dict:
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1]), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(HERE / "budget_run.py"), str(path), str(CHUNK_ROWS),
         str(path.with_suffix(".zarr"))],
        env=env, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fits_and_labels_a_file_four_times_the_budget(tmp_path):
    small, large = tmp_path / "small.npy", tmp_path / "large.npy"
    write_rows(small, 4 * CHUNK_ROWS)
    write_rows(large, 1_050_000)
    assert large.stat().st_size >= 4 * BUDGET
    baseline = run(small)
    result = run(large)
    assert result["rows"] == 1_050_000 and result["clusters"] >= 1
    extra = result["peak"] - baseline["peak"]
    print(f"baseline peak {baseline['peak'] / 2**20:.0f} MB, large file "
          f"({large.stat().st_size / 2**20:.0f} MB) peak {result['peak'] / 2**20:.0f} MB: "
          f"+{extra / 2**20:.0f} MB of a {BUDGET / 2**20:.0f} MB budget")
    assert extra <= BUDGET
