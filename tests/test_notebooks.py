"""Every notebook in notebooks/ runs top to bottom in a real kernel, with the small setting.

The fast tests check how the notebooks are stored (no outputs, the ``VAEWIDGET_SMALL``
switch). The slow ones execute each notebook with nbclient in a real ipykernel with
``VAEWIDGET_SMALL=1``, check that no cell failed and that the widgets a notebook displays
are in its outputs (a widget view whose model is in the saved widget state), that no cell
wrote to stderr, and measure from outside the kernel the peak memory of the kernel **plus
its child processes** (worker processes count against Binder's limit too), asserting it
stays under Binder's budget. For the quickstart they also click the panel's Train button in
the live kernel, wait for the run to finish and open the Clusters tab, so the measured peak
covers training and clustering. Every claim a notebook's text makes is checked by an
``assert`` in the notebook itself, so a false claim fails its cell here.
Executed copies and timings go to test-artifacts/notebooks/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
QUICKSTART = "01_quickstart.ipynb"
#: Binder restarts a kernel above 2 GB. What decides that is the memory the kernel cannot give
#: back: its anonymous pages (RssAnon + RssShmem). Pages mapped from files (TensorFlow's
#: libraries, 0.44-0.64 GB of RssFile here depending on how fresh the page cache is; a memory-
#: mapped data file) are clean and reclaimable. Small-size runs measured 0.37-0.89 GB of anonymous
#: memory (06 the largest: 0.80-0.89 GB, with a total VmHWM of 1.34-1.54 GB, the difference
#: being file pages), so the total alone was a noisy budget: CI failed 06 at 1.50 GB. The
#: budget: at most 1.1 GB the kernel cannot give back, which with the libraries' pages and the
#: server stays inside Binder's 2 GB, and the whole VmHWM, file pages included, below 2 GB.
#: benchmarks/workshop.py keeps issue 6's 1.5 GB VmHWM target at workshop size.
ANON_LIMIT = 1.1 * 1024**3
PEAK_RSS_LIMIT = 2.0 * 1024**3
#: Notebook 07 (Dask, zarr, pyarrow, TensorFlow in one kernel) peaked at 1.14-1.30 GB in small
#: mode and once at 2.0 GB in a full-suite run. Its anonymous memory stays near 0.64 GB; what
#: moves is file pages mapped from the page cache (RssFile 0.48 GB with an older venv, 0.64 GB
#: with one installed minutes before, plus the memory-mapped data file's pages). Those are
#: shared and reclaimable, so its total gets more room; its anonymous memory has the common
#: budget, and workshop.py measured 1.30 GB at workshop size.
PEAK_RSS_LIMITS = {"07_larger_than_memory.ipynb": 2.5 * 1024**3}
EXPECTED = [
    "01_quickstart.ipynb",
    "02_autoencoder_vs_vae.ipynb",
    "03_cluster_your_own_data.ipynb",
    "04_generate_denoise_compress.ipynb",
    "05_scaling_up.ipynb",
    "06_scripting_without_widgets.ipynb",
    "07_larger_than_memory.ipynb",
    "08_losses_and_regularization.ipynb",
]
#: Notebooks that must display widgets, with button labels the saved state must contain.
WIDGET_BUTTONS = {
    QUICKSTART: {"Train", "Pause", "Stop"},
    "03_cluster_your_own_data.ipynb": {"Suggest parameters", "Apply best"},
}

# Run in the quickstart's kernel after its own cells: what a workshop participant does next.
CLICK_TRAIN = """
from vaewidget import VAEPanel
_panels = list({id(v): v for v in list(globals().values()) if isinstance(v, VAEPanel)}.values())
assert len(_panels) == 1, f"expected one VAEPanel in the quickstart, found {len(_panels)}"
_panel = _panels[0]
_panel.train_button.click()
assert _panel.trainer is not None, "Train click started no run"
assert _panel.trainer.wait(timeout=300), f"training did not end: {_panel.state}"
assert _panel.state == "finished", (_panel.state, _panel.trainer.error)
_panel.tab.selected_index = 1  # the Clusters tab: encode and cluster the latent
assert _panel.viewer is not None, "the Clusters tab shows no viewer after training"
print("QUICKSTART-TRAINED", _panel.state, len(_panel.history["loss"]), "epochs")
"""


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_the_workshop_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} is stored with outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name} is stored with widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_reads_the_small_switch(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert 'os.environ.get("VAEWIDGET_SMALL")' in source


# ----------------------------------------------------------------------------- running
def _memory(pid: int) -> tuple[int, int]:
    """``(VmHWM, RssAnon + RssShmem)`` of a process in bytes: its peak resident set, and the
    resident memory it cannot give back (what is not mapped from a file)."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key = line.split(":", 1)[0]
            if key in ("VmHWM", "RssAnon", "RssShmem"):
                found[key] = int(line.split()[1]) * 1024
    if "VmHWM" not in found:
        raise RuntimeError(f"no VmHWM for pid {pid}")
    return found["VmHWM"], found.get("RssAnon", 0) + found.get("RssShmem", 0)


