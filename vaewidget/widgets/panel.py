"""VAEPanel: train a VAE from a notebook, with live ELBO plots and a cluster viewer tab."""

from __future__ import annotations

import atexit
import math
import threading
import weakref
from typing import Any

import numpy as np

from vaewidget._validation import as_float_array, data_kind
from vaewidget.models import VAE
from vaewidget.plotting import new_figure
from vaewidget.training._tf_memory import clear_kernel_cache
from vaewidget.widgets._hooks import Hooks
from vaewidget.widgets._layout import build_layout
from vaewidget.widgets._panel_files import ACTIVE, FilesMixin, message
from vaewidget.widgets._panel_view import ViewMixin
from vaewidget.widgets._parts import (
    StatusLog,
    close_tree,
    hidden,
    summary_html,
)
from vaewidget.widgets._paths import check_files_root
from vaewidget.widgets._throttle import Throttle
from vaewidget.widgets.controls import (
    STRUCTURAL,
    TrainingControls,
    split_options,
)
from vaewidget.widgets.elbo_plot import ELBOPlot

VAE_ONLY = ("beta", "kl_warmup_epochs")
#: Panels whose threads may run; stopped at interpreter exit (see below).
_LIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_live_panels() -> None:
    # A script that never closes its panel exits with the training thread and the
    # redraw thread (which reconstructs images with TensorFlow) still running; a
    # daemon thread inside TensorFlow at teardown can abort the process ("terminate
    # called without an active exception"). Stop and join them first.
    for panel in list(_LIVE):
        panel._stop_threads(10.0)
TERMINAL = ("stopped", "finished", "failed")


