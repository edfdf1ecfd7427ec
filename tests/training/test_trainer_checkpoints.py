"""Early stopping with best weights, checkpoints, and Trainer.resume_from."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from vaewidget import Trainer
from vaewidget.training.checkpoints import BestTracker

SOON = 60.0  # generous bound for "soon" on a busy 2-core box
pytestmark = pytest.mark.timeout(300)


class SpoilDecoderFrom(keras.callbacks.Callback):
    """From epoch ``epoch`` on, overwrite the decoder's output layer at each epoch start,
    so the validation loss can only get worse than before (deterministically)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= self.epoch:
            dense = [layer for layer in self.model.decoder.layers if hasattr(layer, "kernel")]
            kernel = dense[-1].kernel
            kernel.assign(np.full(kernel.shape, 5.0, dtype="float32"))


def test_early_stopping_restores_best_weights(make_autoencoder, digits, watch_states):
    model = make_autoencoder()
    t = Trainer(model, digits, epochs=20, batch_size=32, early_stopping_patience=2,
                callbacks=[SpoilDecoderFrom(3)])
    seen, _ = watch_states(t)
    weights = {}
    t.on_epoch(lambda epoch, logs: weights.__setitem__(epoch, model.get_weights()))
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert seen == ["running", "finished"] and t.stopped_early
    h = t.history
    assert len(h["val_loss"]) == 5  # epochs 3 and 4 do not improve: patience 2 runs out
    best = t.best
    assert best["monitor"] == "val_loss" and best["epoch"] <= 2
    assert best["value"] == min(h["val_loss"]) == h["val_loss"][best["epoch"]]
    for now, kept in zip(model.get_weights(), weights[best["epoch"]]):
        np.testing.assert_array_equal(now, kept)


def test_checkpoint_and_resume_from_continue_training(make_vae, digits, tmp_path):
    path = tmp_path / "best.keras"
    model = make_vae(kl_warmup_epochs=3)
    t = Trainer(model, digits, epochs=4, batch_size=64, learning_rate=2e-3,
                checkpoint_path=str(path))
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    record = json.loads((tmp_path / "best.trainer.json").read_text())
    best_epoch = t.best["epoch"]
    assert best_epoch == 3  # warm-up epochs 0-2 are no candidates; epoch 3 is the first
    assert record["epochs"] == 4 and record["best"]["epoch"] == 3
    assert record["config"]["learning_rate"] == 2e-3

    resumed = Trainer.resume_from(str(path), digits, epochs=2)
    assert resumed.epochs_done == 4 and resumed.history == t.history
    assert resumed.learning_rate == pytest.approx(2e-3)
    assert resumed.best == t.best and resumed.checkpoint_path == path
    assert int(resumed.model.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    for a, b in zip(resumed.model.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b)
    resumed.start()
    try:
        # The restored model traces its training step anew, in a new thread: on a loaded
        # 2-core box that first step alone once took over 60 s (the run stood at batch 0).
        assert resumed.wait(2 * SOON) and resumed.state == "finished", resumed.error
    finally:
        resumed.stop(wait=True, timeout=SOON)  # never leave a run going into the next test
    h = resumed.history
    assert len(h["loss"]) == 6
    assert h["kl_weight"] == pytest.approx([0, 1 / 3, 2 / 3, 1, 1, 1])
    # The resumed model encodes and the checkpoint still loads.
    assert resumed.model.embed(digits[:4]).shape == (4, 2)
    keras.saving.load_model(path)


def test_checkpoint_keeps_only_improvements(make_autoencoder, digits, tmp_path):
    path = tmp_path / "ae.keras"
    model = make_autoencoder()
    t = Trainer(model, digits, epochs=5, batch_size=32, checkpoint_path=path,
                callbacks=[SpoilDecoderFrom(3)])
    weights = {}
    t.on_epoch(lambda epoch, logs: weights.__setitem__(epoch, model.get_weights()))
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    best_epoch = t.best["epoch"]
    assert best_epoch <= 2 and not t.stopped_early and len(t.history["loss"]) == 5
    loaded = keras.saving.load_model(path)
    for a, b in zip(loaded.get_weights(), weights[best_epoch]):
        np.testing.assert_array_equal(a, b)
    assert loaded.reconstruction_error(digits).mean() < model.reconstruction_error(digits).mean()
    assert not list(tmp_path.glob(".*partial*"))


def test_resume_from_rejects_bad_paths(tmp_path, digits):
    with pytest.raises(ValueError, match="'.keras' checkpoint"):
        Trainer.resume_from(str(tmp_path / "m.h5"), digits)
    with pytest.raises(ValueError, match="not found"):
        Trainer.resume_from(str(tmp_path / "missing.keras"), digits)


def test_best_tracker_skips_warmup_and_restarts_when_the_objective_changes(make_vae):
    model = make_vae()
    tracker = BestTracker("val_loss", patience=2, comparable_from=2, checkpoint_path=None)
    assert not tracker.update(model, 0, {"val_loss": 1.0}, dict)
    assert not tracker.update(model, 1, {"val_loss": 2.0}, dict)
    assert tracker.summary() is None  # warm-up epochs are no candidates
    assert not tracker.update(model, 2, {"val_loss": 5.0}, dict)
    assert not tracker.update(model, 3, {"val_loss": 6.0}, dict)
    assert tracker.update(model, 4, {"val_loss": 7.0}, dict)  # patience 2 runs out
    assert tracker.summary() == {"epoch": 2, "monitor": "val_loss", "value": 5.0}
    tracker.objective_changed(5)
    assert tracker.summary() is None
    assert not tracker.update(model, 5, {"val_loss": 9.0}, dict)
    assert tracker.summary()["epoch"] == 5
