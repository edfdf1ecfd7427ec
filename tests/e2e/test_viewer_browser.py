"""ClusterViewer in a real headless Chromium (JupyterLab 4): re-cluster and pick a cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

NOTEBOOK = Path(__file__).parent / "notebooks" / "viewer.ipynb"


def cluster_count(jupyter, page) -> int:
    return jupyter.first_int(page, ".vaew-n-clusters")


def test_lab_viewer_reclusters_and_shows_gallery(jupyter, page, lab_server):
    shutil.copy(NOTEBOOK, lab_server.root / "viewer.ipynb")
    jupyter.open_lab(page, "viewer.ipynb")
    jupyter.run_all(page)
    try:
        jupyter.wait_for_visible(page, ".vaew-viewer")
    except AssertionError as err:
        raise AssertionError(f"The viewer did not appear.\n{lab_server.log_tail(60)}") from err
    jupyter.wait_until(lambda: jupyter.image_src(page, ".vaew-viewer-map"), 60,
                       what="the cluster map")
    before = cluster_count(jupyter, page)
    assert before >= 2
    map_before = jupyter.image_src(page, ".vaew-viewer-map")

    jupyter.set_slider(page, "vaew-viewer-min-cluster-size", 200)
    jupyter.wait_until(lambda: cluster_count(jupyter, page) != before, 60,
                       what="the cluster count to change after moving min_cluster_size")
    jupyter.wait_until(lambda: jupyter.image_src(page, ".vaew-viewer-map") != map_before, 30,
                       what="the map to be redrawn")
    jupyter.screenshot(page, "viewer_reclustered")

    jupyter.set_slider(page, "vaew-viewer-min-cluster-size", 10)
    jupyter.wait_until(lambda: cluster_count(jupyter, page) == before, 60,
                       what="the original cluster count back")

    page.locator(".lm-TabBar-tab", has_text="Pick").first.click()
    select = page.locator(".vaew-viewer-cluster-list select").first
    select.wait_for(state="visible", timeout=10_000)
    select.select_option(index=0)  # choosing a cluster in the list shows it
    status = page.locator(".vaew-viewer-status").first
    jupyter.wait_until(lambda: "Selected" in status.inner_text(), 60,
                       what="the cluster selection in the status area")
    # The status line is set first; the cluster's details (prototype, exemplars) follow.
    jupyter.wait_until(lambda: "Cluster 0" in page.locator(".vaew-viewer").first.inner_text(),
                       60, what="cluster 0's details")
    gallery = page.locator("img.vaew-viewer-gallery").first
    jupyter.wait_until(
        lambda: gallery.evaluate("img => img.complete && img.naturalWidth > 100"), 30,
        what="the gallery image to load")
    page.locator("button.vaew-viewer-show-cluster").first.click()  # the button works too
    select.select_option(index=1)
    jupyter.wait_until(lambda: "Cluster 1" in page.locator(".vaew-viewer").first.inner_text(),
                       60, what="cluster 1 to be shown")
    gallery.scroll_into_view_if_needed()
    jupyter.screenshot(page, "viewer_gallery")
