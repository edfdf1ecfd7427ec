"""A default fit in a fresh process: what the first ``VAEClusterer().fit`` of a kernel costs.

``benchmarks/quality.py`` compiles UMAP's numba code before its timed fits, so its
seconds leave out what a user's first fit in a new kernel pays. Here each fit runs in a
new Python process, and two ways of finding UMAP's neighbours alternate, side by side:

* ``exact``: the library as it is: up to 20,000 distinct rows UMAP is handed its
  neighbours (:func:`vaewidget.clustering.hdbscan_tools.exact_neighbours`): below 4,096
  rows the ones umap-learn would find itself, from a compiled loop; from 4,096 rows exact
  ones, where umap-learn would compile and call pynndescent;
* ``umap-learn``: the same fit with that switched off (``EXACT_NEIGHBOURS_ROWS = 0``),
  umap-learn finding neighbours on its own.

Run from the repository root::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/fresh_fit.py --dataset mnist5k --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODES = ("exact", "umap-learn")

CHILD = """
import json, sys, time
started = time.perf_counter()
sys.path[:0] = [{here!r}, {root!r}]
import suite
from sklearn.metrics import adjusted_rand_score
import vaewidget.clustering.hdbscan_tools as tools
from vaewidget import VAEClusterer
from vaewidget.clustering import _defaults, recipe
from vaewidget.clustering.pipeline import ClusterPipeline
if {mode!r} == "umap-learn":
    tools.EXACT_NEIGHBOURS_ROWS = 0
x, y, _ = suite.load({dataset!r})
est = VAEClusterer(random_state={seed})
t0 = time.perf_counter()
params = _defaults.resolve(est.get_params(), x)
model = recipe.build_model(x, params, {seed})
recipe.train_model(model, x, params, verbose=0)
t1 = time.perf_counter()
result = ClusterPipeline.from_params(params, max_fit=est.max_fit, random_state={seed}).run(model, x)
t2 = time.perf_counter()
print("RESULT" + json.dumps(dict(import_s=t0 - started, train_s=t1 - t0, cluster_s=t2 - t1,
                                 fit_s=t2 - t0, ari=adjusted_rand_score(y, result.labels))))
"""


def one_fit(dataset: str, mode: str, seed: int) -> dict[str, float]:
    """Run one default fit in a new interpreter; its phases' seconds and its ARI."""
    code = CHILD.format(here=HERE, root=ROOT, mode=mode, dataset=dataset, seed=seed)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT"):])
    raise RuntimeError(f"the {mode} fit failed:\n{done.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k", help="a set of benchmarks/suite.py")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for repeat in range(args.repeats):
        order = MODES if repeat % 2 == 0 else MODES[::-1]  # alternate who goes first
        for mode in order:
            started = time.time()
            runs[mode].append(one_fit(args.dataset, mode, args.seed))
            row = runs[mode][-1]
            print(f"repeat {repeat} {mode:12s} train {row['train_s']:5.1f} s  cluster "
                  f"{row['cluster_s']:5.1f} s  fit {row['fit_s']:5.1f} s  ARI {row['ari']:.3f}"
                  f"  (load {os.getloadavg()[0]:.1f}, {time.time() - started:.0f} s in all)",
                  flush=True)
    medians = {mode: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
               for mode, rows in runs.items()}
    ratios = [e["fit_s"] / p["fit_s"] for e, p in zip(runs["exact"], runs["umap-learn"])]
    print(f"\n{args.dataset}, seed {args.seed}, {args.repeats} fresh processes per mode (medians)")
    print("| neighbours | train s | cluster s | fit s | ARI |\n|---|---|---|---|---|")
    for mode, m in medians.items():
        print(f"| {mode} | {m['train_s']:.1f} | {m['cluster_s']:.1f} | {m['fit_s']:.1f} | "
              f"{m['ari']:.3f} |")
    print(f"median paired ratio of fit s, exact / umap-learn: {statistics.median(ratios):.2f}")
    return medians


if __name__ == "__main__":
    main()
