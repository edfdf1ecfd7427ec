"""The panel's UI side: throttled redraws, button states, and checked control changes.

Mixed into :class:`~vaewidget.VAEPanel`. :meth:`ViewMixin._redraw` runs on the
panel's redraw thread (:class:`~vaewidget.widgets._throttle.Throttle`), never on
the training thread; control changes arrive through ``_layout.guard``, which
shows a failure in the status area and puts the control back.
"""

from __future__ import annotations

import time
from typing import Any

from vaewidget.plotting import figure_to_png, history_figure
from vaewidget.widgets._panel_files import ACTIVE, message
from vaewidget.widgets._parts import STATE_COLOURS, duration, hidden
from vaewidget.widgets.controls import check_values


class ViewMixin:
    """Redraws, button states and live controls of the panel."""

    # ------------------------------------------------------------ UI side (throttled)
    def _redraw(self) -> bool:
        trainer = self.trainer
        if trainer is not None:
            p = trainer.progress
            done = self._epochs_done()
            total = max(self._offset() + int(p.get("epochs") or 0), done, 1)
            batches = max(int(p.get("batches") or 1), 1)
            batch = min(int(p.get("batch") or 0), batches)
            self.epoch_bar.max, self.epoch_bar.value = total, done
            self.batch_bar.max, self.batch_bar.value = batches, batch
            self.epoch_label.value = f"Epoch {done} / {total}"
            self.batch_label.value = f"Batch {batch} / {batches}"
            speed = p.get("samples_per_s") or 0.0
            eta = duration(p.get("eta_s")) if trainer.state in ACTIVE else "-"
            self.speed_label.value = f"{speed:,.0f} samples/s &middot; ETA {eta}"
        now = time.monotonic()
        final = self._final_due
        if self.plot.dirty and (final or now >= self._next_plot):
            self.plot.render()
            self._next_plot = now + self.plot.mean_cost / self.plot_share
        if self._recon_due:
            self._recon_due = False
            # Inference only (latent means, no sampling) while the training thread updates
            # the weights: reads of TF variables are safe, and a half-updated step is harmless.
            self._recon = self.model.reconstruct(self.x[self._recon_idx])
        if self._recon is not None:
            self._render_recon()
        if final:
            self._final_due = False
            self._show_final()
        if self._clusters_due:
            self._clusters_due = False
            self.clusters.update()
        return self.plot.dirty

    def _redraw_failed(self, err: BaseException) -> None:
        self.status.add(f"Could not redraw the plots: {message(err)}", "error")

    def _render_recon(self) -> None:
        recon, self._recon = self._recon, None
        self.recon.update(recon)

    def _show_final(self) -> None:
        model, history = self.model, self.history
        if not history.get("loss"):
            return
        history_figure(history, log_scale=self.log_scale.value, fig=self._final_fig)
        png = figure_to_png(self._final_fig)
        if self.model is not model or not self.history.get("loss"):
            return  # Reset or Load while drawing (this runs on the redraw thread): stale
        self.final_image.value = png
        hidden(self.final_image, False)

    def _sync(self) -> None:
        state = self.state
        busy = self._starting or state in ACTIVE
        self.train_button.disabled = busy
        self.pause_button.disabled = state not in ("running", "paused")
        self.pause_button.description = "Resume" if state == "paused" else "Pause"
        self.pause_button.icon = "play" if state == "paused" else "pause"
        self.stop_button.disabled = state not in ("running", "paused")
        for b in (self.reset_button, self.save_button, self.load_button):
            b.disabled = busy
        self.controls.set_training(busy)
        # The label last: each change is its own message to the browser, so when the label
        # reads a state, the buttons and controls of that state have already been sent.
        colour = STATE_COLOURS.get(state, "#555")
        self.state_label.value = (f"<span class='vaew-state-value' data-state='{state}' "
                                  f"style='color:{colour};font-weight:bold'>{state}</span>")

    # --------------------------------------------------------------- live controls
    def _on_control(self, name: str, change: dict[str, Any]) -> None:
        """A control changed: check it, apply a live one to the running trainer.

        Raises for a value it cannot take; the caller (``_layout.guard``) shows the
        error in the status area and puts the control back.
        """
        check_values(self.controls.values())
        value = change["new"]
        if name == "epochs":
            self._idle_labels()
        elif name == "learning_rate" and self.state in ACTIVE:
            self.trainer.learning_rate = float(value)
            self.status.add(f"Learning rate set to {value:.2g} from the next batch.")
        elif name == "beta" and self.state in ACTIVE and self.trainer.beta is not None:
            self.trainer.beta = float(value)
            self.status.add(f"beta set to {value:g} from the next batch.")

    def _on_log_scale(self, change: dict[str, Any]) -> None:
        self.plot.log_scale = bool(change["new"])
        self.plot.render()
