"""The model and training controls of :class:`~vaewidget.VAEPanel`."""

from __future__ import annotations

import numbers
from typing import Any

import ipywidgets as widgets

# Options the panel passes to ``VAE.from_data``: shown as controls, or passed through.
MODEL_CONTROLS = ("architecture", "latent_dim", "hidden_units", "reconstruction", "beta",
                  "kl_warmup_epochs")
MODEL_PASSTHROUGH = ("scaling", "conv_filters", "activation", "l1", "l2", "noise_std", "seed",
                     "members")
TRAIN_CONTROLS = ("learning_rate", "batch_size", "epochs", "validation_split")
# Changing one of these needs new weights (Reset); the others apply to the next run.
STRUCTURAL = ("architecture", "latent_dim", "hidden_units", "reconstruction")
# These take effect while training runs.
LIVE = ("learning_rate", "beta")

#: Control values that the one rule (``VAEClusterer``'s) does not decide.
FIXED_DEFAULTS: dict[str, Any] = {"architecture": "auto", "reconstruction": "auto",
                                  "validation_split": 0.0}


def rule_defaults(x: Any, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The control values and pass-through options ``VAEClusterer()`` resolves for ``x``.

    The panel starts from the estimator's rule
    (:func:`vaewidget.clustering._defaults.resolve_model`), applied to the user's own
    options, so ``VAEPanel(x)`` trains what ``VAEClusterer().fit(x)`` trains.
    Returns ``(control values, pass-through options)``.
    """
    from vaewidget.clustering._defaults import MODEL_DEFAULTS, resolve_model

    given = {k: v for k, v in options.items() if k in MODEL_DEFAULTS}
    size = given.get("batch_size")
    if not (isinstance(size, numbers.Integral) and size >= 1):
        given.pop("batch_size", None)  # a bad value is reported by check_values
    rule_keys = ("scaling", "batch_size", "members", "latent_dim", "hidden_units")
    params = resolve_model({k: v for k, v in given.items() if k in rule_keys}, x)
    controls = {**FIXED_DEFAULTS, **{k: params[k] for k in
                                     (*MODEL_CONTROLS, *TRAIN_CONTROLS) if k in params}}
    return controls, {k: params[k] for k in ("scaling", "noise_std", "members")}


_STYLE = {"description_width": "130px"}
_LAYOUT = {"width": "320px"}


def split_options(options: dict[str, Any], x: Any
                  ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Split ``VAEPanel(x, **options)`` into (control values, pass-through model options,
    unknown), defaults from :func:`rule_defaults`."""
    known = set(MODEL_CONTROLS) | set(TRAIN_CONTROLS)
    unknown = {k: v for k, v in options.items() if k not in known and k not in MODEL_PASSTHROUGH}
    if unknown:
        return {}, {}, unknown
    defaults, rule_passthrough = rule_defaults(x, options)
    controls = {**defaults, **{k: v for k, v in options.items() if k in known}}
    passthrough = {**rule_passthrough,
                   **{k: v for k, v in options.items() if k in MODEL_PASSTHROUGH}}
    return controls, passthrough, {}


def parse_hidden_units(text: Any) -> tuple[int, ...]:
    """``"256, 128"`` -> ``(256, 128)``; a clear ValueError for anything else."""
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        parts = [p for p in str(text).replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        units = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        units = ()
    if not units or any(u < 1 for u in units):
        raise ValueError(
            "Expected hidden sizes as positive integers separated by commas, like '256, 128'. "
            f"Received: {text!r}"
        )
    return units


# name -> (lowest, highest, must be an integer); the controls' bounds.
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "latent_dim": (1, 4096, True),
    "beta": (0.0, 1e4, False),
    "kl_warmup_epochs": (0, 100_000, True),
    "learning_rate": (1e-5, 10**-0.5, False),
    "batch_size": (1, 10_000_000, True),
    "epochs": (1, 1_000_000, True),
    "validation_split": (0.0, 0.9, False),
}


def check_values(values: dict[str, Any]) -> None:
    """Raise a clear ValueError for a value the controls cannot hold (they would clamp it)."""
    for name, (lo, hi, integer) in BOUNDS.items():
        value = values[name]
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if ok and integer:
            ok = float(value).is_integer()
        if not ok or not lo <= value <= hi:
            kind = "an integer" if integer else "a number"
            raise ValueError(f"Expected {name} to be {kind} in [{lo:g}, {hi:g}]. "
                             f"Received: {name}={value!r}")
    parse_hidden_units(values["hidden_units"])


class TrainingControls:
    """The form: architecture, latent size, hidden sizes, loss, beta, warm-up, lr, batch, epochs.

    Parameters
    ----------
    kind
        ``"image"`` or ``"tabular"``: which architectures are offered.
    values
        Initial values, keyed like :data:`MODEL_CONTROLS` and :data:`TRAIN_CONTROLS`.
    """

    def __init__(self, kind: str, values: dict[str, Any]) -> None:
        check_values(values)
        arch = [("auto (conv)", "auto"), ("dense", "dense"), ("conv", "conv")]
        if kind != "image":
            arch = [("auto (dense)", "auto"), ("dense", "dense")]
        if values["reconstruction"] not in ("auto", "bce", "mse"):
            raise ValueError("Expected reconstruction in ('auto', 'bce', 'mse'). "
                             f"Received: reconstruction={values['reconstruction']!r}")
        if values["architecture"] not in [v for _, v in arch]:
            raise ValueError(
                f"Expected architecture in {tuple(v for _, v in arch)} for {kind} data. "
                f"Received: architecture={values['architecture']!r}"
            )
        common = {"style": _STYLE, "layout": _LAYOUT}  # a dict: one Layout per control
        self.architecture = widgets.Dropdown(
            options=arch, value=values["architecture"], description="architecture", **common)
        self.latent_dim = widgets.BoundedIntText(
            value=int(values["latent_dim"]), min=1, max=4096, description="latent size", **common)
        self.hidden_units = widgets.Text(
            value=", ".join(str(u) for u in parse_hidden_units(values["hidden_units"])),
            description="hidden sizes", continuous_update=False, **common)
        self.reconstruction = widgets.Dropdown(
            options=[("auto", "auto"), ("Bernoulli (bce)", "bce"), ("Gaussian (mse)", "mse")],
            value=values["reconstruction"], description="reconstruction", **common)
        self.beta = widgets.BoundedFloatText(
            value=float(values["beta"]), min=0.0, max=1e4, step=0.1, description="beta (live)",
            **common)
        self.kl_warmup_epochs = widgets.BoundedIntText(
            value=int(values["kl_warmup_epochs"]), min=0, max=100_000,
            description="KL warm-up epochs", **common)
        self.learning_rate = widgets.FloatLogSlider(
            value=float(values["learning_rate"]), base=10, min=-5, max=-0.5, step=0.1,
            readout_format=".1e", continuous_update=False, description="learning rate (live)",
            **common)
        self.batch_size = widgets.BoundedIntText(
            value=int(values["batch_size"]), min=1, max=10_000_000, description="batch size",
            **common)
        self.epochs = widgets.BoundedIntText(
            value=int(values["epochs"]), min=1, max=1_000_000, description="epochs", **common)
        self.validation_split = widgets.BoundedFloatText(
            value=float(values["validation_split"]), min=0.0, max=0.9, step=0.05,
            description="validation split", **common)
        for name in (*MODEL_CONTROLS, *TRAIN_CONTROLS):
            getattr(self, name).add_class(f"vaew-{name.replace('_', '-')}")
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>Model</b>"),
                *(getattr(self, n) for n in MODEL_CONTROLS),
                widgets.HTML("<b>Training</b>"),
                *(getattr(self, n) for n in TRAIN_CONTROLS),
            ],
            layout=widgets.Layout(width="340px"),
        )
        self.widget.add_class("vaew-controls")

    def model_options(self) -> dict[str, Any]:
        """Keyword arguments for ``VAE.from_data`` (raises ValueError on bad hidden sizes)."""
        return {
            "architecture": self.architecture.value,
            "latent_dim": int(self.latent_dim.value),
            "hidden_units": parse_hidden_units(self.hidden_units.value),
            "reconstruction": self.reconstruction.value,
            "beta": float(self.beta.value),
            "kl_warmup_epochs": int(self.kl_warmup_epochs.value),
        }

    def train_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Trainer``."""
        return {
            "learning_rate": float(self.learning_rate.value),
            "batch_size": int(self.batch_size.value),
            "epochs": int(self.epochs.value),
            "validation_split": float(self.validation_split.value),
        }

    def values(self) -> dict[str, Any]:
        """Every control's value as shown (``hidden_units`` as its text)."""
        return {name: getattr(self, name).value for name in (*MODEL_CONTROLS, *TRAIN_CONTROLS)}

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (keyed like :meth:`values`) in the controls."""
        for name in (*MODEL_CONTROLS, *TRAIN_CONTROLS):
            if name in values and getattr(self, name).value != values[name]:
                getattr(self, name).value = values[name]

    def set_training(self, training: bool) -> None:
        """Disable what cannot change mid-run; the live controls stay enabled."""
        for name in (*MODEL_CONTROLS, *TRAIN_CONTROLS):
            if name not in LIVE:
                getattr(self, name).disabled = training
