"""VAEPanel under bad files, bad paths and bad control values: all or nothing, told in the status.

Everything goes through the widgets as a user does it: the path typed into the box,
then the Save or Load button; a control's value set, as the browser sets it.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from widget_waits import wait_for

from vaewidget import Autoencoder
from vaewidget.datasets import load_digits
from vaewidget.widgets import VAEPanel

#: members=3: "auto" would train eight or nine VAEs this small; the rule has its own tests.
SMALL = dict(architecture="dense", latent_dim=2, hidden_units=(32,), batch_size=32, members=3,
             seed=0)
REFUSED = "Expected a relative file name inside the files folder"


@pytest.fixture(scope="module")
def x():
    return load_digits()[0][:300]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("files_root")


@pytest.fixture(scope="module")
def files(root, x):
    """Files in ``root``: a VAE saved by a panel, an Autoencoder, a plain Keras model,
    corrupt files and broken history files beside a good model."""
    p = VAEPanel(x, epochs=1, files_root=root, **SMALL)
    assert p.train().wait(120) and p.state == "finished"
    p.save(root / "vae.keras")
    p.close()
    ae = Autoencoder.from_data(x, latent_dim=2, hidden_units=(32,), seed=0)
    ae.compile()
    ae.fit(ae.prepare(x), epochs=1, batch_size=64, verbose=0)
    ae.save(root / "ae.keras")
    keras.Sequential([keras.Input((64,)), keras.layers.Dense(2)]).save(root / "plain.keras")
    (root / "corrupt.keras").write_bytes(b"this is not a zip file")
    data = (root / "vae.keras").read_bytes()
    (root / "truncated.keras").write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(root / "garbled.keras", "w") as zf:  # a zip, but not a model
        zf.writestr("config.json", "{\"class_name\": 42}")
    histories = {
        "not_json": "{'loss': [1.0,",
        "a_list": "[1, 2, 3]",
        "text_values": json.dumps({"loss": ["low", "lower"]}),
        "unequal": json.dumps({"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5]}),
    }
    for name, text in histories.items():
        shutil.copy(root / "vae.keras", root / f"{name}.keras")
        (root / f"{name}.history.json").write_text(text)
    return root


@pytest.fixture(scope="module")
def panel(files, x):
    p = VAEPanel(x, epochs=1, files_root=files, **SMALL)
    yield p
    p.close()


def snapshot(p):
    return (p.model, p.trainer, json.dumps(p.history), p.controls.values(), p.plot.n_epochs,
            p.model.get_weights()[0].copy())


def same(a, b):
    return a[:5] == b[:5] and np.array_equal(a[5], b[5])


def click(p, button, path):
    p.path.value = path
    getattr(p, f"{button}_button").click()
    return p.status.messages[0]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("plain.keras", "Expected a vaewidget VAE or Autoencoder"),
        ("corrupt.keras", "which is not a .keras (zip) file"),
        ("truncated.keras", "which is not a .keras (zip) file"),
        ("garbled.keras", "which Keras could not read"),
        ("not_json.keras", "which is not JSON"),
        ("a_list.keras", "Received: a JSON list"),
        ("text_values.keras", "Received: 'loss' = [\"low\", \"lower\"]"),
        ("unequal.keras", "Received lengths: loss 3, val_loss 2"),
        ("missing.keras", "Expected an existing .keras file"),
    ],
)
def test_a_bad_file_changes_nothing_and_says_why(panel, name, says):
    before = snapshot(panel)
    _, level, text = click(panel, "load", name)
    assert level == "error" and says in text and "Expected" in text and "Received" in text
    assert "File not found" not in text
    assert same(snapshot(panel), before)


def test_a_model_for_other_data_changes_nothing(files, x):
    other = VAEPanel(x[:, :32], files_root=files, **SMALL)
    before = snapshot(other)
    _, level, text = click(other, "load", "vae.keras")
    assert level == "error" and "Expected rows of shape" in text
    assert same(snapshot(other), before)
    other.close()


def test_the_panel_still_trains_after_refused_loads(panel):
    for name in ("plain.keras", "corrupt.keras", "unequal.keras"):
        click(panel, "load", name)
    assert panel.train().wait(120) and panel.state == "finished", panel.status.text


def test_an_autoencoder_loads_and_trains_with_beta_hidden(files, x):
    p = VAEPanel(x, epochs=1, files_root=files, **SMALL)
    c = p.controls
    assert c.beta.layout.display != "none"
    _, level, text = click(p, "load", "ae.keras")
    assert level == "info" and "Loaded the Autoencoder in ae.keras" in text, p.status.text
    assert isinstance(p.model, Autoencoder)
    assert c.beta.layout.display == "none" and c.kl_warmup_epochs.layout.display == "none"
    assert c.latent_dim.layout.display != "none" and c.epochs.layout.display != "none"
    assert p.train().wait(120) and p.state == "finished", p.status.text
    assert p.trainer.beta is None and len(p.history["loss"]) == 1
    c.beta.value = 3.0  # hidden, and harmless
    p.reset_button.click()
    assert isinstance(p.model, Autoencoder) and p.history == {}
    assert p.train().wait(120) and p.state == "finished", p.status.text
    # Loading a VAE brings beta back.
    click(p, "load", "vae.keras")
    assert "Loaded the VAE" in p.status.messages[0][2] and c.beta.layout.display != "none"
    assert not isinstance(p.model, Autoencoder)
    p.close()


@pytest.fixture
def outside(tmp_path):
    """A folder outside the files root, which must stay empty."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def escapes(root: Path, outside: Path) -> list[str]:
    link = root / f"link-{uuid.uuid4().hex[:8]}"
    link.symlink_to(outside, target_is_directory=True)
    return [
        str(outside / "abs.keras"),                       # absolute
        f"~/vaewidget-escape-{uuid.uuid4().hex}.keras",   # home
        f"../{outside.name}/up.keras",                    # ..
        "sub/../../up2.keras",                            # .. after a folder
        f"{link.name}/through_link.keras",                # a symlink out of the root
    ]