def _children(pid: int) -> list[int]:
    """Process ids of every descendant of ``pid`` (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                parents.setdefault(ppid, []).append(int(entry))
        found, todo = [], [pid]
        while todo:
            kids = parents.get(todo.pop(), [])
            found += kids
            todo += kids
        return found
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


class TreeMemory:
    """Peak memory of a process plus its children, sampled from outside by a thread.

    Every ``interval`` seconds it reads the ``VmHWM`` (peak resident set size) and the
    anonymous resident memory (``RssAnon + RssShmem``) of the process and of each living
    descendant, keeping each one's largest. ``peak`` is the process's peak plus the sum of
    its children's peaks: an upper bound of what the tree held at once (children that start
    and end between two samples are missed; the worker pools that matter, such as
    joblib's, live on). ``anon`` is the same sum for anonymous memory; the kernel keeps no
    high-water mark for it, so a rise and fall between two samples is missed. ``children``
    is how many descendants were seen.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.hwm: dict[int, int] = {}
        self.anon_hwm: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for pid in [self.pid, *_children(self.pid)]:
            try:
                hwm, anon = _memory(pid)
            except (OSError, RuntimeError):
                continue  # ended between listing and reading
            self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)
            self.anon_hwm[pid] = max(self.anon_hwm.get(pid, 0), anon)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> TreeMemory:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def kernel(self) -> int:
        return self.hwm.get(self.pid, 0)

    @property
    def peak(self) -> int:
        return sum(self.hwm.values())

    @property
    def anon(self) -> int:
        return sum(self.anon_hwm.values())

    @property
    def children(self) -> int:
        return len(self.hwm) - (self.pid in self.hwm)


