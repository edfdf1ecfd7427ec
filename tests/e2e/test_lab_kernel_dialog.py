"""The browser helpers never replace a running kernel when Lab asks "Select Kernel".

On a busy machine JupyterLab sometimes shows its kernel selector although the server has
already started the notebook's kernel; accepting the default there starts another kernel
and shuts the first one down, interrupting whatever it runs (issue 16). This opens the
same dialog on purpose and checks that the helper keeps the kernel it had.
"""

from __future__ import annotations

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_the_kernel_dialog_never_replaces_the_running_kernel(jupyter, page, lab_server):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("answer = 6 * 7\nanswer")]
    nbformat.write(nb, lab_server.root / "dialog.ipynb")
    jupyter.open_lab(page, "dialog.ipynb")
    # Lab creates the notebook's session a moment after the page shows it (longer when busy)
    before = jupyter.wait_until(jupyter.session_kernel, 120, what="the notebook's kernel session")
    page.locator(".jp-Toolbar-kernelName:visible").first.click()  # Lab's own selector
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    jupyter.wait_until(lambda: dialog.count(), 30, what="the Select Kernel dialog")
    assert jupyter.settle_kernel_dialog(page)
    jupyter.wait_until(lambda: not dialog.count(), 30, what="the dialog to close")
    jupyter.run_all(page)
    jupyter.wait_until(lambda: "42" in page.locator(".jp-OutputArea-output").first.inner_text(),
                       120, what="the cell's output")
    assert jupyter.session_kernel()["id"] == before["id"]
    assert [k["id"] for k in jupyter.kernels()] == [before["id"]]
