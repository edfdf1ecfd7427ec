"""Save and Load of :class:`~vaewidget.VAEPanel`: all or nothing, inside ``files_root``.

The Save/Load buttons resolve the typed path in the panel's ``files_root``
(:mod:`vaewidget.widgets._paths`); ``panel.save(path)`` and ``panel.load(path)``,
called from code, take any path. A load either succeeds completely (model,
history, controls, plots) or changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaewidget.training._tf_memory import clear_kernel_cache
from vaewidget.widgets._paths import resolve_typed, shown
from vaewidget.widgets._storage import load_model, save_model
from vaewidget.widgets.controls import STRUCTURAL, TrainingControls, check_values

ACTIVE = ("running", "paused", "stopping")


class FilesMixin:
    """Save and load for the panel (mixed into :class:`~vaewidget.VAEPanel`)."""

    def save(self, path: str) -> None:
        """Save the model (``.keras``) and its history (``.history.json`` beside it).

        ``path`` is used as given (the Save button resolves the typed one in
        ``files_root`` first). Problems show in the status area.
        """
        self._save(path, None)

    def _save(self, path: Any, _name: str | None) -> None:
        if self.state in ACTIVE:
            self.status.add("Stop training before saving.", "warning")
            return
        try:
            model_path, history_path = save_model(self.model, self.history, path, _name)
        except Exception as err:
            self.status.add(message(err), "error")
            return
        self.status.add(f"Saved the model to {_name or model_path} and its history to "
                        f"{history_path.name}.")

    def load(self, path: str) -> None:
        """Load a model (VAE or Autoencoder) and history written by :meth:`save`.

        The model must fit this data. A load either succeeds completely or changes
        nothing; problems show in the status area.
        """
        self._load(path, None)

    def _load(self, path: Any, _name: str | None) -> None:
        if self.state in ACTIVE:
            self.status.add("Stop training before loading a model.", "warning")
            return
        try:
            model, history = load_model(path, _name)
            model.preparer.check(self.x[:2])
            values = _control_values(model, self.controls)
            recon = model.reconstruct(self.x[self._recon_idx])
        except Exception as err:
            self.status.add(f"Did not load {_name or path}: {message(err)}", "error")
            return
        before = (self.model, self._kind, self.trainer, self._past, self._model_options,
                  self._passthrough, self.controls.values())
        try:
            self.model, self._kind, self.trainer, self._past = model, type(model), None, history
            # Reset rebuilds a model like the loaded one: as many members.
            self._passthrough = {**self._passthrough, "members": int(model.members)}
            self._redisplay(values, recon)
        except Exception as err:  # put everything back: a load is all or nothing
            (self.model, self._kind, self.trainer, self._past, self._model_options,
             self._passthrough, old) = before
            self._redisplay(old, None)
            self.status.add(f"Did not load {_name or path}: {message(err)}", "error")
            return
        clear_kernel_cache()  # the old model is gone: TensorFlow's cached kernels are stale
        kind = type(model).__name__
        note = " (beta and the KL warm-up do not apply: hidden)" if not model.variational else ""
        self.status.add(f"Loaded the {kind} in {_name or path}{note}: "
                        f"{len(history.get('loss', []))} epochs of history.")

    def _redisplay(self, values: dict[str, Any], recon: Any) -> None:
        """Show ``self.model`` and its history; set the controls to ``values``."""
        self.clusters.forget()
        self.plot.set_history(self.history)
        self.data_box.value = self._summary()
        self.controls.set_values(values)
        self._show_kind()
        self._model_options = {k: self.controls.model_options()[k] for k in STRUCTURAL}
        if recon is None:
            recon = self.model.reconstruct(self.x[self._recon_idx])
        self._recon = recon
        self._render_recon()
        self.refresh()
        self._show_final()
        self._sync()
        self._idle_labels()

    def _typed_path(self) -> tuple[Any, str] | None:
        """The Save/Load box's path, resolved in ``files_root``; ``None`` when refused."""
        try:
            path = resolve_typed(self.path.value, self.files_root)
        except ValueError as err:
            self.status.add(str(err), "error")
            return None
        return path, shown(path, self.files_root)

    def _save_typed(self) -> None:
        typed = self._typed_path()
        if typed is not None:
            self._save(*typed)

    def _load_typed(self) -> None:
        typed = self._typed_path()
        if typed is not None:
            self._load(*typed)


def _control_values(model: Any, controls: TrainingControls) -> dict[str, Any]:
    """The control values that describe ``model`` (checked: the controls can hold them)."""
    values = controls.values()
    arch = [v for _, v in controls.architecture.options]
    values.update(
        architecture=model.architecture if model.architecture in arch else "auto",
        latent_dim=int(model.latent_dim),
        hidden_units=", ".join(str(u) for u in model.hidden_units),
        reconstruction=model.preparer.reconstruction,
    )
    if model.variational:
        values.update(beta=float(np.asarray(model.beta)), kl_warmup_epochs=model.kl_warmup_epochs)
    check_values(values)
    return values


def message(err: BaseException) -> str:
    """An exception as one status line: ValueErrors as they are, others with their type."""
    text = str(err) or type(err).__name__
    return text if isinstance(err, ValueError) else f"{type(err).__name__}: {text}"
