"""Property-based fuzzing of VAEPanel: random sequences of control values and clicks.

Each example builds a small panel and plays a random sequence of steps: the Train, Pause,
Stop, Reset, Save and Load buttons, values typed into the controls (good ones, bad ones,
NaN), path names, tab switches and waits. After every step:

* nothing escaped: no exception from the step itself, and none swallowed by a button's
  callback (ipywidgets logs those on the ``traitlets`` logger instead of raising);
* the state is one of the documented states.

After the sequence, the run is stopped, no trainer thread is left, the controls are set
back to good values, and the panel still trains (Reset, Train: ``finished``). Closing
the panel leaves no vaewidget thread behind.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
from fuzz_strategies import FUZZ, STATES, wait_for_threads
from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st

from vaewidget import VAE, Autoencoder, VAEPanel

ROWS, WIDTH = 48, 5
GOOD = {"architecture": "auto", "latent_dim": 2, "hidden_units": "4", "reconstruction": "auto",
        "beta": 1.0, "kl_warmup_epochs": 0, "learning_rate": 1e-3, "batch_size": 16,
        "epochs": 1, "validation_split": 0.0}
#: Values a user can type or pick; the browser's controls clamp numbers to their bounds.
VALUES = {
    "latent_dim": [1, 2, 3, 0, 5000],
    "hidden_units": ["4", "4, 2", "", "abc", "0", "64, lots", " 3 ; 2 "],
    "reconstruction": ["auto", "bce", "mse"],
    "beta": [0.0, 0.5, 1.0, 4.0, -1.0, 1e5],
    "kl_warmup_epochs": [0, 1, 3],
    "learning_rate": [1e-3, 1e-2, 1e-6, 0.3],
    "batch_size": [1, 16, 1000],
    "epochs": [1, 2, 40],
    "validation_split": [0.0, 0.2, 0.9],
}
#: Values the panel must survive that need the fixes of issue 16, defect 3 (rel-core).
BAD_LIVE = {"beta": [math.nan, math.inf], "learning_rate": [math.nan]}
PATHS = ["m.keras", "sub/m.keras", "m.txt", "", "missing.keras", "other.keras"]
#: Files the panel must refuse or load cleanly: issue 16, defect 2 (rel-core).
BAD_FILES = ["ae.keras", "plain.keras", "corrupt.keras", "badhist.keras"]
BUTTONS = ["train", "train", "pause", "stop", "reset", "save", "load"]
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]


def steps(paths: list[str], values: dict[str, list]) -> st.SearchStrategy:
    click = st.tuples(st.just("click"), st.sampled_from(BUTTONS))
    control = st.sampled_from(sorted(values)).flatmap(
        lambda name: st.tuples(st.just("set"), st.just(name), st.sampled_from(values[name])))
    path = st.tuples(st.just("path"), st.sampled_from(paths))
    other = st.sampled_from([("tab", 0), ("tab", 1), ("wait",)])
    return st.lists(st.one_of(click, click, control, control, path, other),
                    min_size=2, max_size=7)


class SwallowedErrors(logging.Handler):
    """Collects exceptions that ipywidgets' callback dispatcher logs instead of raising."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(self.format(record))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """A folder with the files the Load button meets, and the panel's data."""
    folder = tmp_path_factory.mktemp("panel-files")
    x = np.random.default_rng(0).normal(size=(ROWS, WIDTH)).astype("float32")
    keras.utils.set_random_seed(0)
    other = np.random.default_rng(1).normal(size=(20, WIDTH + 2)).astype("float32")
    VAE.from_data(other, latent_dim=2, hidden_units=(4,), seed=0).save(folder / "other.keras")
    Autoencoder.from_data(x, latent_dim=2, hidden_units=(4,), seed=0).save(folder / "ae.keras")
    keras.Sequential([keras.Input((WIDTH,)), keras.layers.Dense(2)]).save(folder / "plain.keras")
    (folder / "corrupt.keras").write_bytes(b"not a zip file at all")
    VAE.from_data(x, latent_dim=2, hidden_units=(4,), seed=0).save(folder / "badhist.keras")
    (folder / "badhist.history.json").write_text(json.dumps({"loss": [1.0, 2.0], "val_loss": [1]}))
    return {"folder": folder, "x": x}


def set_control(panel: VAEPanel, name: str, value) -> None:
    control = getattr(panel.controls, name)
    if name == "hidden_units":
        control.value = str(value)
    elif name in ("architecture", "reconstruction"):
        control.value = value
    else:  # what the browser sends: a number the control clamps to its bounds
        lo, hi = getattr(control, "min", -math.inf), getattr(control, "max", math.inf)
        if name == "learning_rate":  # a log slider: bounds are exponents
            lo, hi = 10 ** control.min, 10 ** control.max
        if isinstance(value, float) and math.isnan(value):
            control.value = value
        else:
            control.value = type(control.value)(min(max(value, lo), hi))


def play(panel: VAEPanel, step: tuple) -> None:
    kind = step[0]
    if kind == "click":
        getattr(panel, f"{step[1]}_button").click()
    elif kind == "set":
        set_control(panel, step[1], step[2])
    elif kind == "path":
        panel.path.value = step[1]
    elif kind == "tab":
        panel.tab.selected_index = step[1]
    elif kind == "wait" and panel.state == "running":  # (a paused run would wait forever)
        panel.trainer.wait(timeout=60)


def check_sequence(files: dict, sequence: list[tuple], monkeypatch) -> None:
    monkeypatch.chdir(files["folder"])
    keras.utils.set_random_seed(0)
    before = set(threading.enumerate())
    swallowed = SwallowedErrors()
    logger = logging.getLogger("traitlets")
    logger.addHandler(swallowed)
    panel = VAEPanel(files["x"], labels=np.arange(ROWS) % 3, seed=0,
                     **{**GOOD, "hidden_units": (4,)})
    try:
        for i, step in enumerate(sequence):
            note(f"step {i}: {step}")
            play(panel, step)  # an exception here escaped to the caller: the test fails
            note(f"  state {panel.state}; status: {panel.status.text.splitlines()[:1]}")
            assert not swallowed.records, f"step {i} {step}: a callback raised:\n" \
                                          + "\n".join(swallowed.records)
            assert panel.state in STATES, panel.state
        # The run ends, and leaves no training thread.
        panel.stop_button.click()
        if panel.trainer is not None:
            assert panel.trainer.wait(timeout=60), f"the run did not end: {panel.state}"
        assert panel.state in ("idle", "stopped", "finished", "failed"), panel.state
        assert not wait_for_threads(before, names=("vaewidget-trainer",)), "trainer thread left"
        # The panel can still train, once the controls hold good values again.
        panel.tab.selected_index = 0
        for name, value in GOOD.items():
            set_control(panel, name, value)
        panel.reset_button.click()
        trainer = panel.train()
        status = panel.status.text.replace("\n", " | ")
        assert trainer is not None, f"Train was refused: {status}"
        assert trainer.wait(timeout=120)
        assert panel.state == "finished", (panel.state, trainer.error, status)
        assert len(panel.history["loss"]) >= 1
        assert not swallowed.records, "\n".join(swallowed.records)
    finally:
        logger.removeHandler(swallowed)
        panel.close()
    assert not wait_for_threads(before), "a vaewidget thread outlived the closed panel"


@settings(FUZZ, max_examples=6)
@given(sequence=steps(PATHS, VALUES))
def test_panel_survives_random_clicks_and_values(files, sequence, monkeypatch):
    check_sequence(files, sequence, monkeypatch)


@settings(FUZZ, max_examples=6)
@given(sequence=steps(PATHS + BAD_FILES,
                      {k: VALUES[k] + BAD_LIVE.get(k, []) for k in VALUES}))
def test_panel_survives_bad_files_and_nan_controls(files, sequence, monkeypatch):
    check_sequence(files, sequence, monkeypatch)


def test_a_swallowed_callback_error_is_seen():
    """The detector works: an exception in a button callback reaches the handler."""
    import ipywidgets as widgets

    swallowed = SwallowedErrors()
    logger = logging.getLogger("traitlets")
    logger.addHandler(swallowed)
    try:
        button = widgets.Button()
        button.on_click(lambda _: 1 / 0)
        button.click()
    finally:
        logger.removeHandler(swallowed)
    assert swallowed.records and "ZeroDivisionError" in swallowed.records[0]


def test_the_files_exist(files):
    names = {p.name for p in Path(files["folder"]).iterdir()}
    assert {"other.keras", "ae.keras", "plain.keras", "corrupt.keras", "badhist.keras"} <= names
