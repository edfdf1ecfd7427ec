"""The Trainer on streamed sources and with several steps per execution.

Sources on disk are real files (``.npy``, zarr, Parquet) and a real Dask array; they
are streamed through ``SourceDataset`` while arrays keep the in-memory path. Pause,
stop, live beta, checkpoints and NaN recovery behave as with arrays, at the grain of
one execution.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from vaewidget import Trainer
from vaewidget.training.execution import (
    MAX_STEPS,
    choose_steps_per_execution,
    needs_every_batch,
    step_flops,
)

SOON = 60.0
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def files(digits, tmp_path_factory):
    import dask.array as da
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zarr

    folder = tmp_path_factory.mktemp("trainer_sources")
    x = np.ascontiguousarray(digits)
    np.save(folder / "x.npy", x)
    z = zarr.create_array(store=str(folder / "x.zarr"), shape=x.shape, chunks=(100, 64),
                          dtype="float32")
    z[:] = x
    pq.write_table(pa.table({f"p{j}": x[:, j] for j in range(64)}), folder / "x.parquet",
                   row_group_size=120)
    return {"npy": str(folder / "x.npy"), "zarr": str(folder / "x.zarr"),
            "parquet": str(folder / "x.parquet"), "dask": da.from_array(x, chunks=(160, 64)),
            "folder": folder}


@pytest.mark.parametrize("kind", ["npy", "zarr", "parquet", "dask"])
def test_streams_each_kind_of_source_with_held_out_blocks(kind, files, make_vae):
    model = make_vae()
    t = Trainer(model, files[kind], epochs=2, batch_size=32, validation_split=0.1)
    assert t._data.streaming and t._data.n_train + t._data.n_val == 480
    assert 0 < t._data.n_val < 100  # whole blocks: about a tenth of the rows
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    h = t.history
    assert len(h["loss"]) == 2 and len(h["val_loss"]) == 2 and np.isfinite(h["loss"]).all()
    assert t.progress["batches"] == math.ceil(t._data.n_train / 32)
    assert t.progress["eta_s"] == 0.0


def test_arrays_keep_the_in_memory_path(digits, make_vae):
    t = Trainer(make_vae(), digits, epochs=1)
    assert not t._data.streaming and t._data.n_train == 432


def test_validation_data_from_another_file(files, digits, make_vae):
    np.save(files["folder"] / "val.npy", np.ascontiguousarray(digits[:50]))
    t = Trainer(make_vae(), files["zarr"], validation_data=str(files["folder"] / "val.npy"),
                epochs=1, batch_size=64)
    assert t._data.n_train == 480 and t._data.n_val == 50
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert len(t.history["val_loss"]) == 1


def test_several_steps_per_execution_count_every_row(digits, make_vae):
    t = Trainer(make_vae(), digits, epochs=2, batch_size=16, steps_per_execution=8,
                validation_split=0.0)
    calls = []
    t.on_batch(calls.append)
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert t.model.steps_per_execution == 8
    assert t.progress["batch"] == t.progress["batches"] == 30
    # Listeners see executions: batch 8, 16, 24, then the short last one (30).
    assert {c["batch"] for c in calls} <= {8, 16, 24, 30}
    assert t.progress["samples_per_s"] > 0 and t.progress["eta_s"] == 0.0


def test_stop_and_pause_within_one_execution_on_a_stream(files, make_vae):
    model = make_vae()
    t = Trainer(model, files["npy"], epochs=1000, batch_size=16, steps_per_execution=8,
                batch_rate=None)  # listeners after every execution
    executions: list[float] = []
    reached = threading.Event()

    def count(info):
        executions.append(time.monotonic())
        if len(executions) >= 3:
            reached.set()

    t.on_batch(count)
    t.start()
    assert reached.wait(SOON)
    assert t.pause(wait=True, timeout=SOON) and t.state == "paused"
    held = len(executions)
    threading.Event().wait(0.3)
    assert len(executions) == held  # nothing runs while paused
    t.resume()
    stop_at = time.monotonic()
    t.stop()
    assert t.wait(5.0), "the thread must end soon after stop()"
    assert len([e for e in executions if e > stop_at]) <= 1  # at most the execution in flight
    assert t.state == "stopped" and t.error is None


def test_live_beta_applies_from_the_next_execution(files, make_vae):
    t = Trainer(make_vae(), files["zarr"], epochs=2, batch_size=16, steps_per_execution=4,
                batch_rate=None)
    t.on_batch(lambda info: setattr(t, "beta", 0.0) if (info["epoch"], info["batch"]) == (1, 8)
               else None)
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    (change,) = t.changes
    assert (change["epoch"], change["batch"], change["new"]) == (1, 8, 0.0)
    h = t.history
    assert 0 < h["weighted_kl_loss"][1] < h["kl_loss"][1]


def test_nan_recovery_with_several_steps_per_execution(files, make_vae):
    model = make_vae()
    before = model.get_weights()
    t = Trainer(model, files["parquet"], epochs=3, batch_size=32, learning_rate=1e6,
                steps_per_execution=4)
    t.start()
    assert t.wait(SOON) and t.state == "failed"
    assert "diverged" in t.error and "where this run started" in t.error
    for now, start in zip(model.get_weights(), before):
        np.testing.assert_array_equal(now, start)


def test_checkpoint_and_resume_from_a_source(files, make_vae, tmp_path):
    path = tmp_path / "best.keras"
    t = Trainer(make_vae(), files["npy"], epochs=2, batch_size=64, checkpoint_path=str(path))
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    again = Trainer.resume_from(str(path), files["npy"], epochs=1)
    assert again._data.streaming and again.epochs_done == 2
    again.start()
    assert again.wait(3 * SOON) and again.state == "finished", again.error
    assert len(again.history["loss"]) == 3


def test_a_nan_in_the_file_fails_the_run_with_its_row(files, digits, make_vae):
    x = np.array(digits)
    x[300, 5] = np.nan
    np.save(files["folder"] / "nan.npy", x)
    t = Trainer(make_vae(), str(files["folder"] / "nan.npy"), epochs=1, validation_split=0)
    t.start()
    assert t.wait(SOON) and t.state == "failed"
    assert "Expected finite values" in t.error and "row 300" in t.error


def test_bad_sources_and_options_raise_before_any_thread(files, make_vae, tmp_path):
    model = make_vae()
    with pytest.raises(ValueError, match=r"Expected rows of shape \(64,\).*Received"):
        Trainer(model, np.zeros((50, 2), np.float32))
    np.save(tmp_path / "narrow.npy", np.zeros((50, 3), np.float32))
    with pytest.raises(ValueError, match=r"Expected rows of shape \(64,\).*Received: "
                                         r"x.shape=\(50, 3\)"):
        Trainer(model, str(tmp_path / "narrow.npy"))
    with pytest.raises(ValueError, match=r"Expected an existing"):
        Trainer(model, str(tmp_path / "missing.npy"))
    with pytest.raises(ValueError, match=r"Expected steps_per_execution"):
        Trainer(model, files["npy"], steps_per_execution=0)
    with pytest.raises(ValueError, match=r"Expected a tf.distribute.Strategy"):
        Trainer(model, files["npy"], strategy="mirrored")


def test_the_auto_rule(make_vae):
    model = make_vae()
    # Without a measurement: from the model's size, a power of two in [1, MAX_STEPS].
    steps = choose_steps_per_execution(model, 64)
    assert steps & (steps - 1) == 0 and 1 <= steps <= MAX_STEPS
    assert step_flops(model, 128) == 2 * step_flops(model, 64) > 0
    # With one: executions of about 0.2 s.
    assert choose_steps_per_execution(model, 64, seconds_per_step=0.01) == 16
    assert choose_steps_per_execution(model, 64, seconds_per_step=0.5) == 1
    assert choose_steps_per_execution(model, 64, seconds_per_step=1e-6) == MAX_STEPS
    assert needs_every_batch([], None) and not needs_every_batch([], 10.0)


def test_progress_bar_and_callable(digits, make_vae, capsys):
    seen = []
    t = Trainer(make_vae(), digits, epochs=2, batch_size=32, validation_split=0.0,
                progress=seen.append)
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert t.model.steps_per_execution > 1  # the progress callback keeps "auto" at work
    assert seen[-1]["stage"] == "training" and seen[-1]["rows"] == seen[-1]["total"] == 960
    assert all(a["rows"] <= b["rows"] for a, b in zip(seen, seen[1:]))
    assert seen[-1]["rows_per_s"] > 0
    t2 = Trainer(make_vae(), digits, epochs=1, batch_size=32, progress=True)
    t2.start()
    assert t2.wait(SOON) and t2.state == "finished", t2.error
    err = capsys.readouterr().err
    assert "training" in err and "432/432" in err and "rows/s" in err
    with pytest.raises(ValueError, match=r"Expected progress to be True"):
        Trainer(make_vae(), digits, progress="yes")


@pytest.mark.parametrize("kind", ["array", "npy"])
def test_steps_per_epoch_makes_short_epochs_that_go_on(kind, files, digits, make_vae):
    data = digits if kind == "array" else files["npy"]
    t = Trainer(make_vae(), data, epochs=3, batch_size=16, steps_per_epoch=5,
                validation_split=0.1, steps_per_execution=1)
    assert t.progress["batches"] == 5
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert len(t.history["loss"]) == len(t.history["val_loss"]) == 3
    assert t.progress["batch"] == 5
    with pytest.raises(ValueError, match=r"Expected an integer steps_per_epoch >= 1"):
        Trainer(make_vae(), data, steps_per_epoch=0)
