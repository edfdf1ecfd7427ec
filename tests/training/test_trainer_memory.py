"""A finished run leaves nothing of its traced training step behind in TensorFlow."""

from __future__ import annotations

import gc
import weakref

import keras
import pytest

from vaewidget import Trainer
from vaewidget.training._tf_memory import _is_allreduce

#: This test is about memory, not speed. Its one-epoch run is 3 s alone and 6 s with a
#: CPU burner per core; once, late in a loaded full suite, it had not finished its first
#: batch after 60 s. A wider bound, and every thread's stack if even that is missed.
SOON = 240.0


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's registry")
def test_a_run_leaves_no_traced_step_in_the_gradient_registry(make_vae, digits, stacks):
    from tensorflow.python.framework import ops
    from tensorflow.python.framework.func_graph import FuncGraph

    def steps() -> set[int]:
        return {id(g) for g in gc.get_objects()
                if isinstance(g, FuncGraph) and g.name == "one_step_on_data"}

    registry = ops._gradient_registry._registry
    before = steps()
    model = make_vae()
    t = Trainer(model, digits, epochs=1, batch_size=64)
    t.start()
    finished = t.wait(SOON)
    assert finished, f"{t!r} after {SOON:.0f} s\n{stacks()}"
    assert t.state == "finished", t.error
    # Keras' optimizer all-reduces gradients through tf.custom_gradient, which registers
    # a gradient holding the whole traced step; the Trainer removes those entries.
    assert not [k for k, entry in registry.items() if _is_allreduce(entry)]
    new = steps() - before
    refs = [weakref.ref(g) for g in gc.get_objects() if id(g) in new]
    assert refs
    del model, t
    gc.collect()
    assert all(ref() is None for ref in refs)  # the traced step went with its model
