"""Lifecycle of the background Trainer: start, stop, pause, resume, continue, states."""

from __future__ import annotations

import math
import threading
import time

import pytest

from vaewidget import Trainer
from vaewidget.training import STATES

SOON = 60.0  # generous bound for "soon" on a busy 2-core box

pytestmark = pytest.mark.timeout(180)


def trainer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vaewidget-trainer"]


def test_start_returns_at_once_and_trains_in_background(vae, digits, watch_states):
    t = Trainer(vae, digits, epochs=2, batch_size=32)
    seen, events = watch_states(t)
    assert t.state == "idle" and t.history == {} and t.error is None
    begin = time.monotonic()
    t.start()
    assert time.monotonic() - begin < 1.0
    assert t.state == "running"
    assert t.wait(SOON)
    assert seen == ["running", "finished"]
    h = t.history
    assert len(h["loss"]) == 2 and len(h["val_loss"]) == 2
    assert {"reconstruction_loss", "kl_loss", "weighted_kl_loss", "val_kl_loss"} <= set(h)
    assert h["learning_rate"] == pytest.approx([1e-3, 1e-3])
    assert h["beta"] == [1.0, 1.0] and h["kl_weight"] == [1.0, 1.0]
    assert all(math.isfinite(v) for v in h["loss"])
    p = t.progress
    assert p["epochs"] == 2 and p["batches"] == math.ceil(432 / 32) and p["eta_s"] == 0.0
    assert p["samples_per_s"] > 0
    assert t.state in STATES and "finished" in repr(t)


def test_stop_takes_effect_within_one_batch(vae, digits, batch_log):
    t = Trainer(vae, digits, epochs=1000, batch_size=16, callbacks=[batch_log])
    t.start()
    assert batch_log.reached(5).wait(SOON)
    stop_at = time.monotonic()
    t.stop()
    assert t.wait(2.0), "the training thread must end within 2 s of stop()"
    assert time.monotonic() - stop_at < 2.0
    after = [b for b in batch_log.batches if b[2] > stop_at]
    assert len(after) <= 1
    assert t.state == "stopped" and t.error is None
    assert "_should_eval" not in vars(vae)  # the validation skip does not outlive the run
    done = batch_log.count()
    threading.Event().wait(0.3)
    assert batch_log.count() == done
    assert t.history == {} or all(len(v) == len(t.history["loss"]) for v in t.history.values())


def test_stop_wait_blocks_until_thread_ends(vae, digits, batch_log, watch_states):
    t = Trainer(vae, digits, epochs=1000, batch_size=16, callbacks=[batch_log])
    seen, _ = watch_states(t)
    t.start()
    assert batch_log.reached(2).wait(SOON)
    assert t.stop(wait=True, timeout=SOON) is True
    assert not trainer_threads() and seen == ["running", "stopping", "stopped"]
    # The model stays usable.
    assert vae.embed(digits[:5]).shape == (5, 2)


def test_pause_holds_and_resume_continues_in_the_same_epoch(vae, digits, batch_log, watch_states):
    t = Trainer(vae, digits, epochs=3, batch_size=16, batch_rate=None, callbacks=[batch_log])
    seen, events = watch_states(t)

    def pause_mid_epoch(info):
        if info["epoch"] == 1 and info["batch"] == 4:
            t.pause()

    t.on_batch(pause_mid_epoch)
    t.start()
    assert events["paused"].wait(SOON)
    held = batch_log.count()
    assert batch_log.batches[-1][:2] == (1, 3)  # Keras' 0-based batch index 3 = 4 done
    assert t.progress["epoch"] == 1 and t.progress["batch"] == 4
    threading.Event().wait(1.0)  # however long we wait, no batch completes
    assert batch_log.count() == held and t.state == "paused"
    t.on_batch(pause_mid_epoch, remove=True)
    resumed = batch_log.reached(1)
    t.resume()
    assert resumed.wait(SOON)
    assert batch_log.batches[held][:2] == (1, 4)  # the next batch of the same epoch
    assert t.wait(SOON)
    assert seen == ["running", "paused", "running", "finished"]
    assert len(t.history["loss"]) == 3


def test_pause_wait_and_stop_while_paused(vae, digits, watch_states):
    t = Trainer(vae, digits, epochs=1000, batch_size=16)
    seen, events = watch_states(t)
    assert t.pause() is False  # not running: nothing to pause
    t.start()
    assert t.pause(wait=True, timeout=SOON) is True
    assert t.state == "paused"
    assert t.stop(wait=True, timeout=SOON)
    assert seen == ["running", "paused", "stopping", "stopped"]


