"""Real-browser fixtures: a JupyterLab server, headless Chromium and notebook helpers.

Reusable by every test module in ``tests/e2e``::

    import pytest

    pytestmark = [pytest.mark.slow, pytest.mark.e2e]

    def test_something(jupyter, page):
        jupyter.open_lab(page, "notebooks/01_quickstart.ipynb")
        jupyter.run_all(page)
        panel = page.locator(".vaew-panel")
        panel.wait_for(timeout=jupyter.kernel_timeout_ms)
        ...
        jupyter.screenshot(page, "something")

Fixtures
--------
``lab_server`` (session)
    JupyterLab 4 on 127.0.0.1 with a random token, serving a temporary copy of
    ``notebooks/`` (so autosave never writes outputs into the repository), with fresh
    settings, workspace, config, runtime and IPython folders. The same server answers
    Lab (``/lab/tree/...``), Notebook 7 (``/notebooks/...``) and Voila
    (``/voila/render/...``). Its kernels see ``VAEWIDGET_SMALL=1``.
``browser`` (session)
    Debian's ``/usr/bin/chromium`` driven by pip Playwright (never ``playwright install``).
``page`` (per test)
    A fresh browser context and page (1400x1000); closed after the test.
``jupyter`` (per test)
    A :class:`Jupyter` helper bound to the server: open notebooks in Lab, Notebook 7 or
    Voila, Run All, wait for conditions, read labels, save screenshots under
    ``test-artifacts/e2e/`` (git-ignored).

Rules (docs/testing.md): wait on conditions with room for a slow machine; never interrupt
or restart a kernel that may still be starting or running (shutting one down sends it
SIGINT first); never type into the notebook itself.

Recipe that works here: Debian's ``/usr/bin/chromium`` with ``CHROMIUM_ARGS`` (the
networking flags stop it from calling hosts it cannot reach); a fresh user-settings folder
with Lab's news toast turned off (it would cover part of the page); wait for
``.jp-Notebook-ExecutionIndicator[data-status='idle']``; Run All is
``li[data-command='runmenu:run-all']`` under the "Run" menu, and a click on it is
sometimes ignored, so retry until the first prompt shows the cell started.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("VAEWIDGET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-dev-shm-usage",
    # WebGL (the viewer's jupyter-scatter map) through SwiftShader, on the CPU. Not
    # --disable-gpu: it turns this path off (../shared/notes/interactive-scatter.md).
    "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab server: ``url`` (no trailing slash), ``token``, ``root`` folder."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen

    def route(self, prefix: str, path: str) -> str:
        """``{url}/{prefix}/{path}?token=...``, e.g. ``route("voila/render", "nb.ipynb")``."""
        return f"{self.url}/{prefix}/{path}?token={self.token}"

    def log_tail(self, n: int = 40) -> str:
        """The last ``n`` lines of the server's log, for failure messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "root"
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    # The "official Jupyter news?" toast would cover part of the page.
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        **os.environ,
        "VAEWIDGET_SMALL": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_BACKEND": "tensorflow",
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "PYTHONUNBUFFERED": "1",
    }
    # A kernel that inherits PYTEST_CURRENT_TEST stops capturing C-level output (ipykernel's
    # iostream.py); the server's kernels should behave as a user's do.
    env.pop("PYTEST_CURRENT_TEST", None)
    token, port = secrets.token_hex(16), _free_port()
    log = base / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={base / 'ws'}",
        "--LabApp.news_url=None",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log, process)
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"JupyterLab did not start:\n{server.log_tail()}")
            time.sleep(0.3)
    yield server
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Expected Chromium at {CHROMIUM} (`make browser` installs it with apt-get).")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; on failure its full-page screenshot goes to test-artifacts/e2e/FAILED-*.png."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
        except Exception:  # a crashed page must not hide the test's own error
            pass
    context.close()


