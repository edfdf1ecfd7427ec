"""Ensembles (``members > 1``): independent towers, the members' mean loss, saving, every door."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from vaewidget import VAEClusterer, VAEPanel
from vaewidget.clustering import _defaults
from vaewidget.models import VAE, Autoencoder


@pytest.fixture(scope="module")
def ensemble(tiny_data):
    x = tiny_data[0]
    model = VAE.from_data(x, latent_dim=3, hidden_units=(16,), seed=0, members=2)
    model.compile()
    model.fit(model.prepare(x), epochs=2, batch_size=50, verbose=0)
    return model, x


def test_code_is_the_members_codes_side_by_side(ensemble):
    model, x = ensemble
    z_mean, z_log_var = model.encode(x)
    assert model.code_dim == 6 and z_mean.shape == z_log_var.shape == (len(x), 6)
    np.testing.assert_array_equal(model.embed(x), z_mean)
    assert model.decode(z_mean).shape == x.shape == model.reconstruct(x).shape
    assert np.isfinite(model.sample(7, seed=0)).all() and model.sample(7, seed=0).shape == (7, 12)
    np.testing.assert_array_equal(model.sample(5, seed=1), model.sample(5, seed=1))


def test_members_are_independent_networks(tiny_data):
    x = tiny_data[0]
    model = VAE.from_data(x, latent_dim=3, hidden_units=(16,), seed=0, members=2)
    before = model.embed(x)
    # Different initial weights: the two members' codes differ.
    assert not np.allclose(before[:, :3], before[:, 3:])
    # Changing member 1's weights leaves member 0's code exactly as it was.
    for layer in model.encoder.layers:
        if layer.name.startswith("m1_") and layer.weights:
            layer.set_weights([w * 2.0 for w in layer.get_weights()])
    after = model.embed(x)
    np.testing.assert_array_equal(after[:, :3], before[:, :3])
    assert not np.allclose(after[:, 3:], before[:, 3:])


def test_loss_is_the_members_mean(tiny_data):
    # A deterministic model (no sampling), so the loss can be recomputed by hand.
    x = tiny_data[0]
    model = Autoencoder.from_data(x, latent_dim=2, hidden_units=(8,), seed=0, members=3)
    model.compile()
    prepared = model.prepare(x)
    logs = model.evaluate(prepared, batch_size=len(x), verbose=0, return_dict=True)
    out = keras.ops.convert_to_numpy(model.decoder(model.embed(x)))
    assert out.shape == (len(x), 3, 12)
    per_member = [0.5 * ((prepared - out[:, k]) ** 2).sum(axis=1).mean() for k in range(3)]
    assert len(set(np.round(per_member, 4))) == 3  # the members really differ
    np.testing.assert_allclose(logs["loss"], np.mean(per_member), rtol=1e-4)


def test_kl_term_is_the_members_mean(ensemble):
    model, x = ensemble
    prepared = model.prepare(x)
    logs = model.evaluate(prepared, batch_size=len(x), verbose=0, return_dict=True)
    mean, log_var = model.encode(x)
    kl = 0.5 * (mean**2 + np.exp(log_var) - log_var - 1)
    per_member = [kl[:, k * 3:(k + 1) * 3].sum(axis=1).mean() for k in range(2)]
    np.testing.assert_allclose(logs["kl_loss"], np.mean(per_member), rtol=1e-4)


def test_ensemble_round_trips_through_a_file(ensemble, tmp_path):
    model, x = ensemble
    model.save(tmp_path / "e.keras")
    loaded = keras.saving.load_model(tmp_path / "e.keras", safe_mode=True)
    assert loaded.members == 2 and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.embed(x), model.embed(x))
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))


def test_conv_ensemble_on_images(digits_images):
    x = digits_images[0][:128]
    model = VAE.from_data(x, latent_dim=2, hidden_units=(8,), conv_filters=(4,), seed=0, members=2)
    model.compile()
    model.fit(model.prepare(x), epochs=1, batch_size=64, verbose=0)
    assert model.embed(x).shape == (128, 4)
    assert model.reconstruct(x).shape == x.shape
    assert model.decode(np.zeros(4, np.float32)).shape == (1, *x.shape[1:])


@pytest.mark.parametrize("members", [0, -1, 1.5, 2.0, True, "3", None, "Auto"])
def test_bad_members_are_refused(tiny_data, members):
    x = tiny_data[0]
    with pytest.raises(ValueError, match=r"Expected an integer members >= 1\. Received: members="):
        VAE.from_data(x, latent_dim=2, hidden_units=(8,), members=members)
    # The defaults' rule also takes "auto", and says so.
    with pytest.raises(ValueError, match=r'Expected an integer members >= 1 or "auto"\. '
                                         r"Received: members="):
        _defaults.resolve({"members": members}, x)


def test_panel_refuses_bad_members(tiny_data):
    with pytest.raises(ValueError, match=r"Expected an integer members >= 1.*Received: members=0"):
        VAEPanel(tiny_data[0], members=0)


def test_estimator_refuses_bad_members_and_keeps_its_fit(tiny_data):
    x = tiny_data[0]
    est = VAEClusterer(latent_dim=2, hidden_units=(8,), epochs=2, random_state=0).fit(x)
    labels = est.labels_.copy()
    est.set_params(members=0)
    with pytest.raises(ValueError, match=r"Expected an integer members >= 1.*Received: members=0"):
        est.fit(x)
    np.testing.assert_array_equal(est.labels_, labels)
    assert est.model_.members == _defaults.MAX_MEMBERS  # the fit of "auto" members is kept


def test_auto_epochs_share_one_vaes_step_budget(digits):
    # A signed table of digits' size (1,797 rows: 29 batches of 64): the Gaussian route.
    x = np.random.default_rng(0).normal(size=digits[0].shape).astype(np.float32)
    assert not _defaults.bernoulli_route(x)
    one, three = _defaults.resolve({"members": 1}, x), _defaults.resolve({"members": 3}, x)
    assert one["epochs"] == round(_defaults.TARGET_STEPS / 29) == 41
    assert three["epochs"] == round(_defaults.TARGET_STEPS / 3 / 29) == 14
    small = x[:150]  # capped at MAX_EPOCHS either way: every member trains as long as one VAE
    assert _defaults.resolve({"members": 3}, small)["epochs"] == _defaults.MAX_EPOCHS


def test_intensity_data_train_for_more_steps(digits):
    x = digits[0]  # pixel intensities 0-16: the preparer's Bernoulli route
    assert _defaults.bernoulli_route(x) and _defaults.INTENSITY_STEPS_FACTOR == 2
    steps = _defaults.TARGET_STEPS * _defaults.INTENSITY_STEPS_FACTOR / 3
    assert _defaults.resolve({}, x)["epochs"] == round(steps / 29) == 28
    # The user's scaling decides the route: standardized digits get a Gaussian loss.
    assert not _defaults.bernoulli_route(x, "standard")
    assert _defaults.resolve({"scaling": "standard"}, x)["epochs"] == 14
    assert _defaults.bernoulli_route(x / 16.0)  # already in [0, 1]
    assert _defaults.resolve({"epochs": 7}, x)["epochs"] == 7  # given epochs are kept
    # A scaling the preparer does not know is its own error to report, not this rule's.
    assert not _defaults.bernoulli_route(x, "bogus")


def test_estimator_and_panel_build_the_same_ensemble(tiny_data):
    x = tiny_data[0]
    est = VAEClusterer(latent_dim=2, hidden_units=(8,), epochs=2, members=2, random_state=0).fit(x)
    assert est.model_.members == 2 and est.embedding_.shape == (len(x), 4)
    panel = VAEPanel(x, members=2, seed=0, latent_dim=2, hidden_units=(8,))
    try:
        assert panel.model.members == 2
        assert "2 VAEs side by side, a 2-D code each (4 columns)" in panel.data_box.value
        assert panel.controls.train_options()["epochs"] == _defaults.resolve(
            {"members": 2}, x)["epochs"]
    finally:
        panel.close()


def test_auto_members_follow_the_training_work():
    rng = np.random.default_rng(0)
    # The default model: a small table is cheap to fit and gets nine members, each trained
    # as long as one of three; a table of digits' size keeps three.
    small = rng.normal(size=(150, 4)).astype(np.float32)
    big = rng.normal(size=(3000, 64)).astype(np.float32)
    s, b = _defaults.resolve({}, small), _defaults.resolve({}, big)
    assert s["members"] == _defaults.MAX_MEMBERS == 9
    assert s["epochs"] == _defaults.resolve({"members": 3}, small)["epochs"]
    assert b["members"] == _defaults.ENSEMBLE == 3
    # In between, as many as the budget buys: never fewer than three, never more than nine.
    for rows in (150, 600, 1200, 2000, 3000):
        for cols in (4, 30, 200):
            x = rng.normal(size=(rows, cols)).astype(np.float32)
            r = _defaults.resolve({}, x)
            m, steps = r["members"], r["epochs"] * -(-rows // r["batch_size"])
            one = _defaults.training_work(x.shape, r["hidden_units"], r["latent_dim"], r["epochs"])
            assert 3 <= m <= 9
            if m > 3:
                assert m * one <= _defaults.MEMBER_BUDGET
                assert m * steps <= _defaults.MEMBER_STEP_BUDGET
            assert m == 9 or ((m + 1) * one > _defaults.MEMBER_BUDGET
                              or (m + 1) * steps > _defaults.MEMBER_STEP_BUDGET)
    # Many small steps cost time the arithmetic does not show: a 400-row intensity table
    # trains 60 epochs of 13 batches per member, so the step budget stops it at six.
    counts = rng.integers(0, 17, size=(400, 4)).astype(np.float32)
    assert _defaults.bernoulli_route(counts)
    c = _defaults.resolve({}, counts)
    assert (c["epochs"], c["batch_size"]) == (60, 32)
    assert c["members"] == _defaults.MEMBER_STEP_BUDGET // (60 * 13) == 6
    # Cutting the epochs for a quick look does not change the model; given members stay.
    assert _defaults.resolve({"epochs": 2}, small)["members"] == 9
    assert _defaults.resolve({"members": 2}, small)["members"] == 2
    # A smaller model is cheaper: it gets more members on the same table.
    mid = rng.normal(size=(2000, 30)).astype(np.float32)
    assert _defaults.resolve({"hidden_units": (32,)}, mid)["members"] > _defaults.resolve(
        {}, mid)["members"]


def test_panel_resolves_the_members_the_estimator_resolves(tiny_data):
    x = tiny_data[0]
    options = {"latent_dim": 2, "hidden_units": (8,)}
    wanted = _defaults.resolve(options, x)["members"]
    assert wanted == 9  # a small model on a small table
    panel = VAEPanel(x, seed=0, **options)
    try:
        assert panel.model.members == wanted
    finally:
        panel.close()
    # The default model on the same table: more work per member, the same rule.
    panel = VAEPanel(x, seed=0)
    try:
        assert panel.model.members == _defaults.resolve({}, x)["members"]
    finally:
        panel.close()