@pytest.mark.parametrize("button", ["save", "load"])
def test_typed_paths_that_leave_the_root_are_refused(panel, files, outside, button):
    home_before = set(Path.home().glob("vaewidget-escape-*"))
    for typed in escapes(files, outside):
        before = snapshot(panel)
        _, level, text = click(panel, button, typed)
        assert level == "error" and REFUSED in text and "Received" in text, (typed, text)
        assert same(snapshot(panel), before)
    assert list(outside.iterdir()) == []
    assert set(Path.home().glob("vaewidget-escape-*")) == home_before
    assert not (files.parent / "up2.keras").exists()


def test_probing_outside_the_root_says_the_same_for_any_file(panel, files, outside):
    (outside / "exists.keras").write_bytes(b"x")
    a = click(panel, "load", f"../{outside.name}/exists.keras")[2]
    b = click(panel, "load", f"../{outside.name}/absent.keras")[2]
    assert REFUSED in a and a.replace("exists", "absent") == b


def test_a_relative_name_saves_and_loads_inside_the_root(panel, files):
    _, level, text = click(panel, "save", "models/run1.keras")
    assert level == "info" and "Saved the model to models/run1.keras" in text, text
    assert (files / "models" / "run1.keras").is_file()
    assert (files / "models" / "run1.history.json").is_file()
    assert str(files) not in text  # the server's folder is not shown
    weights = panel.model.get_weights()
    _, level, text = click(panel, "load", "models/run1.keras")
    assert level == "info" and "Loaded the VAE in models/run1.keras" in text
    for a, b in zip(panel.model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_a_symlink_inside_the_root_is_fine(panel, files):
    (files / "inner").mkdir(exist_ok=True)
    link = files / "inner-link"
    if not link.exists():
        link.symlink_to(files / "inner", target_is_directory=True)
    _, level, text = click(panel, "save", "inner-link/via_link.keras")
    assert level == "info", text
    assert (files / "inner" / "via_link.keras").is_file()


def test_the_python_api_keeps_full_paths(panel, tmp_path):
    panel.save(tmp_path / "anywhere" / "model.keras")
    assert (tmp_path / "anywhere" / "model.keras").is_file()
    panel.load(tmp_path / "anywhere" / "model.keras")
    assert panel.status.messages[0][1] == "info"


def test_bad_files_root_is_refused(x, tmp_path):
    with pytest.raises(ValueError, match="Expected files_root to be an existing folder"):
        VAEPanel(x, files_root=tmp_path / "no-such-folder", **SMALL)


def test_nonfinite_weights_are_never_saved(panel, files):
    model = panel.model
    kernel = model.trainable_variables[0]
    good = kernel.numpy().copy()
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    try:
        _, level, text = click(panel, "save", "nan.keras")
        assert level == "error" and "Expected finite weights to save the model" in text
        assert not (files / "nan.keras").exists()
    finally:
        kernel.assign(good)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("control", ["beta", "learning_rate"])
def test_a_failing_control_change_goes_to_the_status_and_is_put_back(panel, control, training):
    # NaN passes the widgets' own bounds (every comparison with NaN is false).
    panel.controls.epochs.value = 500
    trainer = panel.train() if training else None
    try:
        if training:
            assert trainer is not None and wait_for(lambda: trainer.progress["batch"] > 0)
        widget = getattr(panel.controls, control)
        old = widget.value
        widget.value = math.nan  # no exception reaches the caller (the notebook)
        assert widget.value == old
        _, level, text = panel.status.messages[0]
        assert level == "error" and f"Expected {control}" in text and "Received" in text
        assert "put back" in text
        if training:
            assert trainer.state in ("running", "paused")
            assert getattr(trainer, control) == pytest.approx(old)
    finally:
        if trainer is not None:
            panel.stop()
            assert trainer.wait(60)
        panel.controls.epochs.value = 1


def test_a_bad_hidden_size_typed_is_put_back(panel):
    before = panel.controls.hidden_units.value
    panel.controls.hidden_units.value = "32, -4"
    assert panel.controls.hidden_units.value == before
    assert "Expected hidden sizes" in panel.status.messages[0][2]


def test_train_reset_cycles_free_the_old_model_and_its_viewer(x, files):
    """Reset with the Clusters tab open: the old model and viewer are freed (issue 16)."""
    import gc
    import weakref

    from ipywidgets.widgets.widget import _instances

    p = VAEPanel(x, epochs=1, files_root=files, **SMALL)
    p.tab.selected_index = 1
    counts, models = [], []
    for _ in range(3):
        assert p.train().wait(120) and p.state == "finished", p.status.text
        assert wait_for(lambda: p.viewer is not None, 180), p.status.text
        models.append(weakref.ref(p.model))
        p.reset()
        gc.collect()
        counts.append(len(_instances))
    # No widget callback keeps an old model alive (the redraw thread may hold the last
    # one for a moment, while it finishes a redraw).
    assert wait_for(lambda: gc.collect() >= 0 and all(ref() is None for ref in models), 30)
    assert counts[2] == counts[1]  # the replaced viewer's ~180 widgets were closed
    p.close()