class Jupyter:
    """Browser helpers for one :class:`LabServer`; every wait raises with context on timeout.

    Parameters
    ----------
    server
        The running server.
    kernel_timeout_ms
        How long to wait for a kernel to start and a notebook to run (TensorFlow
        imports take a while on a busy 2-core machine).
    """

    def __init__(self, server: LabServer, kernel_timeout_ms: int = 300_000) -> None:
        self.server = server
        self.kernel_timeout_ms = kernel_timeout_ms
        self.path = ""  # the notebook open in the page, relative to the server root
        self.events: list[str] = []  # what the helper did about kernels, for failure reports

    # ----------------------------------------------------------------- opening
    def open_lab(self, page: Any, path: str) -> None:
        """Open ``path`` (relative to the server root) in JupyterLab; wait for an idle kernel.

        ``reset`` starts from an empty workspace: the server is shared by the tests, and
        Lab would otherwise reopen the notebooks of earlier tests in hidden tabs.
        """
        self.path = path
        page.goto(self.server.route("lab/tree", path) + "&reset")
        self._wait_idle_kernel(page)

    def _wait_idle_kernel(self, page: Any) -> None:
        """Wait until the notebook in front has its kernel, idle, and no dialog is open."""
        idle = page.locator(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']:visible"
        ).first
        kernel_name = page.locator(".jp-Toolbar-kernelName:visible").first
        asked = {"at": 0.0}

        def ready() -> bool:
            if self.settle_kernel_dialog(page):
                return False
            if kernel_name.count() and "No Kernel" in kernel_name.inner_text():
                # Lab gave up on its first start request but the server may have the
                # kernel: reopen the selector (at most every 10 s), which attaches to it.
                if time.monotonic() - asked["at"] > 10 and self.session_kernel() is not None:
                    asked["at"] = time.monotonic()
                    self.events.append(f"{time.strftime('%H:%M:%S')} Lab shows No Kernel; "
                                       "reopening the kernel selector")
                    kernel_name.click()
                return False
            return idle.is_visible()

        self.wait_until(ready, self.kernel_timeout_ms / 1000, interval=0.5,
                        what="an idle kernel")

    def session_kernel(self, path: str | None = None) -> dict[str, Any] | None:
        """The kernel of the server's session for ``path`` (default: the open notebook)."""
        req = urllib.request.Request(f"{self.server.url}/api/sessions",
                                     headers={"Authorization": f"token {self.server.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            sessions = json.load(r)
        path = path or self.path
        return next((s.get("kernel") for s in sessions
                     if s.get("path", "").lstrip("/") == path.lstrip("/") and s.get("kernel")),
                    None)

    def settle_kernel_dialog(self, page: Any) -> bool:
        """Answer a "Select Kernel" dialog without ever replacing a running kernel.

        On a busy machine Lab sometimes shows this dialog although the server has already
        started the notebook's kernel: Lab's first start request was slow, so it falls back
        to asking. Accepting the default then starts a second kernel and shuts the first
        one down, which interrupts it (jupyter_client sends SIGINT first), also while it
        is still starting or importing. So when the server has a kernel for the notebook,
        choose exactly that kernel (Lab attaches to it; nothing is started or stopped), or
        dismiss the dialog if it does not list it yet; only when the server has no kernel,
        accept the default. Returns whether a dialog was open.
        """
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if not dialog.count():
            return False
        kernel = self.session_kernel()
        self.events.append(f"{time.strftime('%H:%M:%S')} 'Select Kernel' dialog; the server's "
                           f"kernel for {self.path}: {kernel and kernel['id']}")
        if kernel is None:
            dialog.locator(".jp-mod-accept").first.click()
            return True
        select = dialog.locator("select").first
        values = select.evaluate("s => Array.from(s.options).map(o => o.value)")
        ours = [v for v in values if kernel["id"] in v]
        self.events.append(f"  options: {values}")
        if ours:
            select.select_option(value=ours[0])
            dialog.locator(".jp-mod-accept").first.click()
        else:
            dialog.locator(".jp-mod-reject").first.click()  # changes nothing
        return True

    def wait_for_visible(self, page: Any, selector: str, timeout: float | None = None) -> Any:
        """Wait until ``selector`` shows (default: ``kernel_timeout_ms``), settling any late
        "Select Kernel" dialog meanwhile (it would hold the notebook's cells); return it."""
        found = page.locator(selector).first
        self.wait_until(lambda: not self.settle_kernel_dialog(page) and found.is_visible(),
                        timeout or self.kernel_timeout_ms / 1000, interval=0.5,
                        what=f"{selector} to appear")
        return found

    def open_notebook7(self, page: Any, path: str) -> None:
        """Open ``path`` in Notebook 7's single-document page; wait for the first cell."""
        self.path = path
        page.goto(self.server.route("notebooks", path))
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=self.kernel_timeout_ms)
        self._wait_idle_kernel(page)

    def open_voila(self, page: Any, path: str) -> None:
        """Render ``path`` with Voila inside the Lab server (``/voila/render/...``)."""
        page.goto(self.server.route("voila/render", path), timeout=self.kernel_timeout_ms)

    def run_all(self, page: Any, attempts: int = 5) -> None:
        """Run > Run All Cells (Lab and Notebook 7), retrying if the click is ignored.

        A click counts as taken once the first prompt changes from ``[ ]:`` (Lab marks
        queued cells at once, however busy the kernel). Only a click that changed nothing
        within 15 s is repeated, so a slow machine never gets the notebook queued twice.
        """
        # :visible: only the notebook in front, never one in a hidden tab.
        first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt:visible").first

        def started() -> bool:  # Lab marks a queued cell "[*]:" at once, whatever the kernel
            return first_prompt.inner_text().strip() not in ("[ ]:", "")

        for _ in range(attempts):
            self._wait_idle_kernel(page)  # no dialog open, the kernel there and idle
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            item = page.locator("li[data-command='runmenu:run-all']").first
            item.wait_for(state="visible", timeout=30_000)
            item.click()
            try:
                self.wait_until(started, timeout=15, what="the first cell to start")
                return
            except AssertionError:
                page.keyboard.press("Escape")  # closes a menu left open; never a kernel key
        raise AssertionError(f"Run All was ignored {attempts} times.\n{self.server.log_tail()}")

    # ----------------------------------------------------------------- reading
    @staticmethod
    def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2,
                   what: str = "the condition") -> Any:
        """Poll ``predicate`` until it returns a truthy value; AssertionError after ``timeout`` s."""
        end = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < end:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as err:  # element detached mid-read: try again
                last_error = err
            time.sleep(interval)
        raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}"
                             + (f" (last error: {last_error})" if last_error else ""))

    @staticmethod
    def first_int(page: Any, selector: str) -> int:
        """The first integer in the text of ``selector`` (e.g. ``"Epoch 3 / 200"`` -> 3)."""
        import re

        match = re.search(r"\d+", page.locator(selector).first.inner_text())
        return int(match.group()) if match else -1

    @staticmethod
    def image_src(page: Any, selector: str) -> str:
        """The ``src`` of the ``<img>`` inside ``selector`` (a new blob URL per update)."""
        return page.locator(f"{selector} img, img{selector}").first.get_attribute("src") or ""

    def set_text(self, page: Any, selector: str, value: Any) -> None:
        """Type ``value`` into the ``<input>`` of a text widget and commit it (Enter).

        ``fill`` and ``press`` act on that element only: keys typed with ``page.keyboard``
        would land in the notebook if the input had not taken the focus, and there
        ``0 0`` restarts the kernel.
        """
        box = page.locator(f"{selector} input").first
        box.fill(str(value))
        box.press("Enter")

    @staticmethod
    def set_slider(page: Any, css: str, value: int) -> None:
        """Type a value into the editable readout of the slider with class ``css``; commit it."""
        readout = page.locator(f".{css} .widget-readout").first
        readout.fill(str(value))  # the readout is contenteditable; fill focuses it itself
        readout.press("Enter")

    def kernels(self) -> list[dict[str, Any]]:
        """The server's kernels (``/api/kernels``: id, execution_state, ...)."""
        req = urllib.request.Request(f"{self.server.url}/api/kernels",
                                     headers={"Authorization": f"token {self.server.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def shutdown_kernels(self, settle_s: float = 90.0, gone_s: float = 120.0) -> None:
        """Shut down every kernel of the server between tests, and wait until none is left.

        Shutting a kernel down sends it SIGINT first (jupyter_client), so kernels that are
        still starting or running a cell get up to ``settle_s`` seconds to become idle;
        only then are they shut down. The next test starts on a server with no kernels,
        so nothing from this test competes with it for the CPU.
        """
        def settled() -> bool:
            return all(k.get("execution_state") in ("idle", "dead") for k in self.kernels())

        try:
            self.wait_until(settled, settle_s, interval=0.5, what="idle kernels")
        except AssertionError:
            pass  # a kernel busy for this long is shut down anyway: the test is over
        auth = {"Authorization": f"token {self.server.token}"}
        for kernel in self.kernels():
            req = urllib.request.Request(f"{self.server.url}/api/kernels/{kernel['id']}",
                                         headers=auth, method="DELETE")
            try:
                urllib.request.urlopen(req, timeout=gone_s).close()
            except OSError:
                pass  # already gone, or still going: checked below
        try:
            self.wait_until(lambda: not self.kernels(), gone_s, interval=0.5,
                            what="the server to have no kernels left")
        except AssertionError as err:
            raise AssertionError(f"{err}\n{self.server.log_tail()}") from None

    def screenshot(self, page: Any, name: str) -> Path:
        """Save a full-page PNG as ``test-artifacts/e2e/<name>.png``; return its path."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def jupyter(lab_server: LabServer) -> Iterator[Jupyter]:
    helper = Jupyter(lab_server)
    yield helper
    if helper.events:
        print("\n".join(["kernel events:", *helper.events]))
    helper.shutdown_kernels()
