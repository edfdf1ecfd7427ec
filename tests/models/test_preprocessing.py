"""DataPreparer: the "auto" rule, constant columns, transforms and their round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vaewidget.models import DataPreparer


def test_auto_rule_for_digits_rows_is_global_minmax_and_bce(digits):
    x = digits[0]
    prep = DataPreparer().fit(x)
    assert (prep.scaling_, prep.reconstruction_) == ("minmax", "bce")
    assert "pixel intensities" in prep.reason_ and "Bernoulli" in prep.reason_
    out = prep.transform(x)
    # One scale for all pixels: 16 maps to 1 everywhere, and nothing leaves [0, 1].
    np.testing.assert_allclose(out, x / 16.0, rtol=1e-6)
    assert prep.constant_columns_ == [0, 32, 39]


def test_auto_rule_for_images_is_global_minmax_and_bce(digits_images):
    prep = DataPreparer().fit(digits_images[0])
    assert (prep.kind_, prep.scaling_, prep.reconstruction_) == ("image", "minmax", "bce")
    assert prep.original_shape_ == (8, 8) and prep.input_shape_ == (8, 8, 1)
    assert prep.transform(digits_images[0][:3]).shape == (3, 8, 8, 1)


def test_auto_rule_for_unit_interval_data_keeps_values():
    x = np.random.default_rng(0).uniform(size=(50, 6)).astype(np.float32)
    prep = DataPreparer().fit(x)
    assert (prep.scaling_, prep.reconstruction_) == ("none", "bce")
    np.testing.assert_array_equal(prep.transform(x), x)


def test_auto_rule_for_general_tables_is_standard_and_mse(tiny_data):
    x = tiny_data[0]
    prep = DataPreparer().fit(x)
    assert (prep.scaling_, prep.reconstruction_) == ("standard", "mse")
    out = prep.transform(x)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, rtol=1e-4)


def test_integer_tables_on_different_scales_are_standardized():
    rng = np.random.default_rng(0)
    # Age in years next to counts of children: integers, but not one shared scale.
    x = np.column_stack([rng.integers(18, 90, 100), rng.integers(0, 4, (100, 3))])
    prep = DataPreparer().fit(x)
    assert (prep.scaling_, prep.reconstruction_) == ("standard", "mse")


def test_user_choices_override_auto(tiny_data):
    x = tiny_data[0]
    prep = DataPreparer("minmax", "mse").fit(x)
    assert (prep.scaling_, prep.reconstruction_) == ("minmax", "mse")
    out = prep.transform(x)
    np.testing.assert_allclose(out.min(0), 0, atol=1e-6)
    np.testing.assert_allclose(out.max(0), 1, atol=1e-6)  # per column for tables
    assert "chosen by the user" in prep.reason_


@pytest.mark.parametrize(
    "scaling, reconstruction, x, fragment",
    [
        ("standard", "bce", np.arange(20.0).reshape(10, 2), "scaling='standard'"),
        ("none", "bce", np.arange(20.0).reshape(10, 2), "values in [0, 19]"),
        ("log", "auto", np.ones((3, 2)), "scaling='log'"),
        ("auto", "poisson", np.ones((3, 2)), "reconstruction='poisson'"),
    ],
)
def test_impossible_choices_are_refused(scaling, reconstruction, x, fragment):
    with pytest.raises(ValueError, match="Expected") as info:
        DataPreparer(scaling, reconstruction).fit(x)
    assert "Received" in str(info.value) and fragment in str(info.value)


def test_constant_columns_map_to_zero_and_survive_inverse(tiny_data):
    x = tiny_data[0].copy()
    x[:, 3] = 7.0
    prep = DataPreparer().fit(x)
    assert prep.constant_columns_ == [3]
    out = prep.transform(x)
    assert np.isfinite(out).all() and np.all(out[:, 3] == 0)
    np.testing.assert_allclose(prep.inverse_transform(out), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "x, fragment",
    [
        (np.full((10, 3), 2.5), "every value equals 2.5"),
        (np.tile([1.0, 2.0, 3.0], (10, 1)), "every column is constant"),
    ],
)
def test_all_constant_data_is_refused(x, fragment):
    with pytest.raises(ValueError, match="Expected .*Received") as info:
        DataPreparer().fit(x)
    assert fragment in str(info.value)


def test_transform_checks_the_row_shape(digits):
    prep = DataPreparer().fit(digits[0])
    with pytest.raises(ValueError, match=r"Expected rows of shape \(64,\).*x.shape=\(2, 63\)"):
        prep.transform(np.zeros((2, 63)))


def test_flatten_gives_vectors_for_images(digits_images):
    prep = DataPreparer(flatten=True).fit(digits_images[0])
    assert prep.input_shape_ == (64,)
    out = prep.transform(digits_images[0][:4])
    assert out.shape == (4, 64)
    assert prep.inverse_transform(out).shape == (4, 8, 8)


def test_config_is_json_and_round_trips(digits):
    prep = DataPreparer().fit(digits[0])
    config = json.loads(json.dumps(prep.get_config()))
    clone = DataPreparer.from_config(config)
    np.testing.assert_array_equal(clone.transform(digits[0]), prep.transform(digits[0]))
    assert clone.summary() == prep.summary()
    assert repr(clone) == repr(prep)


def test_unfitted_preparer_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        DataPreparer().transform(np.ones((2, 2)))
