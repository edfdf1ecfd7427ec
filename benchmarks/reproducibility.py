"""Same seed, same labels? The default ``VAEClusterer`` fitted twice in two processes.

Each suite set is fitted with ``VAEClusterer(random_state=SEED)`` in two worker processes
that run side by side (so each is loaded by the other), one in the suite's order and one
in reverse order, the second after a different heap allocation, so the two fits of a set
start from different process states and memory layouts. Each worker prints, per set, a
hash of the latent codes, of the 2-D map HDBSCAN clustered and of the labels. The table
says per set whether the two processes agree on each.

Usage (repository root)::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/reproducibility.py            # whole suite
    PYTHONPATH=$PWD .venv/bin/python benchmarks/reproducibility.py --datasets iris letter
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _hash(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()[:12]


def worker(names: list[str], seed: int, pad: int) -> None:
    """Fit each set in turn; print one JSON line of hashes per set."""
    warnings.simplefilter("ignore")
    sys.path.insert(0, HERE)
    import suite

    from vaewidget import VAEClusterer

    padding = np.ones(pad, np.uint8)  # shifts where later arrays land in memory
    for name in names:
        x, _, _ = suite.load(name)
        start = time.perf_counter()
        est = VAEClusterer(random_state=seed).fit(x)
        print(json.dumps({"dataset": name, "codes": _hash(est.embedding_),
                          "map": _hash(est.result_.space), "labels": _hash(est.labels_),
                          "n_clusters": int(est.n_clusters_), "pad": int(padding.size),
                          "seconds": round(time.perf_counter() - start, 1)}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--pad", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args.seed, args.pad)
        return
    sys.path.insert(0, HERE)
    import suite

    names = args.datasets or [s.name for s in suite.SPECS if suite.missing_package(s.name) is None]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    runs = []
    for order, pad in ((names, 1), (names[::-1], 77_777)):
        cmd = [sys.executable, __file__, "--seed", str(args.seed), "--pad", str(pad), "--worker", *order]
        runs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env))
    results = []
    for proc in runs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"a worker failed with exit code {proc.returncode}")
        results.append({r["dataset"]: r for r in map(json.loads, out.splitlines())})
    print(f"VAEClusterer(random_state={args.seed}), two processes side by side\n")
    print("| dataset | clusters | same codes | same map | same labels |")
    print("|---|---|---|---|---|")
    same = 0
    for name in names:
        a, b = results[0][name], results[1][name]
        flags = [a[k] == b[k] for k in ("codes", "map", "labels")]
        same += flags[2]
        clusters = f"{a['n_clusters']}" + ("" if a["n_clusters"] == b["n_clusters"] else f" / {b['n_clusters']}")
        print(f"| {name} | {clusters} | " + " | ".join("yes" if f else "**no**" for f in flags) + " |")
    print(f"\nSame labels on {same} of {len(names)} sets.")


if __name__ == "__main__":
    main()
