"""The latent map in a real browser: cell execution to a drawn canvas, and bytes per point.

Starts JupyterLab (temporary folders, random token) and headless Chromium (Debian's
``/usr/bin/chromium`` driven by pip Playwright, WebGL through SwiftShader: the flags of
``../shared/notes/interactive-scatter.md``), opens a generated notebook and, for each
size, runs one cell that builds a :class:`vaewidget.widgets.latent_map.LatentMap` of
that many points (a synthetic clustering: 12 blobs and uniform noise, colour by
cluster, opacity by probability, the outlier column, as the viewer shows it) and
displays it. The data are made in an earlier, untimed cell.

Measured per run:

* ``to_canvas_s``: from the key press that runs the cell to the first animation frame in
  which the new map's canvas holds drawn points (read in the page with
  ``getImageData``; the visible canvas is 2-D, regl-scatterplot copies its WebGL frame
  into it);
* ``python_s``: the cell's own time (building the widget's state in the kernel);
* ``ws_bytes``: bytes the page received on its websockets between the key press and
  the drawn canvas (the kernel's messages: the widget state, its binary points buffer
  and jupyter-scatter's JavaScript module, about 2.2 MB, which anywidget sends with every
  new widget);
* ``points_bytes``: the size of the binary points buffer alone (the widget's state).

Sizes run interleaved (100k, 1M, 100k, 1M, ...), after one untimed warm-up map that
loads the front-end module; the table gives medians. On this machine the browser draws
on the CPU (SwiftShader), so a desktop with a GPU draws faster; the Python side and the
bytes do not depend on it.

Usage (repository root)::

    PYTHONPATH=$PWD python benchmarks/map_browser.py [--sizes 100000 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("VAEWIDGET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-dev-shm-usage",
    "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic",
]

SETUP = """\
import time
import numpy as np
from vaewidget.widgets.latent_map import LatentMap

def clustering(n, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (12, 2))
    labels = rng.integers(-1, 12, n)
    xy = centres[np.maximum(labels, 0)] + rng.normal(0, 1, (n, 2))
    noise = labels < 0
    xy[noise] = rng.uniform(-15, 15, (int(noise.sum()), 2))
    p = np.where(noise, 0.0, rng.uniform(0.3, 1.0, n))
    return xy.astype(np.float32), labels, p, rng.random(n)

DATA = {n: clustering(n) for n in (1_000, *SIZES)}
shown = []

def show(n):
    for old in shown:  # one live map at a time: the page measures the new one
        old.widget.close()
    shown.clear()
    started = time.perf_counter()
    m = LatentMap()
    xy, labels, p, outlier = DATA[n]
    m.show(xy, labels, p, columns={"outlier": outlier})
    shown.append(m)
    points = m.widget.points
    print(f"PYTHON {time.perf_counter() - started:.3f} POINTS_BYTES {points.astype(np.float32).nbytes}")
    return m.box
