"""Give back what TensorFlow keeps, forever, of every traced Keras training step.

Keras's TensorFlow optimizer sums gradients through ``tf.distribute``'s replica
context (``_all_reduce_sum_gradients``), which wraps the sum in
``tf.custom_gradient``. While a ``tf.function`` is traced, ``custom_gradient``
registers its gradient function under a new name in TensorFlow's global gradient
registry, and that function holds the whole traced step (its ``FuncGraph``). So
every new model that trains leaves its training step behind: about 20 MB for the
quickstart's model (``benchmarks/panel_memory.py``), which was the panel's
memory growth per Train/Reset cycle.

Nothing ever differentiates the optimizer's update, so those entries are never
read after the trace; :func:`forget_allreduce_gradients` removes them.

:func:`clear_kernel_cache` empties TensorFlow's cache of eager kernels (what
``keras.utils.clear_session`` also does, without resetting Keras's names); the
panel calls it when it drops a model (Reset, Load).
"""

from __future__ import annotations

from typing import Any

_MARK = "all_reduce.<locals>.grad_wrapper"


def forget_allreduce_gradients() -> int:
    """Remove the registered gradients of ``all_reduce`` wrappers; return how many.

    Does nothing (returns 0) on other backends or when TensorFlow's internals
    differ from what this expects.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return 0
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except (ImportError, AttributeError):
        return 0
    removed = 0
    for name, entry in list(registry.items()):
        if str(name).startswith("CustomGradient-") and _is_allreduce(entry):
            registry.pop(name, None)
            removed += 1
    return removed


def clear_kernel_cache() -> None:
    """Empty TensorFlow's eager kernel cache (kernels in use stay alive; later calls
    build them again). Does nothing on other backends."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    try:
        from tensorflow.python.eager import context

        context.context().clear_kernel_cache()
    except (ImportError, AttributeError):
        pass


def _is_allreduce(entry: Any) -> bool:
    # entry["type"] is custom_gradient's internal_grad_fn -> tape_grad_fn -> grad_fn.
    fn = entry.get("type") if isinstance(entry, dict) else None
    for _ in range(3):
        cells = getattr(fn, "__closure__", None) or ()
        names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
        found = dict(zip(names, cells))
        nxt = found.get("tape_grad_fn") or found.get("grad_fn")
        if nxt is None:
            return False
        try:
            fn = nxt.cell_contents
        except ValueError:
            return False
        if _MARK in getattr(fn, "__qualname__", ""):
            return True
    return False
