"""Property-based fuzzing of vaewidget's doors with random data (the contract is in
fuzz_strategies.py and docs/testing.md).

Random shapes (1-D to 5-D, zero rows or features), dtypes (floats, ints, bool, object,
text, complex, datetime), containers (masked arrays, DataFrames with a text column, nested
lists), value ranges (1e-30 to float32's limit, constants) and NaN/inf positions go into
``VAE.from_data``, ``Trainer``, ``VAEClusterer`` and ``ClusterViewer``. Each test has a
fixed example budget and runs the same examples everywhere.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest
from fuzz_strategies import FUZZ, assert_house_error, call, data, wait_for_threads
from hypothesis import Phase, event, given, settings
from hypothesis import strategies as st

from vaewidget import VAE, ClusterViewer, Trainer, VAEClusterer

WIDTH = 6
TINY = {"latent_dim": 2, "hidden_units": (4,), "seed": 0}


@pytest.fixture(scope="module")
def good_x() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(40, WIDTH)).astype("float32")


@pytest.fixture(scope="module")
def trained(good_x):
    """A tiny VAE trained 2 epochs on ``good_x``: read-only here."""
    model = VAE.from_data(good_x, **TINY)
    model.compile()
    model.fit(model.prepare(good_x), epochs=2, batch_size=16, verbose=0)
    return model


@pytest.fixture(scope="module")
def fitted(good_x):
    """A tiny VAEClusterer fitted on ``good_x``; examples may refit it with good data."""
    return VAEClusterer(latent_dim=2, hidden_units=(4,), epochs=1, members=3, projection=None,
                        random_state=0).fit(good_x)


@settings(FUZZ, max_examples=40)
@given(x=data())
def test_vae_from_data_builds_a_usable_model_or_refuses(x):
    keras.utils.set_random_seed(0)
    model, err = call(VAE.from_data, x, **TINY)
    event("refused" if err else "built")
    if err is not None:
        return
    assert not _never_accepted(x), f"accepted {type(x).__name__} of dtype {x.dtype}"
    prepared = model.prepare(x)
    assert np.isfinite(prepared).all(), "from_data accepted data it prepares to NaN/inf"
    if model.preparer.reconstruction_ == "bce":
        assert prepared.min() >= 0 and prepared.max() <= 1
    z = model.embed(x)
    assert z.shape == (len(prepared), 2) and np.isfinite(z).all()


def _never_accepted(x) -> bool:
    """Dates, durations and masked arrays with masked values: refused at every door."""
    masked = isinstance(x, np.ma.MaskedArray) and bool(np.ma.getmaskarray(x).any())
    return masked or getattr(getattr(x, "dtype", None), "kind", "") in ("m", "M")


@settings(FUZZ, max_examples=10)
@given(x=data(width=WIDTH), split=st.sampled_from([0.0, 0.25]),
       batch=st.sampled_from([1, 16, 64]))
def test_trainer_trains_fails_cleanly_or_refuses(good_x, x, split, batch):
    keras.utils.set_random_seed(0)  # the same weights for the same example, in any order
    model = VAE.from_data(good_x, **TINY)
    before = set(threading.enumerate())
    trainer, err = call(Trainer, model, x, epochs=1, batch_size=batch, validation_split=split)
    event("refused" if err else "trained")
    if err is not None:
        assert trainer is None
        return
    trainer.start()
    assert trainer.wait(timeout=120), f"the run did not end: {trainer.state}"
    assert trainer.state in ("finished", "failed"), trainer.state
    event(trainer.state)
    if trainer.state == "failed":
        assert trainer.error, "a failed run must say why"
    assert not wait_for_threads(before), "a training thread outlived its run"
    z = model.embed(good_x)
    assert np.isfinite(z).all(), f"the model is not usable after a {trainer.state} run"


@settings(FUZZ, max_examples=16)
@given(x=data(max_rows=40),
       projection=st.sampled_from([None, None, "pca"]))
def test_vaeclusterer_fits_or_refuses(x, projection):
    keras.utils.set_random_seed(0)
    est = VAEClusterer(latent_dim=2, hidden_units=(4,), epochs=1, members=3,
                       projection=projection, random_state=0)
    _, err = call(est.fit, x)
    event("refused" if err else "fitted")
    if err is not None:
        assert not hasattr(est, "labels_"), "a refused fit left fitted attributes"
        return
    n = len(est.embedding_)
    assert est.labels_.shape == (n,) and est.labels_.min() >= -1
    assert np.isfinite(est.embedding_).all()
    assert np.isfinite(est.probabilities_).all()
    assert ((est.probabilities_ >= 0) & (est.probabilities_ <= 1)).all()
    assert est.n_clusters_ == len(set(est.labels_.tolist()) - {-1})


@settings(FUZZ, max_examples=24)
@given(x=data(width=WIDTH), method=st.sampled_from(["predict", "transform", "fit"]))
def test_a_fitted_vaeclusterer_keeps_its_state_on_bad_input(fitted, x, method):
    est = fitted
    labels, embedding, params = est.labels_.copy(), est.embedding_.copy(), dict(est.params_)
    out, err = call(getattr(est, method), x)
    event(f"{method}: {'refused' if err else 'done'}")
    if err is None and method == "fit":  # good data: a new fit, consistent in itself
        assert est.labels_.shape == (len(est.embedding_),)
        return
    if err is None:
        rows = len(est.model_.preparer.check(_rows(x)))
        assert len(out) == rows
        assert np.isfinite(out).all() if method == "transform" else out.min() >= -1
    np.testing.assert_array_equal(est.labels_, labels)
    np.testing.assert_array_equal(est.embedding_, embedding)
    assert est.params_ == params


def _rows(x):
    from vaewidget._validation import as_float_array

    return as_float_array(x)


@settings(FUZZ, max_examples=14)
@given(x=data(width=WIDTH, max_rows=60),
       labels=st.sampled_from(["none", "right", "short", "2-D"]),
       options=st.fixed_dictionaries({}, optional={
           "min_cluster_size": st.sampled_from([0, 1, 2, 5, 10_000, -3, 2.5, "5"]),
           "min_samples": st.sampled_from([None, 0, 1, 3, -1, 1.5]),
           "cluster_selection_method": st.sampled_from(["eom", "leaf", "best"]),
           "cluster_selection_epsilon": st.sampled_from([0.0, 0.5, -1.0, float("nan")]),
       }))
def test_cluster_viewer_builds_or_refuses(trained, x, labels, options):
    n = len(x) if hasattr(x, "__len__") else 0
    y = {"none": None, "right": np.arange(n) % 3, "short": np.arange(max(n - 1, 0)),
         "2-D": np.zeros((n, 2))}[labels]
    before = set(threading.enumerate())
    viewer, err = call(ClusterViewer, trained, x, labels=y, **options)
    event("refused" if err else "built")
    if err is not None:
        return
    try:
        rows = len(viewer.x)
        assert viewer.labels_.shape == (rows,)
        assert viewer.coords_ is None or viewer.coords_.shape == (rows, 2)
        frame = viewer.to_dataframe()
        assert len(frame) == rows
    finally:
        viewer.close()
    assert not wait_for_threads(before), "the viewer left a thread running"


ARGS = st.one_of(st.integers(-5, 50), st.text(max_size=8), st.none(),
                 st.lists(st.integers(-3, 60), max_size=4),
                 st.floats(allow_nan=True, allow_infinity=True))


@settings(FUZZ, max_examples=30)
@given(action=st.sampled_from(["select", "select_rows", "select_cluster",
                               "interpolate_rows"]), arg=ARGS)
def test_cluster_viewer_methods_refuse_bad_arguments(viewer, action, arg):
    labels = viewer.labels_.copy()
    if action == "interpolate_rows":
        _, err = call(viewer.interpolate_rows, arg, 0)
    else:
        _, err = call(getattr(viewer, action), arg)
    event(f"{action}: {'refused' if err else 'done'}")
    np.testing.assert_array_equal(viewer.labels_, labels)


@settings(FUZZ, max_examples=20, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(name=st.sampled_from(["min_cluster_size", "min_samples", "cluster_selection_epsilon",
                             "cluster_selection_method"]), arg=ARGS)
def test_cluster_viewer_set_params_refuses_bad_values(viewer, name, arg):
    labels = viewer.labels_.copy()
    _, err = call(viewer.set_params, **{name: arg})
    if err is not None:
        np.testing.assert_array_equal(viewer.labels_, labels)


@pytest.fixture(scope="module")
def viewer(trained):
    x = np.random.default_rng(1).normal(size=(30, WIDTH)).astype("float32")
    v = ClusterViewer(trained, x, labels=np.arange(30) % 3, min_cluster_size=5)
    yield v
    v.close()


def test_the_house_error_check_can_fail():
    """The checker itself rejects other exceptions and other wording."""
    with pytest.raises(AssertionError):
        assert_house_error(TypeError("Expected x. Received: y"))
    with pytest.raises(AssertionError):
        assert_house_error(ValueError("bad input"))
    assert_house_error(ValueError("Expected a. Received: b"))
