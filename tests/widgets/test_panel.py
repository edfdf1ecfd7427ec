"""VAEPanel without a browser: buttons, states, messages, live controls, plots, save/load."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from widget_waits import wait_for

from vaewidget.datasets import load_digits
from vaewidget.widgets import VAEPanel

#: members=3: "auto" would train eight or nine VAEs this small; the rule has its own tests.
SMALL = dict(architecture="dense", latent_dim=2, hidden_units=(32,), batch_size=32, members=3,
             seed=0)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits()
    return x[:300], y[:300]


@pytest.fixture(scope="module")
def shared_panel(digits):
    p = VAEPanel(digits[0], digits[1], epochs=500, **SMALL)
    yield p
    p.close()


@pytest.fixture
def panel(shared_panel):
    """One panel for the module (model builds are slow on 2 busy cores), idle after each test."""
    yield shared_panel
    if shared_panel.trainer is not None:
        shared_panel.stop()
        assert shared_panel.trainer.wait(30)
    shared_panel.controls.epochs.value = 500


def enabled(p):
    return {name: not getattr(p, f"{name}_button").disabled
            for name in ("train", "pause", "stop", "reset", "save", "load")}


def test_buttons_follow_the_state(panel):
    assert panel.state in ("idle", "stopped", "finished")
    assert enabled(panel) == dict(train=True, pause=False, stop=False, reset=True, save=True,
                                  load=True)
    panel.train_button.click()
    assert panel.state == "running"
    assert enabled(panel) == dict(train=False, pause=True, stop=True, reset=False, save=False,
                                  load=False)
    c = panel.controls
    assert c.latent_dim.disabled and c.hidden_units.disabled and c.epochs.disabled
    assert not c.learning_rate.disabled and not c.beta.disabled
    assert wait_for(lambda: panel.trainer.progress["batch"] > 0)

    panel.pause_button.click()
    assert wait_for(lambda: panel.state == "paused", 10)
    assert wait_for(lambda: panel.pause_button.description == "Resume", 2)
    assert enabled(panel)["stop"] and not enabled(panel)["train"]
    assert "paused" in panel.state_label.value

    panel.pause_button.click()
    assert wait_for(lambda: panel.state == "running", 5)
    assert panel.pause_button.description == "Pause"

    panel.stop_button.click()
    assert wait_for(lambda: panel.state == "stopped", 10)
    assert wait_for(lambda: enabled(panel) == dict(train=True, pause=False, stop=False,
                                                   reset=True, save=True, load=True), 2)
    assert not c.latent_dim.disabled
    assert "Stopped by the user" in panel.status.text


def test_second_train_click_is_refused(panel):
    panel.train_button.click()
    first = panel.trainer
    panel.train_button.click()
    assert panel.trainer is first and panel.state == "running"
    assert "already running" in panel.status.text
    panel.stop()
    assert first.wait(30)


def test_concurrent_train_calls_start_one_run(panel):
    results = []
    threads = [threading.Thread(target=lambda: results.append(panel.train())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if r is not None]
    assert len(started) == 1 and panel.trainer is started[0]
    panel.stop()
    assert started[0].wait(30)


def test_bad_control_values_show_in_the_status_area(panel, tmp_path):
    before = panel.trainer
    panel.controls.hidden_units.value = "64, lots"  # refused as typed, and put back
    assert "Expected hidden sizes" in panel.status.text and "'64, lots'" in panel.status.text
    assert "vaew-msg-error" in panel.status.widget.value
    assert panel.controls.hidden_units.value == "32"
    assert panel.state not in ("running", "paused") and panel.trainer is before
    assert not panel.train_button.disabled  # still usable

    panel.load(tmp_path / "missing.keras")
    assert "Expected an existing .keras file" in panel.status.messages[0][2]
    panel.save(tmp_path / "model.h5")
    assert "Expected a file name ending in '.keras'" in panel.status.messages[0][2]

    panel.controls.hidden_units.value = "32"
    panel.controls.epochs.value = 1
    assert panel.train() is not None and panel.trainer.wait(60)
    assert panel.state == "finished"


def test_bad_input_at_construction_raises(digits):
    x, y = digits
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="Expected finite values"):
        VAEPanel(bad)
    with pytest.raises(ValueError, match="Expected one label per row"):
        VAEPanel(x, y[:10])
    with pytest.raises(ValueError, match=r"Received: \['latnet_dim'\]"):
        VAEPanel(x, latnet_dim=3)
    with pytest.raises(ValueError, match="Expected architecture in"):
        VAEPanel(x, architecture="conv")  # tabular data
    with pytest.raises(ValueError, match="latent_dim"):
        VAEPanel(x, latent_dim=0)


def test_plot_figures_do_not_grow_over_50_updates(panel, monkeypatch):
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    created = []
    original_init = Figure.__init__

    def counting_init(self, *args, **kwargs):
        created.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "__init__", counting_init)
    fig, images = panel.plot.fig, set()
    for i in range(50):
        panel.plot.add_batch(i / 10, {"loss": 50 - i * 0.1, "kl_loss": 1 + i * 0.01,
                                      "weighted_kl_loss": 1.0, "reconstruction_loss": 49 - i * 0.1})
        if i % 10 == 9:
            panel.plot.add_epoch(i // 10 + 1, {"loss": 50 - i * 0.1, "val_loss": 51 - i * 0.1})
        panel.plot.log_scale = 20 <= i < 30  # both scales, and the switches
        panel.plot.render()
        images.add(panel.plot.image.value)
    assert created == [] and panel.plot.fig is fig
    assert plt.get_fignums() == []
    assert len(images) == 50  # every update drew something new into the same Image


def test_live_learning_rate_and_beta_reach_the_trainer(panel):
    trainer = panel.train()
    assert wait_for(lambda: trainer.progress["batch"] > 0)
    panel.controls.learning_rate.value = 2e-4
    panel.controls.beta.value = 0.25
    assert trainer.learning_rate == pytest.approx(2e-4) and trainer.beta == pytest.approx(0.25)
    model = panel.model
    assert wait_for(lambda: abs(float(np.asarray(model.optimizer.learning_rate)) - 2e-4) < 1e-9, 30)
    assert wait_for(lambda: abs(float(np.asarray(model.beta)) - 0.25) < 1e-7, 30)
    assert "Learning rate set to" in panel.status.text and "beta set to 0.25" in panel.status.text
    panel.stop()
    assert trainer.wait(30)


def test_lifecycle_finish_continue_save_reset_load(digits, tmp_path):
    p = VAEPanel(digits[0], epochs=2, validation_split=0.2, files_root=tmp_path, **SMALL)
    before_recon, before_plot = p.recon.image.value, p.plot.image.value
    assert p.final_image.layout.display == "none"
    trainer = p.train()
    assert trainer.wait(60) and p.state == "finished"
    assert wait_for(lambda: p.final_image.layout.display != "none", 60)
    p.refresh()
    h = p.history
    assert len(h["loss"]) == 2 and len(h["val_loss"]) == 2 and p.plot.n_epochs == 2
    assert p.epoch_label.value == "Epoch 2 / 2"
    assert p.plot.image.value != before_plot and p.recon.image.value != before_recon
    assert p.final_image.value[:4] == b"\x89PNG"
    assert "Finished 2 epochs" in p.status.text

    # Train again: the same weights and history continue.
    p.controls.epochs.value = 1
    assert p.train().wait(60)
    p.refresh()
    assert len(p.history["loss"]) == 3 and p.epoch_label.value == "Epoch 3 / 3"
    assert p.model is trainer.model

    # Save, then a structural change is refused until Reset.
    z = p.model.embed(digits[0][:5])
    p.path.value = "run/vae.keras"  # inside files_root
    p.save_button.click()
    assert (tmp_path / "run" / "vae.keras").is_file()
    assert (tmp_path / "run" / "vae.history.json").is_file()
    old_model = p.model
    p.controls.latent_dim.value = 3
    assert p.train() is None and "Click Reset" in p.status.text
    assert p.model is old_model and len(p.history["loss"]) == 3
    p.reset_button.click()
    assert p.model is not old_model and p.model.latent_dim == 3 and p.history == {}
    assert p.plot.n_epochs == 0 and p.final_image.layout.display == "none"

    # Load brings back the weights, the history and the controls; training continues.
    p.load_button.click()
    assert "Loaded" in p.status.messages[0][2]
    assert p.controls.latent_dim.value == 2
    np.testing.assert_allclose(p.model.embed(digits[0][:5]), z, atol=1e-5)
    assert len(p.history["loss"]) == 3 and p.plot.n_epochs == 3
    assert p.train().wait(60) and len(p.history["loss"]) == 4

    other = VAEPanel(digits[0][:, :32], **SMALL)
    other.load(tmp_path / "run" / "vae.keras")
    assert "Expected rows of shape" in other.status.messages[0][2]
    p.close()
    other.close()


def test_clusters_tab_waits_for_a_trained_model(panel):
    panel.reset()
    panel.tab.selected_index = 1
    assert "Train the model first" in panel.clusters_box.children[0].value
    panel.controls.epochs.value = 1
    assert panel.train().wait(60)
    # Once trained (the tab is open), the UI thread builds the viewer on the trained model.
    assert wait_for(lambda: panel.viewer is not None, 120), panel.status.text
    assert panel.clusters_box.children[0] is panel.viewer.widget
    viewer = panel.viewer
    panel.tab.selected_index = 0
    panel.tab.selected_index = 1  # opening it again keeps the same viewer
    assert panel.viewer is viewer


def test_display_delegates_to_the_widget(panel):
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    assert "vaew-panel" in panel.widget._dom_classes


def test_log_scale_copes_with_empty_and_zero_curves():
    from vaewidget.widgets.elbo_plot import ELBOPlot

    plot = ELBOPlot()
    plot.log_scale = True
    plot.render()  # nothing yet
    plot.add_batch(0.5, {"loss": 40.0, "weighted_kl_loss": 0.0, "kl_loss": 0.0})  # KL warm-up
    plot.render()
    assert plot.axes[0].get_yscale() == "log" and plot.axes[1].get_yscale() == "linear"
    plot.add_epoch(1, {"loss": 39.0, "kl_loss": 2.0, "weighted_kl_loss": 0.5})
    plot.render()
    assert plot.axes[1].get_yscale() == "log"
    plot.log_scale = False
    plot.render()
    assert {ax.get_yscale() for ax in plot.axes} == {"linear"}


def test_on_epoch_and_on_state_hooks(panel):
    epochs, states = [], []

    def broken(state):
        raise RuntimeError("hook bug")

    panel.on_epoch(lambda epoch, logs: epochs.append((epoch, sorted(logs))))
    panel.on_state(states.append)
    panel.on_state(broken)
    panel.controls.epochs.value = 2
    done = len(panel.history.get("loss", []))
    panel.train_button.click()
    assert panel.trainer.wait(120) and panel.state == "finished"
    assert wait_for(lambda: states[-1:] == ["finished"], 10), states
    assert states[0] == "running"
    assert [e for e, _ in epochs] == [done + 1, done + 2]  # counted across runs
    assert "loss" in epochs[0][1]
    assert "on_state callback broken failed" in panel.status.text  # training went on
    panel.on_state(broken, remove=True)
    panel.on_state(states.append, remove=True)
    panel.on_epoch(epochs.append, remove=True)  # never added: ignored
    n = len(states)
    panel.train_button.click()
    assert panel.trainer.wait(120)
    assert len(states) == n
    with pytest.raises(ValueError, match="Expected a callable for on_epoch"):
        panel.on_epoch(None)