class VAEPanel(FilesMixin, ViewMixin):
    """A notebook panel that trains a VAE on ``x`` in the background and plots it live.

    Display it as the last expression of a cell. The cell returns at once; training
    runs in a background :class:`~vaewidget.Trainer`, so the notebook stays usable.

    Parameters
    ----------
    x
        The data: ``(rows, features)`` tables or ``(rows, H, W[, C])`` images.
    labels
        Optional known classes, one per row; the Clusters tab compares against them.
    update_rate
        Most redraws of the progress and the ELBO plot per second (2-5 is smooth).
    plot_share
        Most of the wall time spent drawing the ELBO plot while training: when a
        draw takes longer (a busy machine), the plot redraws less often, so the
        panel never slows training by more than a few percent.
    files_root
        The folder that paths typed into the Save/Load box resolve in (default: the
        working directory now). A typed path that leads out of it (absolute, ``~``,
        ``..``, a symbolic link) is refused, so a page served to others (Voila)
        cannot write or probe files elsewhere. :meth:`save` and :meth:`load` called
        from code take any path.
    **model_options
        Initial control values: ``architecture``, ``latent_dim``, ``hidden_units``,
        ``reconstruction``, ``beta``, ``kl_warmup_epochs``, ``learning_rate``,
        ``batch_size``, ``epochs``, ``validation_split``; and options passed to
        ``VAE.from_data`` unchanged: ``scaling``, ``conv_filters``, ``activation``,
        ``l1``, ``l2``, ``noise_std``, ``seed``.

    Raises
    ------
    ValueError
        When ``x``, ``labels`` or an option is invalid: the panel needs them to exist.
        Later mistakes made in the controls are shown in the panel's status area.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The root widget.
    model : vaewidget.VAE or vaewidget.Autoencoder
        The current model (new weights after :meth:`reset` or a structural change).
        A VAE unless an Autoencoder was loaded: then beta and the KL warm-up are
        hidden, and :meth:`reset` builds a new Autoencoder.
    trainer : vaewidget.Trainer or None
        The trainer of the latest run.

    Examples
    --------
    >>> from vaewidget import VAEPanel
    >>> from vaewidget.datasets import load_digits
    >>> x, y = load_digits()
    >>> panel = VAEPanel(x[:300], labels=y[:300], latent_dim=2, hidden_units=(16,), epochs=2)
    >>> panel.state                           # in a notebook, `panel` alone displays it
    'idle'
    >>> panel.train().wait(timeout=120)       # what the Train button does
    True
    >>> panel.state, len(panel.history["loss"])
    ('finished', 2)
    >>> panel.model.members                   # small and cheap: 8 (600 steps x 8 <= 4,800)
    8
    >>> panel.model.embed(x[:5]).shape        # eight members' 2-D codes, side by side
    (5, 16)
    >>> panel.close()
    """

    def __init__(self, x: Any, labels: Any = None, *, update_rate: float = 4.0,
                 plot_share: float = 0.1, files_root: Any = None,
                 **model_options: Any) -> None:
        self.x = as_float_array(x, min_rows=2)
        self.files_root = check_files_root(files_root)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and (self.labels.ndim != 1 or len(self.labels) != len(self.x)):
            raise ValueError(
                f"Expected one label per row of x ({len(self.x)} labels). "
                f"Received: labels.shape={self.labels.shape}"
            )
        values, self._passthrough, unknown = split_options(model_options, self.x)
        if unknown:
            raise ValueError(
                "Expected options among architecture, latent_dim, hidden_units, reconstruction, "
                "beta, kl_warmup_epochs, learning_rate, batch_size, epochs, validation_split, "
                f"scaling, conv_filters, activation, l1, l2, noise_std, seed. Received: {sorted(unknown)}"
            )
        self.controls = TrainingControls(data_kind(self.x), values)
        self._kind: type = VAE  # or Autoencoder, after loading one
        self.model = self._build_model()
        self.trainer: Any = None
        self._past: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._starting = False
        self._run_start = 0
        self._recon: np.ndarray | None = None
        self._recon_due = False
        self._recon_idx = np.random.default_rng(0).choice(len(self.x), min(8, len(self.x)), False)
        self._final_due = self._clusters_due = False
        self._final_fig = new_figure(8.0, 2.8, dpi=90)
        if not 0 < plot_share <= 1:
            raise ValueError(f"Expected 0 < plot_share <= 1. Received: plot_share={plot_share}")
        self.plot_share = float(plot_share)
        self._next_plot = 0.0
        self.plot = ELBOPlot()
        self.status = StatusLog()
        self._hooks = Hooks("epoch", "state", report=self.status.add)
        self._throttle = Throttle(self._redraw, rate=update_rate, on_error=self._redraw_failed)
        build_layout(self)
        _LIVE.add(self)
        self._idle_labels()
        self._sync()
        self.status.add(f"Ready: {len(self.x):,} rows. Set the options and click Train.")

    # ------------------------------------------------------------------ layout
    def _idle_labels(self) -> None:
        if self.state in ACTIVE:
            return
        done = len(self.history.get("loss", []))
        self.epoch_label.value = f"Epoch {done} / {done + int(self.controls.epochs.value)}"
        self.batch_label.value = "Batch 0 / -"
        self.speed_label.value = "- samples/s &middot; ETA -"

    def _summary(self) -> str:
        n_labels = None if self.labels is None else len(np.unique(self.labels))
        return summary_html(self.model.preparer.summary(), len(self.x), n_labels, self.model)

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> str:
        """``"idle"`` before the first run, else the trainer's state."""
        return "idle" if self.trainer is None else self.trainer.state

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch metrics of every run on the current weights (a copy): one value
        per epoch in every list, NaN where a run did not record that metric (for
        example ``val_loss`` of a run without validation)."""
        merged = {k: list(v) for k, v in self._past.items()}
        if self.trainer is not None and self.trainer.model is self.model:
            new = self.trainer.history
            before, added = self._offset(), len(new.get("loss", []))
            for k in merged.keys() | new.keys():
                merged[k] = (merged.get(k) or [math.nan] * before) + (
                    new.get(k) or [math.nan] * added)
        return merged

    def train(self) -> Any:
        """Start a run with the current control values (the Train button).

        Returns the new :class:`~vaewidget.Trainer`, or ``None`` when the run was
        refused (already training, or a bad control value); the status area says why.
        """
        with self._lock:
            if self._starting or self.state in ACTIVE:
                self.status.add("Training is already running: ignored the extra Train click.",
                                "warning")
                return None
            self._starting = True
        self._sync()
        try:
            return self._start_run()
        except Exception as err:  # show every failure in the panel and stay usable
            self.status.add(message(err), "error")
            return None
        finally:
            self._starting = False
            self._sync()

    def on_epoch(self, callback: Any, remove: bool = False) -> None:
        """Call ``callback(epoch, logs)`` after every epoch of every run (``remove=True``: stop).

        ``epoch`` counts the epochs on the current weights, across runs (1, 2, ...);
        ``logs`` maps each metric to its value. The call comes from the training
        thread: keep it short, or hand the work to another thread. An error in it goes
        to the status area; training goes on.
        """
        self._hooks.on("epoch", callback, remove)

    def on_state(self, callback: Any, remove: bool = False) -> None:
        """Call ``callback(state)`` when the state changes (``"running"``, ``"finished"``...).

        The states are the trainer's (:attr:`state`), delivered on the thread that
        changed the state. ``remove=True`` unregisters.
        """
        self._hooks.on("state", callback, remove)

    def toggle_pause(self) -> None:
        """Pause a running trainer, or resume a paused one (the Pause/Resume button)."""
        if self.state == "running":
            self.trainer.pause()
        elif self.state == "paused":
            self.trainer.resume()
        self._sync()

    def stop(self) -> None:
        """Ask the run to stop after the current batch (the Stop button)."""
        if self.state in ("running", "paused"):
            self.trainer.stop(wait=False)
            self.status.add("Stopping after the current batch...")
        self._sync()

    def reset(self) -> None:
        """Build a model with new weights from the controls and forget the history."""
        if self.state in ACTIVE or self._starting:
            self.status.add("Stop training before Reset.", "warning")
            return
        try:
            self.model = self._build_model()
        except Exception as err:
            self.status.add(message(err), "error")
            return
        self.trainer, self._past, self._recon = None, {}, None
        self._final_due = False
        self.clusters.forget()
        self.plot.clear()
        self.data_box.value = self._summary()
        hidden(self.final_image, True)
        self._render_recon()
        self.refresh()
        self._sync()
        self._idle_labels()
        self.status.add("Reset: new weights, empty history.")

    def refresh(self) -> None:
        """Redraw progress, plots and reconstructions now (they also redraw by themselves)."""
        self._next_plot = 0.0
        self._throttle.flush()

    def close(self) -> None:
        """Stop training, the redraw thread and the widgets."""
        self._stop_threads(30.0)
        self.clusters.forget()
        close_tree(self.widget)

    def _stop_threads(self, timeout: float) -> None:
        if self.state in ("running", "paused"):
            self.trainer.stop(wait=True, timeout=timeout)
        self._throttle.close()
        self._throttle.join(timeout)
        viewer = self.clusters.viewer
        if viewer is not None:
            viewer.detach()
        _LIVE.discard(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"VAEPanel({len(self.x)} rows, state={self.state!r}, epochs={len(self.history.get('loss', []))})"

    # ------------------------------------------------------------------ runs
    def _build_model(self) -> Any:
        from vaewidget.clustering import recipe

        clear_kernel_cache()  # a model is replaced: TensorFlow's cached kernels are stale
        options = self.controls.model_options()
        self._model_options = {k: options[k] for k in STRUCTURAL}
        if not self._kind.variational:  # an Autoencoder was loaded: no KL term
            options = {k: v for k, v in options.items() if k not in VAE_ONLY}
            return self._kind.from_data(self.x, **options, **self._passthrough)
        extra = dict(self._passthrough)
        params = {**options, **{k: extra.pop(k) for k in ("scaling", "noise_std", "members")}}
        return recipe.build_model(self.x, params, extra.pop("seed", None),
                                  architecture=options["architecture"],
                                  reconstruction=options["reconstruction"], **extra)

    def _show_kind(self) -> None:
        """Hide beta and the KL warm-up for an Autoencoder (its loss has no KL term)."""
        for name in VAE_ONLY:
            hidden(getattr(self.controls, name), not self._kind.variational)

    def _start_run(self) -> Any:
        options = self.controls.model_options()
        train = self.controls.train_options()
        trained = bool(self.history.get("loss"))
        wanted = {k: options[k] for k in STRUCTURAL}
        if wanted != self._model_options:
            changed = ", ".join(k for k in STRUCTURAL if wanted[k] != self._model_options[k])
            if trained:
                raise ValueError(
                    f"Expected the trained model's settings. Received changes to: {changed}. "
                    "Click Reset to build a new model with them (this discards the trained "
                    "weights), or change them back to continue training."
                )
            self.model = self._build_model()
            self.data_box.value = self._summary()
            self.status.add(f"Built a new model for the changed {changed}.")
        trainer = self.trainer if self.trainer is not None and self.trainer.model is self.model else None
        if trainer is not None and trainer.validation_split != train["validation_split"]:
            if trained:
                raise ValueError(
                    "Expected the validation split of the trained model "
                    f"({trainer.validation_split:g}): its validation rows are fixed. Received: "
                    f"{train['validation_split']:g}. Click Reset to train new weights with it."
                )
            trainer = None
        # A fresh Trainer counts epochs from 0; after Load, the loaded epochs (in _past)
        # already count towards the warm-up, so only the rest of it is left.
        variational = self.model.variational
        if variational:
            warmup = options["kl_warmup_epochs"]
            if trainer is None:
                warmup = max(0, warmup - self._offset())
            self.model.kl_warmup_epochs = warmup
            if not warmup:
                self.model.kl_weight.assign(1.0)
        if trainer is None:
            if variational:
                self.model.beta.assign(options["beta"])
            trainer = self._new_trainer(train)
        else:
            trainer.epochs = train["epochs"]
            trainer.batch_size = train["batch_size"]
            trainer.learning_rate = train["learning_rate"]
            if variational:
                trainer.beta = options["beta"]
        self.trainer = trainer
        self._run_start = trainer.epochs_done
        hidden(self.final_image, True)
        trainer.start()
        beta = f", beta {options['beta']:g}" if variational else ""
        self.status.add(
            f"Training {train['epochs']} epochs, batch size {train['batch_size']}, "
            f"learning rate {train['learning_rate']:.2g}{beta}."
        )
        return trainer

    def _new_trainer(self, train: dict[str, Any]) -> Any:
        from vaewidget.clustering import recipe
        from vaewidget.training import Trainer

        if getattr(self.model, "optimizer", None) is None:
            recipe.compile_model(self.model, train)  # as VAEClusterer does
        trainer = Trainer(self.model, self.x, batch_rate=10.0, **train)
        trainer.on_batch(self._on_batch)
        trainer.on_epoch(self._on_epoch)
        trainer.on_state(self._on_state)
        return trainer

    # --------------------------------------------- trainer callbacks (training thread)
    def _offset(self) -> int:
        return len(self._past.get("loss", []))

    def _epochs_done(self) -> int:
        return self._offset() + (self.trainer.epochs_done if self.trainer is not None else 0)

    def _on_batch(self, info: dict[str, Any]) -> None:
        batches = max(int(info.get("batches") or 1), 1)
        batch = min(int(info.get("batch", 0)), batches)
        self.plot.add_batch(self._offset() + int(info.get("epoch", 0)) + batch / batches,
                            info.get("logs", {}))
        self._throttle.poke()

    def _on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        done = self._epochs_done()
        self.plot.add_epoch(done, logs)
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        if bad:
            self.status.add(f"Non-finite values at epoch {done}: {', '.join(bad)}.", "error")
        self._recon_due = True  # reconstructed on the UI thread: off training's critical path
        self._throttle.poke()
        self._hooks.fire("epoch", done, dict(logs))

    def _on_state(self, state: str) -> None:
        self._sync()
        if state in TERMINAL:
            trainer = self.trainer
            n = trainer.epochs_done - self._run_start
            if state == "failed":
                error = (trainer.error or "unknown error").split("\n\n")[0]
                self.status.add(f"Training failed after {n} epochs: {error}", "error")
            elif state == "stopped":
                self.status.add(f"Stopped by the user after {n} epochs of this run.")
            else:
                early = " (early stopping)" if getattr(trainer, "stopped_early", False) else ""
                self.status.add(f"Finished {n} epochs{early}. {_final_numbers(self.history)}")
            self._final_due = self._clusters_due = True
            self._throttle.poke()
        self._hooks.fire("state", state)

    # -------------------------------------------------------------------- clusters
    def _on_tab(self, change: dict[str, Any]) -> None:
        self.clusters.visible = change["new"] == 1
        self.clusters.update()

    @property
    def viewer(self) -> Any:
        """The :class:`~vaewidget.ClusterViewer` of the Clusters tab, once it exists."""
        return self.clusters.viewer


def _final_numbers(history: dict[str, list[float]]) -> str:
    parts = [f"{k} {history[k][-1]:.4g}" for k in ("loss", "val_loss", "reconstruction_loss",
                                                  "kl_loss") if history.get(k)]
    return ("Final " + ", ".join(parts) + ".") if parts else ""


__all__ = ["VAEPanel"]
