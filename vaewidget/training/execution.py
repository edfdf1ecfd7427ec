"""Several steps per call (``steps_per_execution``) and ``tf.distribute`` strategies.

Training small models is dominated by the cost of each call into the compiled
step, not by the step itself: running 16 steps per call doubled ``fit``'s
samples/s on digits (benchmarks/README.md). Keras calls batch callbacks once per
execution, so pause, stop and live hyperparameters act between executions. The
``"auto"`` rule keeps one execution near :data:`TARGET_SECONDS`, so a stop still
ends training within a fraction of a second:

* before a model has trained with the Trainer, a step's time is estimated from the
  multiply-adds of its layers (forward and backward: 6 FLOPs per weight use per row)
  at a deliberately low :data:`ASSUMED_FLOPS`, which overestimates the step on any
  machine, so executions come out shorter than the target, never longer;
* once a run has measured its speed, later runs use that measurement;
* the result is a power of two in ``[1, MAX_STEPS]``;
* it is 1 when something asks to see every batch: ``batch_rate=None`` (call the
  ``on_batch`` listeners after every batch), or a user callback that implements
  ``on_train_batch_begin`` or ``on_train_batch_end``, which Keras would otherwise
  call once per execution (unless it declares ``per_execution_ok = True``, as
  :class:`vaewidget.progress.KerasProgress` does).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Aim for executions of about this many seconds (a stop then takes effect well within 0.5 s).
TARGET_SECONDS = 0.2
#: FLOP/s assumed before any measurement: low for a laptop CPU, so executions err short.
ASSUMED_FLOPS = 5e9
#: Most steps per execution chosen by "auto".
MAX_STEPS = 32


def check_steps_per_execution(value: Any, strategy: Any = None) -> int | str:
    """``"auto"`` or an int >= 1 (only 1 under a ``tf.distribute`` strategy), else ValueError.

    Under ``MirroredStrategy``, Keras 3.15's multi-step function fails with
    ``InvalidArgumentError: You must feed a value for placeholder tensor`` (measured
    with TensorFlow 2.21, with a plain ``Sequential`` model too), so a strategy gets 1.
    """
    if isinstance(value, str) and value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"Expected steps_per_execution to be an int >= 1 or 'auto'. "
            f"Received: steps_per_execution={value!r}"
        )
    if strategy is not None and int(value) > 1:
        raise ValueError(
            "Expected steps_per_execution=1 (or 'auto') with a tf.distribute strategy: Keras "
            "3.15 cannot run several steps per execution under one. "
            f"Received: steps_per_execution={value!r}"
        )
    return int(value)


def step_flops(model: Any, batch_size: int) -> float:
    """Estimated FLOPs of one training step: 6 per multiply-add of every layer, per row."""
    macs = 0.0
    for network in (model.encoder, model.decoder):
        for layer in network.layers:
            kernel = getattr(layer, "kernel", None)
            if kernel is None:
                continue
            size = float(np.prod(kernel.shape))
            out = getattr(layer, "output", None)
            shape = tuple(getattr(out, "shape", ()) or ())
            if len(shape) == 4:  # a convolution: the kernel is applied at every position
                size *= float(shape[1] or 1) * float(shape[2] or 1)
            macs += size
    return 6.0 * macs * int(batch_size)


def choose_steps_per_execution(model: Any, batch_size: int,
                               seconds_per_step: float | None = None) -> int:
    """Steps per execution for executions of about :data:`TARGET_SECONDS` (a power of two)."""
    if seconds_per_step is None or not seconds_per_step > 0:
        seconds_per_step = step_flops(model, batch_size) / ASSUMED_FLOPS
    steps = TARGET_SECONDS / max(seconds_per_step, 1e-9)
    if steps < 1:
        return 1
    return int(min(MAX_STEPS, 2 ** math.floor(math.log2(steps))))


def needs_every_batch(callbacks: Any, batch_rate: float | None) -> bool:
    """Whether ``batch_rate=None`` or a callback's batch hooks ask to see every batch."""
    import keras

    base = keras.callbacks.Callback
    hooks = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    return batch_rate is None or any(
        getattr(type(cb), hook, None) is not getattr(base, hook) for cb in callbacks or ()
        if not getattr(cb, "per_execution_ok", False) for hook in hooks
    )


def apply_steps_per_execution(model: Any, steps: int) -> None:
    """Make the compiled ``model`` run ``steps`` steps per call (rebuilding its functions)."""
    if int(getattr(model, "steps_per_execution", 1)) == int(steps):
        return
    model.steps_per_execution = int(steps)
    # The step functions read steps_per_execution when traced: make them anew.
    model.make_train_function(force=True)
    model.make_test_function(force=True)


def prepare_model(model: Any, *, learning_rate: float, strategy: Any, steps: int | str,
                  every_batch: bool, batch_size: int, seconds_per_step: float | None) -> int:
    """Before a run: compile ``model`` if it is not (with Adam, in the strategy's scope)
    and set its steps per execution (``"auto"``: see the module docstring). Returns them."""
    import keras

    if getattr(model, "optimizer", None) is None:
        if strategy is not None:
            with strategy.scope():
                model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        else:
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    if steps == "auto":
        steps = 1 if (every_batch or strategy is not None) else (
            choose_steps_per_execution(model, batch_size, seconds_per_step))
    apply_steps_per_execution(model, int(steps))
    return int(steps)


def check_strategy(model: Any, strategy: Any) -> Any:
    """Validate ``strategy=``: a ``tf.distribute.Strategy`` that built ``model``'s variables."""
    if strategy is None:
        return None
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Expected the TensorFlow backend for strategy= (a tf.distribute.Strategy). Received: "
            f"KERAS_BACKEND={keras.backend.backend()!r}; on JAX use keras.distribution "
            "(e.g. keras.distribution.set_distribution(keras.distribution.DataParallel()))."
        )
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(
            f"Expected a tf.distribute.Strategy for strategy=. Received: {type(strategy).__name__}"
        )
    if getattr(model, "distribute_strategy", None) is not strategy:
        raise ValueError(
            "Expected a model built under the strategy's scope. Received: a model built "
            "outside it. Build (and compile, if you compile it yourself) inside "
            "`with strategy.scope(): model = VAE.from_data(x, ...)`."
        )
    return strategy
