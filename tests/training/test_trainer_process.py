"""The Trainer at the edges of a process: distributed variables, and interpreter exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from vaewidget import Trainer

SOON = 60.0  # generous bound for a busy 2-core CI box, as in conftest.py


def test_model_built_under_a_distribution_strategy_trains(digits):
    import tensorflow as tf

    from vaewidget import VAE

    with tf.distribute.MirroredStrategy().scope():  # one CPU replica: MirroredVariables
        model = VAE.from_data(digits, latent_dim=2, hidden_units=(16,), seed=0)
        model.compile()
    trainer = Trainer(model, digits, epochs=1, batch_size=128, validation_split=0.0)
    trainer.start()
    assert trainer.wait(SOON)
    assert trainer.state == "finished", trainer.error
    assert len(trainer.history["loss"]) == 1
    assert trainer.history["beta"] == [1.0]


def test_exiting_the_interpreter_while_training_stops_cleanly(tmp_path):
    script = tmp_path / "exit_while_training.py"
    script.write_text(
        textwrap.dedent(
            """
            import threading
            from vaewidget import VAE, Trainer
            from vaewidget.datasets import load_digits

            x, _ = load_digits()
            trainer = Trainer(VAE.from_data(x, hidden_units=(32,)), x, epochs=1000)
            started = threading.Event()
            trainer.on_batch(lambda info: started.set())
            trainer.start()
            assert started.wait(120), "training never started"
            print("exiting while", trainer.state, flush=True)
            """
        )
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env
    )
    assert "exiting while running" in done.stdout, done.stderr[-2000:]
    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminate called" not in done.stderr


def test_a_model_built_under_mirrored_strategy_on_two_devices_trains_one_step_per_call(tmp_path):
    """Keras cannot run several steps per call under MirroredStrategy: the "auto" rule must
    see the strategy the model was built under, even when the Trainer was not given it."""
    script = tmp_path / "mirrored.py"
    script.write_text(textwrap.dedent(
        """
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from vaewidget import VAE, Trainer, datasets
        x = datasets.load_digits()[0][:480]
        with tf.distribute.MirroredStrategy().scope():
            model = VAE.from_data(x, latent_dim=2, hidden_units=(16,), seed=0)
            model.compile()
        t = Trainer(model, x, epochs=1, batch_size=128, validation_split=0.0)
        t.start()
        assert t.wait(120)
        print("RESULT", t.state, model.steps_per_execution, flush=True)
        """
    ))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=240, env=env)
    assert "RESULT finished 1" in done.stdout, done.stderr[-3000:]
