"""ClusterViewer in a real headless Chromium: the jupyter-scatter map in JupyterLab, Notebook 7, Voila.

Each front end runs ``notebooks/viewer.ipynb`` (a tiny VAE on 600 digits, the viewer,
and a probe that shows what Python sees of the selection) and checks, in the page:

* the map's WebGL canvas draws the points (SwiftShader, see conftest's flags);
* a lasso drawn with the mouse selects points, the page says how many, and that count
  equals ``len(viewer.selection)`` on the Python side (the probe);
* the gallery shows the selected rows (its caption lists the rows Python drew);
* choosing a cluster in the list highlights it on the map (the canvas pixels change).

Screenshots go to ``test-artifacts/e2e/viewer_<front end>_*.png``.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

NOTEBOOK = Path(__file__).parent / "notebooks" / "viewer.ipynb"
N_ROWS = 600


def _pixels(canvas) -> object:
    """The canvas as an RGB numpy array (from a screenshot of its box)."""
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.int16)


def _inked(canvas) -> int:
    """How many pixels of the canvas are not (near) white: the drawn points."""
    return int((_pixels(canvas).min(axis=2) < 200).sum())


def _changed(before, canvas, share: float = 0.002) -> bool:
    """Whether more than ``share`` of the canvas' pixels differ from ``before``."""
    now = _pixels(canvas)
    return now.shape == before.shape and (abs(now - before).max(axis=2) > 40).mean() > share


def _count(page, css: str) -> int:
    """The ``data-count`` of the first element matching ``css`` (-1 while absent)."""
    node = page.locator(css).first
    return int(node.get_attribute("data-count")) if node.count() else -1


def _lasso(page, scatter, canvas) -> None:
    """Switch the map to lasso mode and draw a closed square around its middle."""
    scatter.locator("[title*='asso' i]").first.click()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    r = min(box["width"], box["height"]) * 0.3
    corners = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r),
               (cx - r, cy - r)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in corners[1:]:
        page.mouse.move(x, y, steps=10)
    page.mouse.up()


def exercise_map(jupyter, page, server, front_end: str) -> None:
    """The checks every front end shares (see the module docstring)."""
    try:
        page.locator(".vaew-viewer").first.wait_for(timeout=jupyter.kernel_timeout_ms)
        page.locator(".vaew-probe .python-count").first.wait_for(
            timeout=jupyter.kernel_timeout_ms)
    except Exception as err:
        raise AssertionError(f"The viewer did not appear.\n{server.log_tail(60)}") from err
    scatter = page.locator(".vaew-latent-scatter").first
    scatter.scroll_into_view_if_needed()
    canvas = scatter.locator("canvas").first
    jupyter.wait_until(lambda: _inked(canvas) > 400, 120, what="points drawn on the canvas")
    jupyter.screenshot(page, f"viewer_{front_end}_map")
    unselected = _pixels(canvas)

    _lasso(page, scatter, canvas)
    jupyter.wait_until(lambda: _count(page, ".vaew-selection-count") > 0, 60,
                       what="the page to say how many points the lasso selected")
    jupyter.wait_until(
        lambda: _count(page, ".vaew-probe .python-count")
        == _count(page, ".vaew-selection-count") > 0, 60,
        what="Python's len(viewer.selection) to equal the count in the page")
    shown = _count(page, ".vaew-selection-count")
    assert 0 < shown < N_ROWS, shown
    text = page.locator(".vaew-viewer-selection-count").first.inner_text()
    assert text == f"{shown:,} points selected", text

    # The gallery shows the selected rows: its caption lists the rows Python drew.
    python_rows = page.locator(".vaew-probe .python-gallery").first
    caption = page.locator(".vaew-gallery-rows").first
    jupyter.wait_until(lambda: caption.count() and python_rows.inner_text().strip(), 30,
                       what="the gallery's rows")
    assert caption.inner_text().replace(",", "").split() == python_rows.inner_text().split()
    gallery = page.locator("img.vaew-viewer-gallery").first
    jupyter.wait_until(
        lambda: gallery.evaluate("img => img.complete && img.naturalWidth > 100"), 30,
        what="the gallery image to load")
    jupyter.wait_until(lambda: _changed(unselected, canvas), 30,
                       what="the lasso's selection to show on the canvas")
    jupyter.screenshot(page, f"viewer_{front_end}_lasso")
    lassoed = _pixels(canvas)

    # Choosing a cluster in the list selects it and highlights it on the map.
    select = page.locator(".vaew-viewer-cluster-list select").first
    option = select.locator("option").nth(1)
    label = option.text_content() or ""
    size = int(re.search(r"\((\d[\d,]*)\s+pts\)", label).group(1).replace(",", ""))
    select.select_option(index=1)
    jupyter.wait_until(lambda: _count(page, ".vaew-selection-count") == size, 60,
                       what=f"the page to say {size} points selected (the cluster's size)")
    jupyter.wait_until(lambda: _count(page, ".vaew-probe .python-count") == size, 60,
                       what="Python to see the cluster's rows as the selection")
    jupyter.wait_until(lambda: _changed(lassoed, canvas) and _changed(unselected, canvas), 30,
                       what="the cluster's highlight on the canvas")
    scatter.scroll_into_view_if_needed()
    jupyter.screenshot(page, f"viewer_{front_end}_cluster")


