"""Several devices and the JAX backend, each in a fresh process (so ``make test`` runs them).

* ``mirrored_check.py``: ``tf.distribute.MirroredStrategy`` on two logical CPU devices
  (configured before TensorFlow initialises) trains with the loss of one device on the
  same global batch.
* ``jax_suite/``: the engine on ``KERAS_BACKEND=jax`` with two forced CPU devices
  (VAE fit, Trainer start/stop/finish, save/load, a small VAEClusterer) and
  ``keras.distribution.DataParallel`` against one device.
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
ROOT = HERE.parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_mirrored_strategy_on_two_cpus_gives_the_loss_of_one(tmp_path):
    done = subprocess.run([sys.executable, str(HERE / "mirrored_check.py"), str(tmp_path)],
                          env=_env(KERAS_BACKEND="tensorflow"), capture_output=True, text=True,
                          timeout=540)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(result["two"][key], result["one"][key], rtol=1e-4)
    assert result["one"]["loss"][-1] < result["one"]["loss"][0]  # it trained
    assert np.isfinite(result["vae_two"]).all()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_engine_on_jax_with_data_parallel():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "jax_suite"), "-o", "python_files=check_*.py",
         "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=ROOT, capture_output=True, text=True, timeout=840,
        env=_env(KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"),
    )
    tail = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    assert "7 passed" in done.stdout and "skipped" not in done.stdout, tail


def test_strategy_needs_a_model_built_in_its_scope_and_one_step_per_execution(digits):
    import tensorflow as tf

    from vaewidget import VAE, Trainer

    x = digits[0][:200]
    strategy = tf.distribute.MirroredStrategy(["CPU:0"])
    outside = VAE.from_data(x, latent_dim=2, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match=r"Expected a model built under the strategy's scope"):
        Trainer(outside, x, strategy=strategy)
    with strategy.scope():
        inside = VAE.from_data(x, latent_dim=2, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match=r"Expected steps_per_execution=1 .*Received: "
                                         r"steps_per_execution=4"):
        Trainer(inside, x, strategy=strategy, steps_per_execution=4)
    assert Trainer(inside, x, strategy=strategy).strategy is strategy
