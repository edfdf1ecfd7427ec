"""The bad-input matrix: each case raises ValueError("Expected ... Received ...") and a
trained model stays exactly as it was, and usable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaewidget.models import VAE, Autoencoder


def _bad_matrix():
    rng = np.random.default_rng(0)
    good = rng.uniform(0, 16, size=(30, 64)).round()
    with_nan = good.copy()
    with_nan[3, 5] = np.nan
    with_inf = good.copy()
    with_inf[0, 0] = -np.inf
    return {
        "nan": (with_nan, "NaN"),
        "inf": (with_inf, "infinite"),
        "text column": (pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]}), "b ("),
        "object strings": (np.array([["1", "a"], ["2", "b"]], dtype=object), "text"),
        "ragged lists": ([[1.0, 2.0, 3.0], [4.0, 5.0]], "ragged"),
        "1-D": (good[0], "x.shape=(64,)"),
        "5-D": (np.ones((2, 3, 4, 5, 6)), "x.shape=(2, 3, 4, 5, 6)"),
        "zero rows": (np.empty((0, 64)), "n_samples=0"),
        "one row": (good[:1], "n_samples=1"),
        "all constant": (np.full((30, 64), 3.0), "every value equals 3"),
        "constant columns only": (np.tile(np.arange(64.0), (30, 1)), "every column is constant"),
        "no features": (np.empty((30, 0)), "0 feature(s)"),
    }


BAD = _bad_matrix()


def _check_message(err, fragment):
    message = str(err.value)
    assert "Expected" in message and "Received" in message, message
    assert fragment in message, message


@pytest.fixture(scope="module")
def reference(trained_vae, digits):
    x = digits[0][:20]
    return x, trained_vae.embed(x), [w.numpy().copy() for w in trained_vae.weights]


def _assert_unchanged(model, reference):
    x, codes, weights = reference
    np.testing.assert_array_equal(model.embed(x), codes)
    for before, w in zip(weights, model.weights):
        np.testing.assert_array_equal(before, w.numpy())


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("cls", [VAE, Autoencoder])
def test_from_data_refuses_bad_input(cls, case, trained_vae, reference):
    x, fragment = BAD[case]
    with pytest.raises(ValueError) as err:
        cls.from_data(x, latent_dim=2, hidden_units=(4,))
    _check_message(err, fragment)
    _assert_unchanged(trained_vae, reference)


METHODS = ["encode", "embed", "reconstruct", "reconstruction_error"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "x, fragment",
    [
        (np.zeros((5, 63)), "Expected rows of shape (64,)"),
        (np.zeros((5, 8, 8)), "x.shape=(5, 8, 8)"),
        (np.zeros((5, 65)), "Received: x.shape=(5, 65)"),
        (np.full((2, 64), np.nan), "NaN"),
        (pd.DataFrame({"a": ["x"] * 3}), "non-numeric"),
        (np.empty((0, 64)), "n_samples=0"),
        (np.zeros(64), "x.shape=(64,)"),
    ],
)
def test_methods_refuse_bad_input_and_the_model_stays_usable(
    trained_vae, reference, method, x, fragment
):
    with pytest.raises(ValueError) as err:
        getattr(trained_vae, method)(x)
    _check_message(err, fragment)
    _assert_unchanged(trained_vae, reference)


def test_fit_refuses_bad_prepared_data_before_touching_weights(small_digits, make_vae):
    x = small_digits[0]
    model = make_vae(x, epochs=1)
    data = model.prepare(x)
    before = [w.numpy().copy() for w in model.weights]
    bad_nan = data.copy()
    bad_nan[0, 0] = np.nan
    for bad, fragment in [
        (bad_nan, "1 NaN"),
        (x[:, :10], "Received: x.shape=(300, 10)"),
        (x.reshape(-1, 8, 8), "(n, 64)"),
    ]:
        with pytest.raises(ValueError) as err:
            model.fit(bad, epochs=1, verbose=0)
        _check_message(err, fragment)
    with pytest.raises(ValueError, match=r"Expected finite values in `validation_data\[0\]`"):
        model.fit(data, epochs=1, verbose=0, validation_data=(bad_nan,))
    for b, w in zip(before, model.weights):
        np.testing.assert_array_equal(b, w.numpy())
    h = model.fit(data, epochs=1, verbose=0).history
    assert np.isfinite(h["loss"]).all()


def test_a_constant_column_is_not_an_error(trained_vae, trained_vae_history, tiny_data, make_vae):
    # Digits has 3 pixels that never change; the shared model trained on them.
    assert len(trained_vae.preparer.constant_columns_) == 3
    assert np.isfinite(trained_vae_history["loss"]).all()
    # A standardized table with a constant column trains to a finite loss too.
    x = tiny_data[0].copy()
    x[:, 0] = 5.0
    model = make_vae(x, epochs=2)
    assert model.preparer.constant_columns_ == [0]
    h = model.fit(model.prepare(x), epochs=1, verbose=0).history
    assert np.isfinite(h["loss"]).all()
    assert np.isfinite(model.reconstruct(x)).all()


def test_nested_lists_and_numeric_dataframes_are_accepted(tiny_data):
    x = tiny_data[0]
    from_list = VAE.from_data(x.tolist(), latent_dim=2, hidden_units=(4,), seed=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    from_frame = VAE.from_data(frame, latent_dim=2, hidden_units=(4,), seed=0)
    assert from_list.preparer.get_config() == from_frame.preparer.get_config()
    np.testing.assert_array_equal(from_list.prepare(frame), from_list.prepare(x))
    assert from_frame.encode(frame.iloc[:3])[0].shape == (3, 2)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"latent_dim": 0}, "latent_dim=0"),
        ({"hidden_units": (8, 0)}, "hidden_units=(8, 0)"),
        ({"noise_std": -1.0}, "noise_std=-1.0"),
        ({"l1": -0.1}, "l1=-0.1"),
        ({"kl_warmup_epochs": -2}, "kl_warmup_epochs=-2"),
        ({"architecture": "rnn"}, "architecture='rnn'"),
        ({"scaling": "robust"}, "scaling='robust'"),
    ],
)
def test_bad_hyperparameters_are_refused(tiny_data, kwargs, fragment):
    with pytest.raises(ValueError) as err:
        VAE.from_data(tiny_data[0], **kwargs)
    _check_message(err, fragment)