def _copy_notebook(server) -> None:
    shutil.copy(NOTEBOOK, server.root / "viewer.ipynb")


def cluster_count(jupyter, page) -> int:
    return jupyter.first_int(page, ".vaew-n-clusters")


def test_lab_map_lasso_cluster_and_recluster_in_place(jupyter, page, lab_server):
    _copy_notebook(lab_server)
    jupyter.open_lab(page, "viewer.ipynb")
    jupyter.run_all(page)
    exercise_map(jupyter, page, lab_server, "lab")

    # A click selects the point under the mouse; a shift-click adds another.
    import numpy as np

    scatter = page.locator(".vaew-latent-scatter").first
    canvas = scatter.locator("canvas").first
    scatter.locator("[title*='pan' i]").first.click()
    box = canvas.bounding_box()
    px = _pixels(canvas)
    ys, xs = np.nonzero(px.max(axis=2) - px.min(axis=2) > 80)  # coloured: a cluster's points
    first = int(np.argmin((xs - np.median(xs)) ** 2 + (ys - np.median(ys)) ** 2))
    d = np.hypot(xs - xs[first], ys - ys[first])
    second = int(np.argmin(np.where(d > 14, abs(d - 25), np.inf)))  # a neighbouring point
    # Hovering shows the row, its cluster, its membership probability and a thumbnail.
    page.mouse.move(box["x"] + float(xs[first]) - 2, box["y"] + float(ys[first]))
    page.mouse.move(box["x"] + float(xs[first]), box["y"] + float(ys[first]), steps=2)
    tooltip = jupyter.wait_until(lambda: re.search(
        r"Row\s+\d+\s+Cluster\s+(cluster \d+|noise) \(\d+\)\s+Probability\s+[01](\.\d+)?",
        scatter.inner_text()), 30, what="the hover tooltip (row, cluster, probability)")
    assert tooltip
    jupyter.wait_until(lambda: scatter.evaluate(
        "root => [...root.querySelectorAll('*')].some(e => "
        "getComputedStyle(e).backgroundImage.startsWith('url(\"data:image/png'))"), 30,
        what="the row's thumbnail in the tooltip")
    jupyter.screenshot(page, "viewer_lab_hover")
    page.mouse.click(box["x"] + float(xs[first]), box["y"] + float(ys[first]))
    jupyter.wait_until(lambda: _count(page, ".vaew-selection-count") == 1
                       and _count(page, ".vaew-probe .python-count") == 1, 30,
                       what="a click to select one point (page and Python)")
    # Hover the second point first, so the first point's tooltip is gone before the click.
    page.mouse.move(box["x"] + float(xs[second]), box["y"] + float(ys[second]), steps=5)
    first_row = re.search(r"Row\s+(\d+)", tooltip.group(0)).group(1)
    jupyter.wait_until(lambda: (m := re.search(r"Row\s+(\d+)", scatter.inner_text()))
                       and m.group(1) != first_row, 30,
                       what="the tooltip to move from the first point to the second")
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + float(xs[second]), box["y"] + float(ys[second]))
    page.keyboard.up("Shift")
    jupyter.wait_until(lambda: _count(page, ".vaew-selection-count") == 2
                       and _count(page, ".vaew-probe .python-count") == 2, 30,
                       what="a shift-click to add a second point (page and Python)")
    jupyter.screenshot(page, "viewer_lab_clicks")

    # Re-clustering recolours the same canvas: the widget is updated, not replaced.
    canvas.evaluate("c => { c.dataset.vaewTag = 'first'; }")
    before, pixels = cluster_count(jupyter, page), _pixels(canvas)
    assert before >= 2
    jupyter.set_slider(page, "vaew-viewer-min-cluster-size", 200)
    jupyter.wait_until(lambda: cluster_count(jupyter, page) != before, 60,
                       what="the cluster count to change after moving min_cluster_size")
    jupyter.wait_until(lambda: _changed(pixels, canvas), 30, what="the map to be recoloured")
    assert page.locator(".vaew-latent-scatter canvas[data-vaew-tag='first']").count() == 1
    jupyter.screenshot(page, "viewer_lab_reclustered")


def test_notebook7_map_lasso_and_cluster(jupyter, page, lab_server):
    _copy_notebook(lab_server)
    jupyter.open_notebook7(page, "viewer.ipynb")
    jupyter.run_all(page)
    exercise_map(jupyter, page, lab_server, "notebook7")


def test_voila_map_lasso_and_cluster(jupyter, page, lab_server):
    _copy_notebook(lab_server)
    jupyter.open_voila(page, "viewer.ipynb")
    exercise_map(jupyter, page, lab_server, "voila")
