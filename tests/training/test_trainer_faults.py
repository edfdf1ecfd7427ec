"""Faults lose nothing: NaN/inf rollback, captured exceptions, broken listeners, bad input."""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest

from vaewidget import Trainer

SOON = 60.0  # generous bound for "soon" on a busy 2-core box
pytestmark = pytest.mark.timeout(180)


class PoisonWeights(keras.callbacks.Callback):
    """Write NaN into the first kernel before batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.at, self.epoch = (epoch, batch), -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            kernel = self.model.trainable_variables[0]
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))


class RaiseAt(keras.callbacks.Callback):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("disk full (injected)")


def weights_at_epoch_end(trainer) -> dict[int, list[np.ndarray]]:
    saved: dict[int, list[np.ndarray]] = {}
    trainer.on_epoch(lambda epoch, logs: saved.__setitem__(epoch, trainer.model.get_weights()))
    return saved


def test_nan_loss_fails_and_restores_last_good_epoch(make_vae, digits, tmp_path, watch_states):
    model = make_vae()
    t = Trainer(model, digits, epochs=4, batch_size=32, callbacks=[PoisonWeights(2, 3)])
    seen, _ = watch_states(t)
    saved = weights_at_epoch_end(t)
    t.start()
    assert t.wait(SOON)
    assert t.state == "failed" and seen == ["running", "failed"]
    assert "epoch 2" in t.error and "nan" in t.error
    assert "learning rate" in t.error and "scaling" in t.error
    assert "end of epoch 1" in t.error
    assert sorted(saved) == [0, 1] and len(t.history["loss"]) == 2
    for now, good in zip(model.get_weights(), saved[1]):
        np.testing.assert_array_equal(now, good)
    # The model stays usable: encode, save, and train on once the cause is gone.
    z_mean, _ = model.encode(digits[:10])
    assert np.isfinite(z_mean).all()
    model.save(tmp_path / "after_nan.keras")
    t.callbacks.clear()
    t.epochs = 1
    t.start()
    assert t.wait(SOON) and t.state == "finished" and len(t.history["loss"]) == 3
    assert np.isfinite(t.history["loss"]).all()


def test_huge_learning_rate_fails_and_keeps_the_start_weights(make_vae, digits):
    model = make_vae()
    before = model.get_weights()
    t = Trainer(model, digits, epochs=3, batch_size=32, learning_rate=1e6)
    t.start()
    assert t.wait(SOON) and t.state == "failed"
    assert "1e+06" in t.error and "where this run started" in t.error
    for now, good in zip(model.get_weights(), before):
        np.testing.assert_array_equal(now, good)
    assert t.history == {}
    # The optimizer state came back too, so a sane learning rate trains from here.
    t.learning_rate = 1e-3
    t.start()
    assert t.wait(SOON) and t.state == "finished", t.error
    assert t.changes[-1]["name"] == "learning_rate" and t.changes[-1]["new"] == 1e-3


def test_exception_in_training_thread_is_captured_with_traceback(make_vae, digits):
    model = make_vae()
    t = Trainer(model, digits, epochs=3, batch_size=64, callbacks=[RaiseAt(1)])
    t.start()
    assert t.wait(SOON) and t.state == "failed"
    assert isinstance(t.exception, RuntimeError)
    assert "RuntimeError: disk full (injected)" in t.error and "Traceback" in t.error
    assert "on_epoch_end" in t.error
    assert len(t.history["loss"]) == 2  # epoch 1 was recorded before the failing callback
    assert model.embed(digits[:3]).shape == (3, 2)
    t.callbacks.clear()
    t.start()
    assert t.wait(SOON) and t.state == "finished" and t.error is None


def test_raising_listeners_are_reported_and_never_stop_training(vae, digits):
    t = Trainer(vae, digits, epochs=2, batch_size=32, batch_rate=None)
    ok_epochs = []

    def bad_batch(info):
        raise ValueError("plot broke")

    def bad_epoch(epoch, logs):
        raise KeyError("missing")

    t.on_batch(bad_batch)
    t.on_epoch(bad_epoch)
    t.on_epoch(lambda epoch, logs: ok_epochs.append(epoch))
    t.on_state(lambda state: 1 / 0)
    with pytest.warns(RuntimeWarning, match="listener") as record:
        t.start()
        assert t.wait(SOON)
    assert t.state == "finished" and len(t.history["loss"]) == 2 and ok_epochs == [0, 1]
    errors = t.listener_errors
    events = {e["event"] for e in errors}
    assert events == {"batch", "epoch", "state"}
    batch_errors = [e for e in errors if e["event"] == "batch"]
    assert batch_errors[0]["error"] == "ValueError: plot broke"
    assert "bad_batch" in batch_errors[0]["listener"] and "Traceback" in batch_errors[0]["traceback"]
    # One warning per broken listener, not one per call.
    assert len([w for w in record if "listener" in str(w.message)]) == 3


def test_listener_may_stop_training_from_the_training_thread(vae, digits):
    t = Trainer(vae, digits, epochs=1000, batch_size=32)
    t.on_epoch(lambda epoch, logs: t.stop(wait=True))  # cannot wait on itself: just stops
    t.start()
    assert t.wait(SOON) and t.state == "stopped"
    assert len(t.history["loss"]) == 1 and not t.listener_errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs >= 1"),
        ({"batch_size": 2.5}, "batch_size >= 1"),
        ({"validation_split": 1.0}, "validation_split < 1"),
        ({"learning_rate": -1}, "learning_rate > 0"),
        ({"learning_rate": float("nan")}, "learning_rate > 0"),
        ({"batch_rate": 0}, "batch_rate > 0"),
        ({"callbacks": [print]}, "keras.callbacks.Callback"),
        ({"early_stopping_patience": 0}, "early_stopping_patience >= 1"),
        ({"early_stopping_patience": 2, "validation_split": 0}, "validation data"),
        ({"checkpoint_path": "model.h5"}, "ending in '.keras'"),
        ({"checkpoint_path": "/no/such/folder/m.keras"}, "existing folder"),
    ],
)
def test_bad_options_raise_value_error(vae, digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Trainer(vae, digits, **kwargs)


def test_bad_data_raises_before_any_thread(vae, digits):
    threads = threading.active_count()
    with pytest.raises(ValueError, match="Expected rows of shape"):
        Trainer(vae, digits[:, :10])
    poisoned = digits.copy()
    poisoned[3, 5] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Trainer(vae, poisoned)
    with pytest.raises(ValueError, match="validation_data"):
        Trainer(vae, digits, validation_data=digits[:, :5])
    with pytest.raises(ValueError, match="at least one training row"):
        Trainer(vae, digits[:1], validation_split=0.5)
    with pytest.raises(ValueError, match="vaewidget model"):
        Trainer(keras.Sequential([keras.layers.Dense(2)]), digits)
    assert threading.active_count() == threads


def test_beta_needs_a_vae(make_autoencoder, digits, vae):
    t = Trainer(make_autoencoder(), digits)
    assert t.beta is None
    with pytest.raises(ValueError, match="Expected a VAE"):
        t.beta = 1.0
    t = Trainer(vae, digits)
    with pytest.raises(ValueError, match="beta >= 0"):
        t.beta = -0.5
    assert t.beta == 1.0


def test_learning_rate_schedule_is_refused(make_vae, digits):
    model = make_vae()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9)
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    with pytest.raises(ValueError, match="learning-rate schedule"):
        Trainer(model, digits)
