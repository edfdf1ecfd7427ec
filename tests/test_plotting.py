"""The drawing room: cluster colours, tooltip thumbnails and map alignment, checked on real data."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from vaewidget.plotting import preview_urls
from vaewidget.plotting.clusters import NOISE_RGB, categories, palette
from vaewidget.widgets.latent_map import align, point_size


def test_categories_name_sizes_and_keep_grey_for_noise():
    labels = np.array([2, -1, 0, 0, 1, 2, 2, -1])
    codes, names, colours = categories(labels)
    assert names == ["noise (2)", "cluster 0 (2)", "cluster 1 (1)", "cluster 2 (3)"]
    assert [names[c] for c in codes[:3]] == ["cluster 2 (3)", "noise (2)", "cluster 0 (2)"]
    grey = "#{:02x}{:02x}{:02x}".format(*(round(v * 255) for v in NOISE_RGB))
    assert colours[0] == grey and grey not in colours[1:]
    rgb = palette(40)
    assert (rgb.max(axis=1) - rgb.min(axis=1) > 0.05).all()  # no cluster is grey
    assert len({tuple(c) for c in rgb}) == 40
    codes, names, _ = categories(np.array(["b", "a", "b"]), clusters=False)
    assert names == ["a (1)", "b (2)"] and list(codes) == [1, 0, 1]


def test_preview_urls_are_small_pngs_of_the_rows(digits_images):
    x, _ = digits_images
    urls = preview_urls(x[:5], vmin=0, vmax=16)
    assert len(urls) == 5 and all(u.startswith("data:image/png;base64,") for u in urls)
    assert max(len(u) for u in urls) < 1500
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1]))))
    assert img.shape == (48, 48)  # 8x8 enlarged 6 times, nearest pixel
    ink = np.kron(x[0], np.ones((6, 6)))
    assert np.corrcoef(img.ravel(), ink.ravel())[0, 1] < -0.99  # dark where the digit is
    colour = preview_urls(np.random.default_rng(0).random((2, 10, 10, 3)))
    assert Image.open(io.BytesIO(base64.b64decode(colour[0].split(",", 1)[1]))).mode == "RGB"
    with pytest.raises(ValueError, match="Expected"):
        preview_urls(np.zeros((3, 64)))


def test_align_undoes_a_turn_a_mirror_a_scale_and_a_shift():
    rng = np.random.default_rng(0)
    before = rng.normal(size=(300, 2))
    turn = np.array([[np.cos(1.0), -np.sin(1.0)], [np.sin(1.0), np.cos(1.0)]])
    after = (before @ turn) * np.array([-1.0, 1.0]) * 3.0 + 7.0
    np.testing.assert_allclose(align(before, after), before, atol=1e-4)
    moved = before + rng.normal(0, 0.05, before.shape)
    assert np.abs(align(before, moved) - before).max() < 0.3  # a real change stays a change
    assert align(None, after).shape == after.shape  # nothing to align to


def test_point_size_shrinks_with_the_number_of_points():
    sizes = [point_size(n) for n in (100, 1_000, 100_000, 1_000_000)]
    assert sizes == sorted(sizes, reverse=True) and 2 <= sizes[-1] <= sizes[0] <= 8
