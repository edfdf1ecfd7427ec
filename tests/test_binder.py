"""The Binder environment (binder/) builds, is consistent, runs the quickstart and is accepted.

Fast checks read the files: every requirement pinned with ``==``, the package itself
(``.``) included, Python pinned in runtime.txt, and nothing that would override them.

The slow check does what mybinder.org does, without Docker:

1. a fresh venv (no system site-packages, so only the pins are tested) gets
   ``pip install -r binder/requirements.txt`` from the repository root, where ``.`` is
   this project; ``--no-compile`` halves the time and pip's cache serves a second run;
2. ``pip check`` passes and every pin is what got installed;
3. Voila's server extension is enabled (``?urlpath=voila/render/...`` needs it);
4. the quickstart notebook runs top to bottom in that venv's own kernel
   (``VAEWIDGET_SMALL=1``), shows the panel and trains when Train is clicked;
5. ``repo2docker --no-build --debug`` (installed into its own small venv) accepts the
   repository as Binder would build it, with Python 3.11 and binder/requirements.txt.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
REQUIREMENTS = BINDER / "requirements.txt"
QUICKSTART = ROOT / "notebooks" / "01_quickstart.ipynb"
#: Files that would make repo2docker ignore requirements.txt/runtime.txt.
OVERRIDES = ("environment.yml", "Dockerfile", "Pipfile", "Project.toml", "install.R")
NEEDED = {"tensorflow-cpu", "keras", "hdbscan", "umap-learn", "ipywidgets", "matplotlib",
          "pandas", "scikit-learn", "voila", "numpy", "ipykernel", "jupyterlab",
          "jupyter-scatter", "anywidget"}


def _requirements() -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    return [line for line in lines if line]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    return {_canonical(r.split("==")[0]): r.split("==")[1] for r in _requirements() if r != "."}


def test_every_requirement_is_pinned_and_the_package_is_included():
    reqs = _requirements()
    assert "." in reqs, "binder/requirements.txt must install the package itself ('.')"
    unpinned = [r for r in reqs if r != "." and not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[^=<>~!*]+", r)]
    assert not unpinned, f"pin these with ==: {unpinned}"
    assert NEEDED <= set(_pins()), f"missing from the pins: {NEEDED - set(_pins())}"


def test_runtime_and_no_overrides():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    present = [name for name in OVERRIDES if (BINDER / name).exists()]
    assert not present, f"{present} would override requirements.txt/runtime.txt"
    post_build = BINDER / "postBuild"
    if post_build.exists():
        assert "set -e" in post_build.read_text(), "postBuild must fail on errors (set -e)"
        assert os.access(post_build, os.X_OK), "postBuild must be executable"


# ------------------------------------------------------------------------------ the build
def _run(args: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment of a shell that activated ``venv`` (and nothing else)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.update(VAEWIDGET_SMALL="1", TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    return env


def _base_python() -> str:
    """A Python 3.11 interpreter for the venv, as runtime.txt asks."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    for candidate in ("python3.11", "/usr/bin/python3.11", "/usr/local/bin/python3.11"):
        found = subprocess.run(["sh", "-c", f"command -v {candidate}"], capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.strip()
    pytest.fail("Binder pins python-3.11: the test needs a Python 3.11 interpreter")


# Runs in the binder venv: the quickstart in that venv's kernel, then a Train click.
RUN_QUICKSTART = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.insert(0, nbformat.v4.new_code_cell(
    "import sys\nassert sys.prefix == %r, sys.prefix" % sys.prefix))
nb.cells.append(nbformat.v4.new_code_cell(
    "from vaewidget import VAEPanel\n"
    "_p = [v for v in list(globals().values()) if isinstance(v, VAEPanel)][0]\n"
    "_p.train_button.click()\n"
    "assert _p.trainer.wait(timeout=300) and _p.state == 'finished', _p.state\n"
    "print('BINDER-TRAINED', len(_p.history['loss']))"))
started = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True).execute()
views = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
         for c in nb.cells for o in c.get("outputs", [])
         if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
print(json.dumps({"seconds": time.perf_counter() - started, "views": len(views),
                  "views_saved": all(v in state for v in views),
                  "trained": "BINDER-TRAINED" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)}))
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_binder_environment_builds_checks_and_runs_the_quickstart(tmp_path):
    timings = {}
    venv = tmp_path / "binder-venv"
    env = _clean_env(venv)
    python, pip = str(venv / "bin" / "python"), [str(venv / "bin" / "python"), "-m", "pip"]

    started = time.perf_counter()
    _run([_base_python(), "-m", "venv", str(venv)], 300)
    _run([*pip, "install", "--quiet", "--no-compile", "-r", str(REQUIREMENTS)], 1500,
         cwd=ROOT, env=env)  # from the root, as repo2docker does: "." is this project
    timings["install"] = time.perf_counter() - started

    _run([*pip, "check"], 120, env=env)
    listed = json.loads(_run([*pip, "list", "--format=json"], 120, env=env).stdout)
    installed = {_canonical(p["name"]): p["version"] for p in listed}
    wrong = {name: (version, installed.get(name)) for name, version in _pins().items()
             if installed.get(name) != version}
    assert not wrong, f"pinned vs installed: {wrong}"
    assert "vaewidget" in installed

    extensions = _run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], 120, env=env)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", extensions.stdout + extensions.stderr)  # colours
    assert re.search(r"voila\S*\s+enabled", listing), listing

    started = time.perf_counter()
    script = tmp_path / "run_quickstart.py"
    script.write_text(RUN_QUICKSTART)
    out = _run([python, str(script), str(QUICKSTART)], 900, cwd=QUICKSTART.parent, env=env)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    timings["quickstart"] = time.perf_counter() - started
    assert report["views"] >= 1 and report["views_saved"], report
    assert report["trained"], report

    started = time.perf_counter()
    r2d = tmp_path / "r2d-venv"
    _run([sys.executable, "-m", "venv", str(r2d)], 300)
    _run([str(r2d / "bin" / "python"), "-m", "pip", "install", "--quiet", "jupyter-repo2docker"], 600)
    built = _run([str(r2d / "bin" / "repo2docker"), "--no-build", "--debug",
                  "--user-id", "1000", "--user-name", "jovyan", str(ROOT)], 300, cwd=tmp_path)
    dockerfile = built.stdout + built.stderr
    timings["repo2docker"] = time.perf_counter() - started
    assert "python=3.11" in dockerfile or "python 3.11" in dockerfile.lower(), dockerfile[-3000:]
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "--chown=1000:1000 src/" in dockerfile, "the repository must belong to the user"
    print("binder timings (s):", {k: round(v, 1) for k, v in timings.items()})
