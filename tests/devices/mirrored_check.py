"""Run as a script (tests/devices/test_devices.py starts it): MirroredStrategy on two logical
CPU devices gives the loss of one device on the same global batch.

Logical devices must be configured before TensorFlow initialises, hence a fresh process.
Prints one JSON line with the per-epoch losses of both runs.
"""

from __future__ import annotations

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vaewidget import VAE, Autoencoder, Trainer, datasets  # noqa: E402


def train(cls, path, strategy, weights=None, **kwargs):
    """Train a model from the .npy at ``path`` (streamed, so both runs see the same batches)."""
    keras.utils.set_random_seed(0)
    scope = strategy.scope() if strategy is not None else tf.distribute.get_strategy().scope()
    with scope:
        model = cls.from_data(path, latent_dim=2, hidden_units=(32,), seed=0, **kwargs)
        if weights is not None:
            model.set_weights(weights)
        start = model.get_weights()
    trainer = Trainer(model, path, epochs=3, batch_size=64, validation_split=0.1,
                      strategy=strategy)
    trainer.start()
    assert trainer.wait(300), "training did not end"
    assert trainer.state == "finished", trainer.error
    return trainer.history, start


def main(folder: str) -> None:
    x, _ = datasets.load_digits()
    path = os.path.join(folder, "digits.npy")
    np.save(path, np.ascontiguousarray(x[:1024]))
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    assert strategy.num_replicas_in_sync == 2
    one, start = train(Autoencoder, path, None)
    two, _ = train(Autoencoder, path, strategy, weights=start)
    vae, _ = train(VAE, path, strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "one": {k: one[k] for k in ("loss", "val_loss")},
                      "two": {k: two[k] for k in ("loss", "val_loss")},
                      "vae_two": vae["loss"]}))


if __name__ == "__main__":
    main(sys.argv[1])
