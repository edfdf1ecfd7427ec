"""Save and load a model together with its training history; check both on the way in."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from vaewidget.training.finite import check_finite_weights


def model_paths(path: Any, name: str | None = None) -> tuple[Path, Path]:
    """``(model .keras path, history .history.json path)`` for ``path``."""
    p = Path(str(path).strip()).expanduser()
    if p.suffix != ".keras":
        raise ValueError("Expected a file name ending in '.keras' (Keras' model format). "
                         f"Received: {name or str(path)!r}")
    return p, p.with_name(p.stem + ".history.json")


def save_model(model: Any, history: dict[str, list[float]], path: Any,
               name: str | None = None) -> tuple[Path, Path]:
    """Write ``model`` to ``path`` (``.keras``) and its history beside it (``.history.json``).

    ``name`` is how messages call the file (default: its path).

    Returns
    -------
    (model_path, history_path)
    """
    model_path, history_path = model_paths(path, name)
    check_finite_weights(model, "save the model")
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    clean = {k: [v if math.isfinite(v) else None for v in map(float, vals)]
             for k, vals in history.items()}
    history_path.write_text(json.dumps(clean, indent=1))
    return model_path, history_path


def load_model(path: Any, name: str | None = None) -> tuple[Any, dict[str, list[float]]]:
    """Read a model saved by :func:`save_model`; the history is empty when its file is missing.

    Raises ``ValueError`` for a missing or unreadable file, a Keras model that is not a
    vaewidget model, and a malformed history file; it changes nothing anywhere.
    ``name`` is how messages call the file (default: its path).
    """
    import zipfile

    import keras

    from vaewidget.models import BaseAutoencoder  # also registers the custom classes

    model_path, history_path = model_paths(path, name)
    label = repr(name or str(model_path))
    if not model_path.is_file():
        raise ValueError(f"Expected an existing .keras file. Received: {label} (not found)")
    expected = "Expected a .keras file written by vaewidget (panel Save or model.save)."
    if not zipfile.is_zipfile(model_path):  # Keras would call it "File not found"
        raise ValueError(f"{expected} Received: {label}, which is not a .keras (zip) file: "
                         "it is damaged, or of another format.")
    try:
        model = keras.saving.load_model(model_path, safe_mode=True)
    except Exception as err:
        raise ValueError(f"{expected} Received: {label}, which Keras could not read "
                         f"({type(err).__name__}: {_first_line(err, model_path)})") from None
    if not isinstance(model, BaseAutoencoder):
        raise ValueError(
            "Expected a vaewidget VAE or Autoencoder (built with VAE.from_data or "
            f"Autoencoder.from_data). Received: a {type(model).__name__} in {label}, which "
            "has no data preparation to train or show it with."
        )
    history = {}
    if history_path.is_file():
        history_name = None if name is None else str(Path(name).with_name(history_path.name))
        history = read_history(history_path, history_name)
    return model, history


def read_history(path: Path, name: str | None = None) -> dict[str, list[float]]:
    """Read a ``.history.json``: metric names to lists of numbers (``null``: NaN), all
    of one length (one value per epoch). ``name``: how messages call the file."""
    expected = ("Expected a history file holding a JSON object of metric names to lists of "
                "numbers, one per epoch")
    label = repr(name or str(path))
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{expected}. Received: {label}, which is not JSON "
                         f"({_first_line(err)}).") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{expected}. Received: a JSON {type(raw).__name__} in {label}.")
    history: dict[str, list[float]] = {}
    for key, values in raw.items():
        ok = isinstance(values, list) and all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)
        if not ok:
            raise ValueError(f"{expected}. Received: {key!r} = {_short(values)} in {label}.")
        history[key] = [math.nan if v is None else float(v) for v in values]
    lengths = {key: len(values) for key, values in history.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} {n}" for k, n in lengths.items())
        raise ValueError(f"{expected}, all of the same length. Received lengths: {listed} "
                         f"in {label}.")
    return history


def _first_line(err: BaseException, hide: Any = None) -> str:
    text = (str(err).strip() or type(err).__name__).splitlines()[0][:200]
    return text.replace(str(hide), "the file") if hide is not None else text


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
