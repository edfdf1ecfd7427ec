"""vaewidget: cluster data with variational autoencoders, right inside a notebook.

The one public door. Engine: :class:`VAE`, :class:`Autoencoder`, :class:`Trainer`,
:class:`VAEClusterer`, :class:`ClusterPipeline` (encode -> project -> cluster, the engine
every door shares). Widgets: :class:`VAEPanel`, :class:`ClusterViewer`.

The models load at import, so ``keras.saving.load_model("m.keras")`` finds their
registered classes right after ``import vaewidget``. Everything else loads on first
use, so scripts that never touch a widget never import ipywidgets.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# Keras reads the backend once, at import: default to TensorFlow when unset.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ["KERAS_BACKEND"] == "tensorflow":
    # TensorFlow's C++ logs while it loads, before it reads TF_CPP_MIN_LOG_LEVEL; import it
    # here with those lines filtered (vaewidget/_quiet_start.py says which and why).
    from vaewidget._quiet_start import import_tensorflow

    import_tensorflow()

__version__ = "0.1.0"

from vaewidget.models import VAE, Autoencoder, DataPreparer  # noqa: E402  (registers classes)

_LAZY = {
    "Trainer": "vaewidget.training",
    "VAEClusterer": "vaewidget.clustering",
    "ClusterPipeline": "vaewidget.clustering",
    "ClusterResult": "vaewidget.clustering",
    "VAEPanel": "vaewidget.widgets",
    "ClusterViewer": "vaewidget.widgets",
    "datasets": "vaewidget.datasets",
}

__all__ = ["VAE", "Autoencoder", "DataPreparer", *_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'vaewidget' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__.endswith(name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
