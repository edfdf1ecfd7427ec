"""NaN/inf weights end a run as surely as a NaN loss, with oneDNN's fused kernels on or off.

oneDNN's fused MatMul+BiasAdd+Relu (TensorFlow's CPU default) turns NaN
activations into 0, so a NaN kernel can leave the loss finite and falling. The
switch is read when TensorFlow is imported, so each setting runs in its own
process; the in-process tests run with whatever this machine uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from vaewidget import Trainer
from vaewidget.training.checkpoints import BestTracker

SOON = 60.0
pytestmark = pytest.mark.timeout(400)

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np
    from vaewidget import VAE, Trainer, datasets

    x = datasets.load_digits()[0][:480]
    out = {}

    class Poison(keras.callbacks.Callback):
        # Write NaN into the first kernel at the end of a batch (the issue's reproduction)
        # or of an epoch (after the Trainer took its snapshot: no batch follows).
        def __init__(self, where, at):
            super().__init__()
            self.where, self.at, self.epoch = where, at, -1
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def poison(self):
            v = self.model.trainable_variables[0]
            v.assign(np.full(v.shape, np.nan, "float32"))
        def on_train_batch_end(self, batch, logs=None):
            if self.where == "batch" and (self.epoch, batch) == self.at:
                self.poison()
        def on_epoch_end(self, epoch, logs=None):
            if self.where == "epoch" and epoch == self.at:
                self.poison()

    def run(name, poison, **kwargs):
        m = VAE.from_data(x, latent_dim=2, hidden_units=(16,), seed=0)
        saved = {}
        t = Trainer(m, x, batch_size=32, callbacks=[poison], **kwargs)
        t.on_epoch(lambda e, logs: saved.__setitem__(e, m.get_weights()))
        t.start()
        assert t.wait(120)
        good = max(saved) if saved else None
        out[name] = {
            "state": t.state, "error": (t.error or "").split("\\n\\n")[0],
            "epochs": len(t.history.get("loss", [])),
            "embed_finite": bool(np.isfinite(m.embed(x)).all()),
            "restored": good is not None and all(
                np.array_equal(a, b) for a, b in zip(m.get_weights(), saved[good])),
        }
        return m

    # Without vaewidget's guard in the loss, does this build hide a NaN kernel?
    probe = VAE.from_data(x, latent_dim=2, hidden_units=(16,), seed=0)
    probe._weights_guard = lambda: 0.0
    probe.compile()
    k = probe.trainable_variables[0]
    k.assign(np.full(k.shape, np.nan, "float32"))
    hist = probe.fit(probe.prepare(x), epochs=1, batch_size=32, verbose=0)
    out["fused_hides_nan"] = bool(np.isfinite(hist.history["loss"][0]))

    run("batch", Poison("batch", (0, 2)), epochs=3)
    run("last_epoch", Poison("epoch", 2), epochs=3)
    run("checkpoint", Poison("batch", (1, 2)), epochs=3, checkpoint_path=sys.argv[1])
    loaded = keras.saving.load_model(sys.argv[1])
    out["checkpoint_finite"] = all(np.isfinite(w).all() for w in loaded.get_weights())
    print("RESULT " + json.dumps(out))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("onednn", ["1", "0"])
def test_nan_weights_fail_the_run_with_fused_kernels_on_and_off(tmp_path, onednn):
    script = tmp_path / "poison.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "best.keras")],
                          capture_output=True, text=True, timeout=360, env=env)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    # With the fused kernel, the unguarded loss stays finite: the case the Trainer must catch.
    print("fused kernel hides NaN weights:", out["fused_hides_nan"])
    for name in ("batch", "last_epoch", "checkpoint"):
        run = out[name]
        assert run["state"] == "failed", (name, run)
        assert "NaN or inf in the weights" in run["error"], (name, run)
        assert run["embed_finite"], (name, run)
    # The reproduction: epoch 0 never finished, so the run's start came back.
    assert out["batch"]["epochs"] == 0 and "where this run started" in out["batch"]["error"]
    # Poisoned after the last epoch's snapshot: caught when fit returns; that snapshot is back.
    assert out["last_epoch"]["epochs"] == 3 and out["last_epoch"]["restored"]
    assert "at the end of the run" in out["last_epoch"]["error"]
    assert "end of epoch 2" in out["last_epoch"]["error"]
    assert out["checkpoint"]["epochs"] == 1 and out["checkpoint"]["restored"]
    assert out["checkpoint_finite"]


class PoisonLastBatch(keras.callbacks.Callback):
    """Write inf into the last bias after epoch ``at``'s last batch: no loss shows it
    before the epoch's snapshot (the Trainer's batch check ran before this callback)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.epoch = at, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.at and batch == self.params["steps"] - 1:
            v = self.model.trainable_variables[-1]
            v.assign(np.full(v.shape, np.inf, "float32"))


def test_nonfinite_weights_are_never_the_last_good_state(make_vae, digits):
    model = make_vae()
    t = Trainer(model, digits, epochs=3, batch_size=32, validation_split=0.0,
                callbacks=[PoisonLastBatch(1)])
    t.start()
    assert t.wait(SOON) and t.state == "failed"
    assert "epoch 1" in t.error and "NaN or inf in the weights" in t.error
    assert "end of epoch 0" in t.error and len(t.history["loss"]) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_a_run_cannot_start_from_nonfinite_weights(make_vae, digits):
    model = make_vae()
    kernel = model.trainable_variables[0]
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    t = Trainer(model, digits, epochs=2, batch_size=32)
    t.start()
    assert t.wait(SOON) and t.state == "failed"
    assert "could not start" in t.error and "no finite weights" in t.error
    assert t.history == {}


def test_a_checkpoint_of_nonfinite_weights_is_refused(make_vae, tmp_path):
    model = make_vae()
    bias = model.trainable_variables[1]
    bias.assign(np.full(bias.shape, np.nan, "float32"))
    tracker = BestTracker("loss", None, 0, tmp_path / "best.keras")
    with pytest.raises(ValueError, match="Expected finite weights to save a checkpoint"):
        tracker.update(model, 0, {"loss": 1.0}, dict)
    assert not (tmp_path / "best.keras").exists()