def kernel_env(env: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment for a test kernel: this process's, plus ``env`` (None removes a name).

    ``PYTEST_CURRENT_TEST`` is always removed: a kernel that inherits it stops capturing
    what C code writes to file descriptors 1 and 2 (ipykernel's iostream.py), so a test
    would never see, for example, TensorFlow's start-up lines the way a user does.
    """
    out = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    for key, value in (env or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def run_notebook(path: Path | nbformat.NotebookNode, extra_cells: list[str] = (),
                 env: dict[str, str | None] | None = None,
                 timeout: int = 600) -> tuple[nbformat.NotebookNode, dict[str, float]]:
    """Execute ``path`` (plus ``extra_cells``) in a fresh kernel; return it and measurements.

    ``path`` may also be a notebook object (it then runs in the repository's root). The
    kernel's environment is :func:`kernel_env` of ``env``. Measurements: ``seconds`` (wall
    time, kernel start included), ``peak_rss`` (the kernel's VmHWM in bytes, read from
    outside), ``peak_rss_tree`` (the kernel plus its child processes, :class:`TreeMemory`),
    ``peak_anon_tree`` (their anonymous memory, sampled) and ``children`` (how many child
    processes were seen).
    """
    from nbclient import NotebookClient

    if isinstance(path, Path):
        nb, folder = nbformat.read(path, as_version=4), path.parent
    else:
        nb, folder = path, ROOT
    for source in extra_cells:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    tree: dict[str, TreeMemory] = {}

    def measure(cell, cell_index, execute_reply=None) -> None:
        if "memory" not in tree:
            tree["memory"] = TreeMemory(client.km.provisioner.pid).start()
        tree["memory"].sample()

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(folder)}}, on_cell_executed=measure,
        on_cell_start=measure,
    )
    started = time.perf_counter()
    try:
        client.execute(env=kernel_env(env))
    finally:
        if "memory" in tree:
            tree["memory"].stop()
    memory = tree["memory"]
    return nb, {"seconds": time.perf_counter() - started, "peak_rss": float(memory.kernel),
                "peak_rss_tree": float(memory.peak), "peak_anon_tree": float(memory.anon),
                "children": float(memory.children)}


def test_tree_memory_counts_child_processes(monkeypatch):
    """The memory a child process holds counts in the peak, with /proc and with psutil."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; block = bytearray(120 * 2**20); block[::4096] = b'x' * len(block[::4096]); "
        "print('ready', flush=True); time.sleep(30)")], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        memory = TreeMemory(os.getpid())
        memory.sample()
        assert memory.children >= 1
        assert memory.peak >= memory.kernel + 120 * 2**20
        assert memory.anon >= memory.anon_hwm[os.getpid()] + 120 * 2**20  # a bytearray is anonymous
        assert child.pid in _children(os.getpid())
        monkeypatch.setitem(sys.modules, "psutil", None)  # the /proc fallback
        assert child.pid in _children(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_tree_memory_tells_file_pages_from_anonymous_memory(tmp_path):
    """Pages mapped from a file count in the peak RSS but not in the anonymous memory."""
    import subprocess
    import sys

    data = tmp_path / "block.bin"
    data.write_bytes(b"x" * (120 * 2**20))
    child = subprocess.Popen([sys.executable, "-c", (
        "import mmap, sys, time; f = open(sys.argv[1], 'rb'); "
        "m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ); "
        "total = sum(m[i] for i in range(0, len(m), 4096)); "
        "print('ready', flush=True); time.sleep(30)"), str(data)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        memory = TreeMemory(child.pid)
        memory.sample()
        assert memory.peak >= 120 * 2**20
        assert memory.anon < memory.peak - 100 * 2**20
    finally:
        child.kill()
        child.wait()


def widget_views(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, model id) of every widget view among the outputs."""
    views = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view:
                views.append((i, view["model_id"]))
    return views


def _record(name: str, result: dict[str, float]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "timings.json"
    data = json.loads(log.read_text()) if log.exists() else {}
    data[name] = {"seconds": round(result["seconds"], 1),
                  "peak_rss_mb": round(result["peak_rss"] / 2**20),
                  "peak_rss_tree_mb": round(result["peak_rss_tree"] / 2**20),
                  "peak_anon_tree_mb": round(result["peak_anon_tree"] / 2**20),
                  "children": int(result["children"])}
    log.write_text(json.dumps(data, indent=1, sort_keys=True))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path):
    extra = [CLICK_TRAIN] if path.name == QUICKSTART else []
    env = {"VAEWIDGET_SMALL": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    nb, result = run_notebook(path, extra, env)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, ARTIFACTS / path.name)
    _record(path.name, result)
    print(f"{path.name}: {result['seconds']:.1f} s, kernel peak RSS {result['peak_rss'] / 2**20:.0f} MB, "
          f"kernel + {result['children']:.0f} children {result['peak_rss_tree'] / 2**20:.0f} MB, "
          f"of it anonymous {result['peak_anon_tree'] / 2**20:.0f} MB")

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    assert stderr_outputs(nb) == [], stderr_outputs(nb)
    limit = PEAK_RSS_LIMITS.get(path.name, PEAK_RSS_LIMIT)
    assert 0 < result["peak_rss"] <= result["peak_rss_tree"] <= limit, (
        f"{path.name}: kernel + children peak RSS {result['peak_rss_tree'] / 2**30:.2f} GB "
        f"> {limit / 2**30:.1f} GB"
    )
    assert 0 < result["peak_anon_tree"] <= min(ANON_LIMIT, result["peak_rss_tree"]), (
        f"{path.name}: kernel + children peak anonymous memory "
        f"{result['peak_anon_tree'] / 2**30:.2f} GB > {ANON_LIMIT / 2**30:.1f} GB"
    )
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    views = widget_views(nb)
    for index, model_id in views:
        assert model_id in state, f"cell {index} shows widget {model_id} whose state was not saved"
    if path.name in WIDGET_BUTTONS:
        assert views, f"{path.name} displays no widget"
        buttons = {m["state"].get("description") for m in state.values()
                   if m.get("model_name") == "ButtonModel"}
        assert WIDGET_BUTTONS[path.name] <= buttons, buttons
    if path.name == QUICKSTART:
        printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        assert "QUICKSTART-TRAINED finished" in printed, printed


# ----------------------------------------------------------------------------- quiet start
QUIET_CELLS = [
    "import vaewidget",
    """import numpy as np
from vaewidget import VAE, Trainer
x = np.random.default_rng(0).random((300, 8)).astype("float32")
trainer = Trainer(VAE.from_data(x, latent_dim=2, hidden_units=(16,), seed=0), x, epochs=3)
trainer.start()
assert trainer.wait(timeout=300), trainer.state
print(trainer.state)""",
    # Proof that this kernel shows what C code writes to descriptor 2, as a user's does.
    'import os; os.write(2, b"C-LEVEL-STDERR-SEEN\\n")',
]


def stderr_outputs(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, text) of every stderr stream output."""
    return [(i, out.get("text", "")) for i, cell in enumerate(nb.cells)
            for out in cell.get("outputs", [])
            if out.output_type == "stream" and out.get("name") == "stderr"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_notebook_start_shows_no_stderr():
    """Importing vaewidget and training in a kernel writes nothing to stderr.

    No ``TF_CPP_MIN_LOG_LEVEL`` in the kernel (a user's JupyterLab has none), and no
    ``PYTEST_CURRENT_TEST`` (so the kernel captures C-level output, as a user's does; the
    last cell proves it).
    """
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in QUIET_CELLS]
    nb, _ = run_notebook(nb, env={"TF_CPP_MIN_LOG_LEVEL": None, "VAEWIDGET_SMALL": "1"})
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "finished" in printed, nb.cells[1].outputs
    assert stderr_outputs(nb) == [(2, "C-LEVEL-STDERR-SEEN\n")], stderr_outputs(nb)
