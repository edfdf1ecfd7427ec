"""Save and load a model together with its training history."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _paths(path: Any) -> tuple[Path, Path]:
    p = Path(str(path).strip()).expanduser()
    if p.suffix != ".keras":
        raise ValueError(
            f"Expected a file name ending in '.keras' (Keras' model format). Received: {str(path)!r}"
        )
    return p, p.with_name(p.stem + ".history.json")


def save_model(model: Any, history: dict[str, list[float]], path: Any) -> tuple[Path, Path]:
    """Write ``model`` to ``path`` (``.keras``) and its history beside it (``.history.json``).

    Returns
    -------
    (model_path, history_path)
    """
    model_path, history_path = _paths(path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    clean = {k: [v if math.isfinite(v) else None for v in map(float, vals)]
             for k, vals in history.items()}
    history_path.write_text(json.dumps(clean, indent=1))
    return model_path, history_path


def load_model(path: Any) -> tuple[Any, dict[str, list[float]]]:
    """Read a model saved by :func:`save_model`; the history is empty when its file is missing."""
    import keras

    import vaewidget.models  # noqa: F401  (registers the custom classes)

    model_path, history_path = _paths(path)
    if not model_path.is_file():
        raise ValueError(f"Expected an existing .keras file. Received: {str(model_path)!r} (not found)")
    model = keras.saving.load_model(model_path, safe_mode=True)
    history: dict[str, list[float]] = {}
    if history_path.is_file():
        raw = json.loads(history_path.read_text())
        history = {k: [math.nan if v is None else float(v) for v in vals] for k, vals in raw.items()}
    return model, history
