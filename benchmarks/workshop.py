"""Workshop budget of the quickstart: kernel memory and time to the first ELBO point.

What a workshop participant on Binder does: open ``notebooks/01_quickstart.ipynb``, run
it (a fresh kernel, so TensorFlow starts), click **Train**, watch the ELBO plot, and open
the **Clusters** tab when training ends. This script does exactly that in a fresh, headless
ipykernel per repeat, at workshop size (``VAEWIDGET_SMALL`` unset) unless ``--small``:

* the notebook's own cells run unchanged; then ``panel.train_button.click()`` in the kernel;
* the first ELBO point is the first redraw of the panel's ELBO plot image after a training
  batch has completed (an observer on the ``Image.value`` trait, inside the kernel), and the
  first epoch point the first redraw that shows a finished epoch;
* peak memory is the kernel process's ``VmHWM`` (peak resident set size) read from outside
  the kernel, in ``/proc/<pid>/status``, after the run and after the Clusters tab;
* side by side, in the same run, a **bare** fresh kernel does the least possible work to
  the same first loss value: import vaewidget, load the digits, build the same VAE and call
  ``model.fit`` until its first batch ends. The ratio shows what the panel adds.

Targets (issue 6): peak RSS <= 1.5 GB (Binder gives 2 GB), first ELBO point <= 20 s after
a fresh kernel start, TensorFlow's start included. Run::

    .venv/bin/python benchmarks/workshop.py --repeats 3

Median of the repeats; kernels of the two kinds alternate. Prints a table and, with
``--json PATH``, writes every measurement.

``--notebooks`` instead runs **every notebook** in notebooks/ top to bottom at workshop size
(issue 17), each in a fresh kernel whose environment is a user's (no ``VAEWIDGET_SMALL``, no
``TF_CPP_MIN_LOG_LEVEL``, no ``PYTEST_CURRENT_TEST``); the quickstart also gets its Train
click and Clusters tab. Per notebook it reports the wall time (kernel start included), the
kernel's peak RSS, the peak of the kernel **plus its child processes** (sampled from outside,
``tests/test_notebooks.py``'s ``TreeMemory``), the stderr outputs, and every line a
notebook prints that starts with ``Claim checked:`` (each follows an ``assert`` on that
claim's figure)::

    .venv/bin/python benchmarks/workshop.py --notebooks --json test-artifacts/workshop_notebooks.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "01_quickstart.ipynb"
MARK = "@@WORKSHOP@@"

# Runs in the quickstart kernel after the notebook's cells. Times are wall-clock
# (time.time) so they compare with the launcher's clock on the same machine.
CLICK = """
import json as _json, threading as _threading, time as _time
from vaewidget import VAEPanel as _VAEPanel
_panel = next(v for v in list(globals().values()) if isinstance(v, _VAEPanel))
_marks = {}
_done = _threading.Event()

def _on_image(change):
    trainer = _panel.trainer
    if trainer is None:
        return
    now = _time.time()
    progress = trainer.progress
    if "first_point" not in _marks and ((progress.get("batch") or 0) > 0 or _panel.plot.n_epochs):
        _marks["first_point"] = now
    if "first_epoch_point" not in _marks and _panel.plot.n_epochs > 0:
        _marks["first_epoch_point"] = now
        _done.set()

_panel.plot.image.observe(_on_image, "value")
_marks["click"] = _time.time()
_panel.train_button.click()
_done.wait(600)
"""

FINISH = """
_ok = _panel.trainer.wait(timeout=1800)
_marks["trained"] = _time.time()
_marks["state"] = _panel.state
_marks["epochs"] = len(_panel.history.get("loss", []))
_marks["samples_per_s"] = _panel.trainer.progress.get("samples_per_s")
print("{mark}" + _json.dumps(_marks))
"""

CLUSTERS = """
_t0 = _time.time()
_panel.tab.selected_index = 1
print("{mark}" + _json.dumps({{"clusters_s": _time.time() - _t0,
                               "viewer": _panel.viewer is not None}}))
"""

# The bare kernel: the same data and model, plain Keras fit, stopped after one batch.
BARE = """
import json as _json, time as _time
import keras
from vaewidget.clustering import _defaults, recipe
from vaewidget.datasets import load_digits
x, y = load_digits(images=True)
# The model the panel resolves for these data (the default rule: three VAEs side by side).
params = _defaults.resolve({{}}, x)
model = recipe.build_model(x, params, 0)
recipe.compile_model(model, params)
_marks = {{}}

