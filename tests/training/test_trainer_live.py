"""Live hyperparameters: beta and learning rate change from the next batch and are recorded."""

from __future__ import annotations

import threading

import keras
import pytest

from vaewidget import Trainer

SOON = 60.0  # generous bound for "soon" on a busy 2-core box
pytestmark = pytest.mark.timeout(180)


def at(info: dict, epoch: int, batch: int) -> bool:
    """Whether an on_batch ``info`` is for ``batch`` batches done in ``epoch``."""
    return (info["epoch"], info["batch"]) == (epoch, batch)


def test_live_beta_change_shows_in_next_epoch_kl_term_and_history(vae, digits):
    t = Trainer(vae, digits, epochs=4, batch_size=32)
    t.on_epoch(lambda epoch, logs: setattr(t, "beta", 0.25) if epoch == 1 else None)
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    h = t.history
    assert h["beta"] == [1.0, 1.0, 0.25, 0.25]
    # weighted_kl_loss = beta * kl_weight * kl, batch by batch, so also as epoch means.
    for epoch, beta in enumerate(h["beta"]):
        assert h["weighted_kl_loss"][epoch] == pytest.approx(beta * h["kl_loss"][epoch], rel=1e-4)
        assert h["val_weighted_kl_loss"][epoch] == pytest.approx(
            beta * h["val_kl_loss"][epoch], rel=1e-4
        )
    (change,) = t.changes
    assert change["name"] == "beta" and (change["old"], change["new"]) == (1.0, 0.25)
    assert (change["epoch"], change["batch"]) == (2, 0)
    assert float(vae.beta.numpy()) == 0.25 and t.beta == 0.25


def test_beta_change_mid_epoch_takes_effect_from_the_next_batch(vae, digits):
    t = Trainer(vae, digits, epochs=2, batch_size=32, batch_rate=None)
    t.on_batch(lambda info: setattr(t, "beta", 0.0) if at(info, 1, 5) else None)
    t.start()
    assert t.wait(SOON), t.error
    (change,) = t.changes
    assert (change["epoch"], change["batch"], change["new"]) == (1, 5, 0.0)
    h = t.history
    # Epoch 1 mixes 5 batches at beta 1 and 9 at beta 0: its weighted KL is strictly between.
    assert 0 < h["weighted_kl_loss"][1] < h["kl_loss"][1]
    assert h["val_weighted_kl_loss"][1] == 0.0


def test_live_learning_rate_change_reaches_the_optimizer(vae, digits):
    t = Trainer(vae, digits, epochs=3, batch_size=32, learning_rate=2e-3)
    seen_lr = []
    t.on_epoch(lambda epoch, logs: seen_lr.append(logs["learning_rate"]))
    t.on_epoch(lambda epoch, logs: setattr(t, "learning_rate", 5e-4) if epoch == 0 else None)
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert t.history["learning_rate"] == pytest.approx([2e-3, 5e-4, 5e-4])
    assert seen_lr == t.history["learning_rate"]
    assert float(vae.optimizer.learning_rate) == pytest.approx(5e-4)
    lr_changes = [c for c in t.changes if c["name"] == "learning_rate"]
    assert lr_changes[-1]["new"] == 5e-4 and lr_changes[-1]["epoch"] == 1
    with pytest.raises(ValueError, match="learning_rate > 0"):
        t.learning_rate = 0
    assert t.learning_rate == 5e-4


def test_setting_while_idle_applies_at_start_and_while_paused_on_resume(vae, digits):
    t = Trainer(vae, digits, epochs=2, batch_size=32, batch_rate=None)
    t.beta = 2.0  # idle: applies when the run starts
    paused = threading.Event()
    t.on_state(lambda s: paused.set() if s == "paused" else None)
    t.on_batch(lambda info: t.pause() if at(info, 0, 3) else None)
    t.start()
    assert paused.wait(SOON)
    t.learning_rate = 1e-2  # paused: applies to the next batch, after resume
    t.resume()
    assert t.wait(SOON), t.error
    changes = [(c["name"], c["new"], c["epoch"], c["batch"]) for c in t.changes]
    assert ("beta", 2.0, 0, 0) in changes and ("learning_rate", 1e-2, 0, 3) in changes
    assert t.history["beta"] == [2.0, 2.0]


def test_precompiled_model_keeps_its_optimizer_and_gets_the_trainer_rate(make_autoencoder, digits):
    model = make_autoencoder()
    optimizer = keras.optimizers.SGD(learning_rate=1e-4)
    model.compile(optimizer=optimizer)
    t = Trainer(model, digits, epochs=1, batch_size=64, learning_rate=3e-3)
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert model.optimizer is optimizer
    assert t.changes[0]["name"] == "learning_rate"
    assert (t.changes[0]["old"], t.changes[0]["new"]) == (pytest.approx(1e-4), 3e-3)
    assert t.history["learning_rate"] == [3e-3] and "beta" not in t.history