def test_start_again_continues_and_epochs_accumulate(make_vae, digits):
    model = make_vae(kl_warmup_epochs=4)
    t = Trainer(model, digits, epochs=2, batch_size=64)
    epochs_seen = []
    t.on_epoch(lambda epoch, logs: epochs_seen.append(epoch))
    t.start()
    assert t.wait(SOON) and t.state == "finished"
    t.start()
    assert t.wait(SOON) and t.state == "finished"
    assert epochs_seen == [0, 1, 2, 3] and t.epochs_done == 4
    h = t.history
    assert len(h["loss"]) == 4
    # KL warm-up keeps its place across runs: 0, 1/4, 2/4, 3/4.
    assert h["kl_weight"] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert t.progress["epochs"] == 4
    t.epochs = 1
    t.batch_size = 32
    with pytest.raises(ValueError, match="batch_size >= 1"):
        t.batch_size = 0
    assert t.progress["batches"] == math.ceil(432 / 32)
    t.start()
    assert t.wait(SOON) and len(t.history["loss"]) == 5


def test_start_while_running_raises_and_never_starts_a_second_thread(vae, digits):
    t = Trainer(vae, digits, epochs=1000, batch_size=16)
    t.start()
    try:
        with pytest.raises(RuntimeError, match="state='running'"):
            t.start()
        assert len(trainer_threads()) == 1
        with pytest.raises(RuntimeError, match="while training"):
            t.epochs = 3
        with pytest.raises(RuntimeError, match="while training"):
            t.batch_size = 8
        other = Trainer(vae, digits, epochs=1)
        with pytest.raises(RuntimeError, match="no other Trainer"):
            other.start()
        assert other.state == "idle" and len(trainer_threads()) == 1
    finally:
        assert t.stop(wait=True, timeout=SOON)
    assert not trainer_threads()


def test_stop_when_idle_or_done_does_nothing(vae, digits, watch_states):
    t = Trainer(vae, digits, epochs=1, batch_size=64)
    seen, _ = watch_states(t)
    assert t.stop() is True and t.stop(wait=True) is True
    assert t.wait(0) is True
    t.resume()
    assert t.state == "idle" and seen == []
    t.start()
    assert t.wait(SOON)
    t.stop()
    assert t.state == "finished" and seen == ["running", "finished"]


def test_state_listeners_in_order_and_removable(vae, digits, watch_states):
    t = Trainer(vae, digits, epochs=1000, batch_size=16)
    seen, events = watch_states(t)
    other = []
    t.on_state(other.append)
    t.on_state(other.append, remove=True)
    t.start()
    assert t.pause(wait=True, timeout=SOON)
    t.resume()
    assert t.state == "running"
    t.stop(wait=True, timeout=SOON)
    assert seen == ["running", "paused", "running", "stopping", "stopped"]
    assert other == []
    with pytest.raises(ValueError, match="Expected a callable"):
        t.on_state("not callable")


def test_batch_listener_is_throttled(vae, digits):
    t = Trainer(vae, digits, epochs=3, batch_size=8, batch_rate=5.0)
    calls = []
    t.on_batch(lambda info: calls.append((time.monotonic(), info)))
    begin = time.monotonic()
    t.start()
    assert t.wait(SOON)
    elapsed = time.monotonic() - begin
    total_batches = 3 * math.ceil(432 / 8)
    assert 1 <= len(calls) <= 5.0 * elapsed + 1 and len(calls) < total_batches
    gaps = [b[0] - a[0] for a, b in zip(calls, calls[1:])]
    assert all(g >= 0.2 - 1e-3 for g in gaps)
    info = calls[0][1]
    assert set(info) == {"epoch", "batch", "batches", "logs"}
    assert info["batches"] == 54 and 1 <= info["batch"] <= 54 and "loss" in info["logs"]


def test_progress_reports_speed_and_eta_while_running(vae, digits, batch_log):
    t = Trainer(vae, digits, epochs=1000, batch_size=16, callbacks=[batch_log])
    p = t.progress
    assert p["samples_per_s"] is None and p["eta_s"] is None and p["batches"] == 27
    t.start()
    assert batch_log.reached(6).wait(SOON)
    p = t.progress
    t.stop(wait=True, timeout=SOON)
    assert p["samples_per_s"] > 0 and p["eta_s"] > 0
    assert p["epochs"] == 1000 and p["epoch"] == batch_log.batches[-1][0]
