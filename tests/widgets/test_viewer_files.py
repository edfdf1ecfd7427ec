"""ClusterViewer's CSV export inside ``files_root``, and its Python methods' messages."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from vaewidget.widgets.viewer import ClusterViewer

REFUSED = "Expected a relative file name inside the files folder"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("viewer_root")


@pytest.fixture(scope="module")
def viewer(trained_vae, small_digits, root):
    x, y = small_digits
    return ClusterViewer(trained_vae, x, y, space="latent", files_root=root)


def save_typed(viewer, name):
    viewer.widget.filename.value = name
    viewer.widget.save_csv.click()
    return viewer.status


def test_a_relative_name_is_written_inside_the_root(viewer, root):
    status = save_typed(viewer, "exports/clusters.csv")  # no such folder: not created
    assert "Expected a CSV file name that can be written" in status and "Received" in status
    assert not (root / "exports").exists()
    status = save_typed(viewer, "clusters.csv")
    assert status == f"Saved {len(viewer.x):,} rows to clusters.csv"
    assert (root / "clusters.csv").is_file() and str(root) not in viewer.widget.export_info.value
    assert len((root / "clusters.csv").read_text().splitlines()) == len(viewer.x) + 1


def test_typed_names_that_leave_the_root_are_refused(viewer, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    link = root / f"link-{uuid.uuid4().hex[:8]}"
    link.symlink_to(outside, target_is_directory=True)
    home_name = f"vaewidget-escape-{uuid.uuid4().hex}.csv"
    for typed in (str(outside / "abs.csv"), f"~/{home_name}", f"../{outside.name}/up.csv",
                  f"{link.name}/through_link.csv", ""):
        status = save_typed(viewer, typed)
        assert REFUSED in status and "Received" in status, (typed, status)
    assert list(outside.iterdir()) == []
    assert not (Path.home() / home_name).exists()


def test_save_csv_from_code_keeps_full_paths(viewer, tmp_path):
    path = viewer.save_csv(tmp_path / "full.csv")
    assert path == str(tmp_path / "full.csv") and Path(path).is_file()


def test_save_csv_to_an_unwritable_path_says_so(viewer, tmp_path):
    target = tmp_path / "no-such-folder" / "x.csv"
    with pytest.raises(ValueError, match="Expected a CSV file path that can be written. Received"):
        viewer.save_csv(target)
    with pytest.raises(ValueError, match="Expected a CSV file name. Received: an empty name"):
        viewer.save_csv("  ")


@pytest.mark.parametrize("rows", ["abc", ["a", "b"], [1.5], [[0, 1], [2]], {"rows": 1}])
def test_select_rows_refuses_what_is_not_row_numbers(viewer, rows):
    before = viewer.selection_.copy()
    with pytest.raises(ValueError, match=r"Expected row numbers.*Received"):
        viewer.select_rows(rows)
    np.testing.assert_array_equal(viewer.selection_, before)


def test_select_rows_takes_whole_numbers(viewer):
    np.testing.assert_array_equal(viewer.select_rows(np.array([3.0, 5.0])), [3, 5])
    np.testing.assert_array_equal(viewer.select_rows([7]), [7])