"""

#: In the page: the first canvas of a map not tagged as old, once it holds drawn points.
DRAWN = """() => {
  for (const c of document.querySelectorAll('.vaew-latent-scatter canvas')) {
    if (c.dataset.old || !c.width || !c.height) continue;
    const ctx = c.getContext('2d');
    if (!ctx) continue;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let inked = 0;  // visible pixels darker than the white background
    for (let i = 0; i < d.length; i += 4 * 7) {
      if (d[i + 3] > 0 && Math.min(d[i], d[i + 1], d[i + 2]) < 200) inked++;
    }
    if (inked > 100) return performance.now();
  }
  return false;
}"""
#: In the page, on a timeout: what the canvases hold.
DIAGNOSE = """() => [...document.querySelectorAll('.vaew-latent-scatter canvas')].map(c => {
  const ctx = c.getContext('2d');
  return {old: c.dataset.old || '', w: c.width, h: c.height, ctx2d: !!ctx};
})"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(base: Path) -> tuple[subprocess.Popen, str, str]:
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(base / "config"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "IPYTHONDIR": str(base / "ipython"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = open(base / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={base / 'root'}",
         f"--LabApp.user_settings_dir={base / 'settings'}",
         f"--LabApp.workspaces_dir={base / 'ws'}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base / "root")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).close()
            return proc, url, token
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((base / "server.log").read_text()[-3000:]) from None
            time.sleep(0.3)


def write_notebook(path: Path, sizes: list[int]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"SIZES = {sizes!r}\n" + SETUP),
                nbformat.v4.new_code_cell("show(1_000)")]  # warm-up: loads the module
    nb.cells += [nbformat.v4.new_code_cell(f"show({n})") for n in sizes]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def execute(page, cell) -> float:
    """Run ``cell`` (Shift+Enter in its editor); return the page's clock at the key press.

    Right after a kernel starts, Lab sometimes moves on without running the cell; the
    press is repeated until the prompt shows that the cell runs.
    """
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    for _ in range(10):
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            dialog.locator(".jp-mod-accept").first.click()
        cell.locator(".jp-InputArea-editor").click()
        started = page.evaluate("() => performance.now()")
        received[0] = 0
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if prompt.inner_text() != before:
                return started
            time.sleep(0.05)
    raise RuntimeError("the cell never started")


def run_cell(page, index: int, timeout_s: float) -> dict:
    """Run cell ``index``; return the page's timings and the bytes received meanwhile."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
    page.evaluate("() => document.querySelectorAll('.vaew-latent-scatter canvas')"
                  ".forEach(c => { c.dataset.old = '1'; })")
    started = execute(page, cell)
    try:
        drawn = page.wait_for_function(DRAWN, polling="raf",
                                       timeout=timeout_s * 1000).json_value()
    except Exception as err:
        shot = Path(tempfile.gettempdir()) / "map_browser_failed.png"
        page.screenshot(path=str(shot))
        raise RuntimeError(f"no drawn canvas: {page.evaluate(DIAGNOSE)}; see {shot}") from err
    ws_bytes = received[0]
    output = cell.locator(".jp-OutputArea-output").first
    deadline = time.monotonic() + timeout_s
    while "PYTHON" not in (output.inner_text() if output.count() else ""):
        if time.monotonic() > deadline:
            raise RuntimeError("the cell printed no timing")
        time.sleep(0.1)
    words = output.inner_text().split()
    return {"to_canvas_s": (drawn - started) / 1000, "ws_bytes": ws_bytes,
            "python_s": float(words[words.index("PYTHON") + 1]),
            "points_bytes": int(words[words.index("POINTS_BYTES") + 1])}


received = [0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="map-browser-"))
    (base / "root").mkdir()
    write_notebook(base / "root" / "bench.ipynb", args.sizes)
    proc, url, token = start_lab(base)
    results: dict[int, list[dict]] = {n: [] for n in args.sizes}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()

            def count(ws):
                ws.on("framereceived", lambda payload: received.__setitem__(
                    0, received[0] + len(payload)))

            page.on("websocket", count)
            page.goto(f"{url}/lab/tree/bench.ipynb?token={token}&reset")
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible"
                         ).first.wait_for(timeout=180_000)
            setup = page.locator(".jp-Notebook .jp-CodeCell").nth(0)
            execute(page, setup)
            prompt = setup.locator(".jp-InputPrompt")
            deadline = time.monotonic() + args.timeout
            while not any(ch.isdigit() for ch in prompt.inner_text()):
                if time.monotonic() > deadline:
                    raise RuntimeError("the setup cell did not finish")
                time.sleep(0.2)
            warm = run_cell(page, 1, args.timeout)
            print(f"warm-up, 1,000 points (loads the module): {warm}", flush=True)
            for repeat in range(args.repeats):
                for i, n in enumerate(args.sizes):
                    run = run_cell(page, 2 + i, args.timeout)
                    results[n].append(run)
                    print(f"repeat {repeat + 1}, {n:,} points: {run}", flush=True)
            shots = ROOT / "test-artifacts" / "benchmarks"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "map_browser_last.png"))
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)
    print("\n| points | cell to drawn canvas (median s) | Python side (s) | bytes received "
          "| bytes / point | points buffer / point |")
    print("|---|---|---|---|---|---|")
    for n, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"| {n:,} | {med['to_canvas_s']:.2f} | {med['python_s']:.2f} | "
              f"{med['ws_bytes'] / 1e6:.1f} MB | {med['ws_bytes'] / n:.1f} | "
              f"{med['points_bytes'] / n:.0f} |")


if __name__ == "__main__":
    main()
