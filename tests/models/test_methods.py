"""The numpy methods: any batch size, 2-D / 3-D / 4-D input, odd image sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaewidget.models import VAE, Autoencoder


@pytest.fixture(scope="module")
def conv_vae(digits_images):
    """A conv VAE on (N, 8, 8) digits, one quick epoch."""
    x = digits_images[0][:256]
    model = VAE.from_data(x, latent_dim=3, hidden_units=(16,), conv_filters=(4, 8), seed=0)
    model.compile()
    model.fit(model.prepare(x), epochs=1, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def odd_conv_vae():
    """A conv VAE on 4-D (N, 9, 7, 2) images: sizes that stride-2 layers do not divide."""
    x = np.random.default_rng(0).uniform(size=(64, 9, 7, 2)).astype(np.float32)
    model = VAE.from_data(x, latent_dim=2, hidden_units=(8,), conv_filters=(4, 4), seed=0)
    model.compile()
    model.fit(model.prepare(x), epochs=1, batch_size=32, verbose=0)
    return model, x


@pytest.mark.parametrize("n", [1, 5000])
def test_dense_methods_on_any_batch_size(trained_vae, digits, n):
    x = np.resize(digits[0], (n, 64))
    z_mean, z_log_var = trained_vae.encode(x)
    assert z_mean.shape == z_log_var.shape == (n, 4)
    assert z_mean.dtype == np.float32
    assert trained_vae.embed(x).shape == (n, 4)
    assert trained_vae.decode(z_mean).shape == (n, 64)
    assert trained_vae.reconstruct(x).shape == (n, 64)
    assert trained_vae.reconstruction_error(x).shape == (n,)
    assert trained_vae.sample(n, seed=0).shape == (n, 64)


def test_batching_does_not_change_results(trained_vae, digits):
    x = digits[0][:300]
    whole = trained_vae.encode(x)
    pieces = trained_vae.encode(x, batch_size=7)
    for a, b in zip(whole, pieces):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(trained_vae.embed(x), whole[0])


def test_outputs_are_in_original_units(trained_vae, digits):
    recon = trained_vae.reconstruct(digits[0][:50])
    # Bernoulli means mapped back: pixel values between 0 and 16, like the data.
    assert recon.min() >= 0.0 and recon.max() <= 16.0 + 1e-4
    samples = trained_vae.sample(20, seed=1)
    assert samples.min() >= 0.0 and samples.max() <= 16.0 + 1e-4


def test_sample_is_reproducible_with_a_seed(trained_vae):
    np.testing.assert_array_equal(trained_vae.sample(5, seed=3), trained_vae.sample(5, seed=3))
    assert not np.array_equal(trained_vae.sample(5, seed=3), trained_vae.sample(5, seed=4))
    with pytest.raises(ValueError, match="Expected n >= 1. Received: n=0"):
        trained_vae.sample(0)


def test_decode_takes_one_point_or_many(trained_vae):
    assert trained_vae.decode(np.zeros(4)).shape == (1, 64)
    assert trained_vae.decode([[0.0] * 4] * 3).shape == (3, 64)
    with pytest.raises(ValueError, match=r"Expected latent points of shape \(n, 4\)"):
        trained_vae.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Expected finite values in `z`"):
        trained_vae.decode(np.full((1, 4), np.nan))


def test_interpolate_runs_from_one_row_to_the_other(trained_vae, digits):
    a, b = digits[0][0], digits[0][1]
    path = trained_vae.interpolate(a, b, steps=5)
    assert path.shape == (5, 64)
    np.testing.assert_allclose(path[0], trained_vae.reconstruct(a[None])[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(path[-1], trained_vae.reconstruct(b[None])[0], rtol=1e-4, atol=1e-4)
    assert trained_vae.interpolate(a[None], b[None], steps=2).shape == (2, 64)
    with pytest.raises(ValueError, match="Expected steps >= 2. Received: steps=1"):
        trained_vae.interpolate(a, b, steps=1)
    with pytest.raises(ValueError, match=r"Expected `x_b` to be one row of shape \(64,\)"):
        trained_vae.interpolate(a, b[:10])


def test_dataframes_and_nested_lists_give_the_same_codes(trained_vae, digits):
    x = digits[0][:10]
    expected = trained_vae.embed(x)
    np.testing.assert_array_equal(trained_vae.embed(pd.DataFrame(x)), expected)
    np.testing.assert_array_equal(trained_vae.embed(x.tolist()), expected)


def test_conv_vae_on_3d_images(conv_vae, digits_images):
    assert conv_vae.architecture_ == "conv"
    assert conv_vae.preparer.input_shape_ == (8, 8, 1)
    for n in (1, 5000):
        x = np.resize(digits_images[0], (n, 8, 8))
        z_mean, z_log_var = conv_vae.encode(x)
        assert z_mean.shape == z_log_var.shape == (n, 3)
        assert conv_vae.reconstruct(x).shape == (n, 8, 8)
    assert conv_vae.sample(4, seed=0).shape == (4, 8, 8)
    assert conv_vae.interpolate(digits_images[0][0], digits_images[0][1], 3).shape == (3, 8, 8)


def test_conv_vae_on_4d_images_of_sizes_strides_do_not_divide(odd_conv_vae):
    model, x = odd_conv_vae
    assert model.preparer.input_shape_ == (9, 7, 2)
    assert model.decoder.output_shape == (None, 9, 7, 2)
    for n in (1, 100):
        batch = np.resize(x, (n, 9, 7, 2))
        assert model.encode(batch)[0].shape == (n, 2)
        assert model.reconstruct(batch).shape == (n, 9, 7, 2)
    assert model.sample(3).shape == (3, 9, 7, 2)


def test_dense_architecture_on_images_flattens_and_unflattens(digits_images):
    x = digits_images[0][:128]
    model = Autoencoder.from_data(x, architecture="dense", latent_dim=2, hidden_units=(8,))
    assert model.architecture_ == "dense" and model.preparer.input_shape_ == (64,)
    assert model.encode(x[:1]).shape == (1, 2)
    assert model.reconstruct(x[:3]).shape == (3, 8, 8)
    assert model.interpolate(x[0], x[1], 4).shape == (4, 8, 8)


def test_conv_is_refused_for_tables(digits):
    with pytest.raises(ValueError, match="Expected image input .* Received rows of shape"):
        VAE.from_data(digits[0][:20], architecture="conv")