class _First(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        _marks["first_point"] = _time.time()
        self.model.stop_training = True

model.fit(model.prepare(x), epochs=1, batch_size=params["batch_size"], verbose=0,
          callbacks=[_First()])
print("{mark}" + _json.dumps(_marks))
"""


def vm_hwm(pid: int) -> int:
    """Peak resident set size of ``pid`` in bytes (Linux ``VmHWM``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def _env(small: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VAEWIDGET_SMALL", None)
    if small:
        env["VAEWIDGET_SMALL"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    return env


def _run(kc: Any, code: str, timeout: float = 1800) -> dict[str, Any]:
    """Execute ``code``; raise on error; return the dict printed after MARK, if any."""
    found: dict[str, Any] = {}
    errors: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and MARK in content.get("text", ""):
            for line in content["text"].splitlines():
                if line.startswith(MARK):
                    found.update(json.loads(line[len(MARK):]))
        elif kind == "error":
            errors.append("\n".join(content.get("traceback", [])))

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    if errors or reply["content"]["status"] != "ok":
        raise RuntimeError(f"kernel error:\n{''.join(errors) or reply['content']}")
    return found


def _start(small: bool) -> tuple[Any, Any, float]:
    from jupyter_client.manager import start_new_kernel

    started = time.time()
    km, kc = start_new_kernel(kernel_name="python3", env=_env(small), cwd=str(QUICKSTART.parent))
    return km, kc, started


def measure_quickstart(small: bool, clusters: bool = True) -> dict[str, float]:
    """One fresh kernel: run the quickstart, click Train, time it and read its peak RSS."""
    import nbformat

    nb = nbformat.read(QUICKSTART, as_version=4)
    km, kc, started = _start(small)
    try:
        pid = km.provisioner.pid
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.strip():
                _run(kc, cell.source)
        shown = time.time()
        _run(kc, CLICK)
        marks = _run(kc, FINISH.format(mark=MARK))
        if marks.get("state") != "finished":
            raise RuntimeError(f"training ended as {marks.get('state')!r}")
        result = {
            "kernel_to_panel_s": shown - started,
            "click_to_first_point_s": marks["first_point"] - marks["click"],
            "click_to_first_epoch_point_s": marks["first_epoch_point"] - marks["click"],
            "kernel_to_first_point_s": (shown - started) + marks["first_point"] - marks["click"],
            "training_s": marks["trained"] - marks["click"],
            "epochs": marks["epochs"],
            "samples_per_s": marks.get("samples_per_s") or float("nan"),
            "peak_rss_trained_mb": vm_hwm(pid) / 2**20,
        }
        if clusters:
            tab = _run(kc, CLUSTERS.format(mark=MARK))
            if not tab.get("viewer"):
                raise RuntimeError("the Clusters tab shows no viewer")
            result["clusters_tab_s"] = tab["clusters_s"]
            result["peak_rss_mb"] = vm_hwm(pid) / 2**20
        else:
            result["peak_rss_mb"] = result["peak_rss_trained_mb"]
        return result
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def measure_bare(small: bool) -> dict[str, float]:
    """One fresh kernel: the least work to the same first loss value (plain ``fit``)."""
    km, kc, started = _start(small)
    try:
        pid = km.provisioner.pid
        marks = _run(kc, BARE.format(mark=MARK))
        return {"kernel_to_first_point_s": marks["first_point"] - started,
                "peak_rss_mb": vm_hwm(pid) / 2**20}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


CLAIM = "Claim checked:"


def _notebook_tools() -> Any:
    """tests/test_notebooks.py as a module: its notebook runner and memory sampler."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebook_tests", ROOT / "tests" / "test_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure_notebooks(small: bool, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Run every notebook in a fresh kernel; its claims, time, memory and stderr."""
    tools = _notebook_tools()
    env = {"VAEWIDGET_SMALL": "1" if small else None, "TF_CPP_MIN_LOG_LEVEL": None,
           "KERAS_BACKEND": "tensorflow"}
    rows = []
    for path in tools.NOTEBOOKS:
        if only and not any(name in path.name for name in only):
            continue
        extra = [tools.CLICK_TRAIN] if path.name == tools.QUICKSTART else []
        try:
            nb, result = tools.run_notebook(path, extra, env, timeout=1800)
        except Exception as err:  # a failed claim: report it, run the other notebooks
            print(f"{path.name}: FAILED {str(err)[-2000:]}", file=sys.stderr, flush=True)
            rows.append({"notebook": path.name, "seconds": float("nan"), "peak_rss_mb": float("nan"),
                         "peak_rss_tree_mb": float("nan"), "peak_anon_tree_mb": float("nan"),
                         "children": 0, "claims": [],
                         "stderr": [], "errors": [type(err).__name__]})
            continue
        printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                          if o.get("output_type") == "stream" and o.get("name") == "stdout")
        errors = [o.get("ename") for c in nb.cells for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        rows.append({
            "notebook": path.name, "seconds": result["seconds"],
            "peak_rss_mb": result["peak_rss"] / 2**20,
            "peak_rss_tree_mb": result["peak_rss_tree"] / 2**20,
            "peak_anon_tree_mb": result["peak_anon_tree"] / 2**20,
            "children": int(result["children"]),
            "claims": [line[len(CLAIM):].strip() for line in printed.splitlines()
                       if line.startswith(CLAIM)],
            "stderr": [text for _, text in tools.stderr_outputs(nb)],
            "errors": errors,
        })
        row = rows[-1]
        print(f"{path.name}: {row['seconds']:.0f} s, kernel {row['peak_rss_mb']:.0f} MB, kernel + "
              f"{row['children']} children {row['peak_rss_tree_mb']:.0f} MB (anonymous "
              f"{row['peak_anon_tree_mb']:.0f} MB), {len(row['claims'])} claims, "
              f"{len(row['stderr'])} stderr, errors {errors}", file=sys.stderr, flush=True)
    return rows


def print_notebook_table(rows: list[dict[str, Any]], size: str) -> None:
    print(f"\nEvery notebook at {size}, one fresh kernel each\n")
    print("| notebook | time | peak RSS kernel | peak RSS kernel + children | of it anonymous "
          "| stderr | errors |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['notebook']} | {r['seconds']:.0f} s | {r['peak_rss_mb']:.0f} MB | "
              f"{r['peak_rss_tree_mb']:.0f} MB ({r['children']} children) | "
              f"{r['peak_anon_tree_mb']:.0f} MB | {len(r['stderr'])} | "
              f"{', '.join(r['errors']) or 'none'} |")
    print("\n| notebook | claim checked (with its figure) |")
    print("|---|---|")
    for r in rows:
        for claim in r["claims"] or ["(no numeric claim)"]:
            print(f"| {r['notebook']} | {claim.replace('|', '/')} |")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh kernels of each kind")
    parser.add_argument("--small", action="store_true", help="VAEWIDGET_SMALL=1 (CI sizes)")
    parser.add_argument("--no-clusters", action="store_true", help="skip the Clusters tab")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--notebooks", action="store_true",
                        help="run every notebook once instead (claims, time, memory, stderr)")
    parser.add_argument("--only", nargs="*", help="with --notebooks: names containing these")
    args = parser.parse_args(argv)
    if args.notebooks:
        size = "small (VAEWIDGET_SMALL=1)" if args.small else "workshop size (VAEWIDGET_SMALL unset)"
        rows = measure_notebooks(args.small, args.only)
        print_notebook_table(rows, size)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"size": size, "notebooks": rows}, indent=1))
        return {"size": size, "notebooks": rows}

    runs: dict[str, list[dict[str, float]]] = {"quickstart": [], "bare": []}
    for i in range(args.repeats):
        runs["bare"].append(measure_bare(args.small))
        runs["quickstart"].append(measure_quickstart(args.small, clusters=not args.no_clusters))
        print(f"repeat {i + 1}/{args.repeats}: quickstart {runs['quickstart'][-1]}", file=sys.stderr)
        print(f"repeat {i + 1}/{args.repeats}: bare {runs['bare'][-1]}", file=sys.stderr)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    q = {key: median("quickstart", key) for key in runs["quickstart"][0]}
    bare_first = median("bare", "kernel_to_first_point_s")
    size = "small (VAEWIDGET_SMALL=1)" if args.small else "workshop (VAEWIDGET_SMALL unset)"
    rows = [
        ("kernel start -> panel shown (TF import, model build)", f"{q['kernel_to_panel_s']:.1f} s", ""),
        ("click Train -> first ELBO point drawn", f"{q['click_to_first_point_s']:.1f} s", ""),
        ("click Train -> first epoch point drawn", f"{q['click_to_first_epoch_point_s']:.1f} s", ""),
        ("fresh kernel -> first ELBO point (TF start included)",
         f"{q['kernel_to_first_point_s']:.1f} s", "target <= 20 s"),
        ("  bare kernel -> first loss value (plain model.fit)", f"{bare_first:.1f} s",
         f"ratio quickstart/bare {q['kernel_to_first_point_s'] / bare_first:.2f}"),
        (f"training, {q['epochs']:.0f} epochs", f"{q['training_s']:.1f} s",
         f"{q['samples_per_s']:,.0f} samples/s"),
    ]
    if "clusters_tab_s" in q:
        rows.append(("Clusters tab (encode, cluster, draw)", f"{q['clusters_tab_s']:.1f} s", ""))
    rows += [
        ("kernel peak RSS after training", f"{q['peak_rss_trained_mb']:.0f} MB", ""),
        ("kernel peak RSS, whole session", f"{q['peak_rss_mb']:.0f} MB", "target <= 1536 MB"),
        ("  bare kernel peak RSS", f"{median('bare', 'peak_rss_mb'):.0f} MB", ""),
    ]
    print(f"\nQuickstart at {size}; median of {args.repeats} fresh kernels each\n")
    print(f"| {'measure':<55} | {'median':>9} | note |")
    print(f"|{'-' * 57}|{'-' * 11}|------|")
    for name, value, note in rows:
        print(f"| {name:<55} | {value:>9} | {note} |")
    summary = {"size": size, "repeats": args.repeats, "median": q,
               "bare_kernel_to_first_point_s": bare_first, "runs": runs}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
