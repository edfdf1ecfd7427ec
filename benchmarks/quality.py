"""Clustering quality on the public suite: ``VAEClusterer()`` against two anchors, side by side.

Pipelines (labels only score the results; the true k is given to k-means alone):

* ``umap+hdbscan`` (anchor): StandardScaler -> UMAP(n_neighbors=30, min_dist=0,
  n_components=2, random_state=seed) -> HDBSCAN(min_samples=10,
  min_cluster_size=max(5, round(n / 100))).
* ``kmeans`` (anchor): StandardScaler -> KMeans(true k, n_init=10, random_state=seed).
* ``vaeclusterer``: ``VAEClusterer(random_state=seed).fit(X)``, the library's defaults
  as they are when the script runs.
* a variant: ``--params '{"latent_dim": 16}' --tag NAME`` runs
  ``VAEClusterer(random_state=seed, **params)``; ``--callable module:function`` (or
  ``path/to/file.py:function``) runs ``function(X, seed) -> labels``.

Every (dataset, pipeline, parameters, code, seed) result is appended as one JSON line to
the cache (``benchmarks/results/quality.jsonl``, git-ignored) and is not computed again
unless ``--fresh``. Library-backed pipelines are keyed by a hash of the ``vaewidget``
sources, so a change to the library re-runs them; a callable also by its file's hash.

Usage::

    python benchmarks/quality.py                             # the suite, 3 pipelines, 3 seeds
    python benchmarks/quality.py --quick --seeds 1           # smoke test: big sets subsampled
    python benchmarks/quality.py --params '{"latent_dim": 16}' --tag latent16
    python benchmarks/quality.py --datasets digits --seeds 9  # the 9-seed digits target

Prints (and writes to ``--out``) a markdown table of mean +- std over seeds, and the
targets of issue 13 checked for the default (or ``--target``) pipeline.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import quality_report as report  # noqa: E402
import suite  # noqa: E402

RESULTS = os.path.join(HERE, "results")
ANCHORS = ("umap+hdbscan", "kmeans")
DEFAULT = "vaeclusterer"
#: ``--quick`` keeps at most this many rows of a dataset (a fixed random subset).
QUICK_ROWS = 2000
#: Bump when an anchor's code changes, so cached anchor results are not reused.
ANCHOR_VERSION = "1"


def umap_hdbscan(x: np.ndarray, seed: int) -> np.ndarray:
    import hdbscan
    import umap
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(x)
    emb = umap.UMAP(n_neighbors=30, min_dist=0.0, n_components=2,
                    random_state=seed).fit_transform(z)
    mcs = max(5, int(round(len(x) / 100)))
    return hdbscan.HDBSCAN(min_samples=10, min_cluster_size=mcs).fit(emb).labels_


def kmeans(x: np.ndarray, seed: int, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(x)
    return KMeans(k, n_init=10, random_state=seed).fit_predict(z)


def library_hash() -> str:
    """A hash of the imported ``vaewidget``'s sources: its results change when they do."""
    spec = importlib.util.find_spec("vaewidget")
    root = list(spec.submodule_search_locations)[0]
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()[:12]


def _file_hash(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:12]


def load_callable(spec: str) -> tuple[Callable, str]:
    """``module:function`` or ``path/to/file.py:function`` -> (function, its file's hash)."""
    target, sep, func = spec.rpartition(":")
    if not sep or not target or not func:
        raise ValueError(f"Expected --callable module:function or file.py:function. "
                         f"Received: {spec!r}")
    if target.endswith(".py"):
        mod_spec = importlib.util.spec_from_file_location(
            os.path.splitext(os.path.basename(target))[0], target)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(target)
    return getattr(module, func), _file_hash(module.__file__)


@dataclass
class Pipeline:
    """One contender: its tag in the tables, what it runs and what keys its cached results."""

    tag: str
    kind: str  # "anchor", "vaeclusterer" or "callable"
    params: dict = field(default_factory=dict)
    code: str = ""
    run: Callable | None = None

    def __call__(self, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
        if self.tag == "umap+hdbscan":
            return umap_hdbscan(x, seed), {}
        if self.tag == "kmeans":
            return kmeans(x, seed, len(np.unique(y))), {}
        if self.kind == "callable":
            return np.asarray(self.run(x, seed)), {}
        import keras

        from vaewidget import VAEClusterer

        est = VAEClusterer(random_state=seed, **self.params).fit(x)
        resolved = {k: v for k, v in getattr(est, "params_", {}).items()}
        keras.utils.clear_session()
        return est.labels_, resolved


def make_pipelines(args: argparse.Namespace) -> list[Pipeline]:
    lib = library_hash()
    pipes = []
    for tag in args.pipelines:
        if tag in ANCHORS:
            pipes.append(Pipeline(tag, "anchor", code=f"anchor-{ANCHOR_VERSION}"))
        else:
            pipes.append(Pipeline(tag, "vaeclusterer", code=lib))
    if args.params is not None:
        try:
            params = json.loads(args.params)
        except json.JSONDecodeError as err:
            raise ValueError(f"Expected --params as a JSON object. Received: {args.params!r} "
                             f"({err})") from err
        if not isinstance(params, dict):
            raise ValueError(f"Expected --params as a JSON object. Received: {args.params!r}")
        tag = args.tag or "vae" + json.dumps(params, sort_keys=True, separators=(",", ":"))
        pipes.append(Pipeline(tag, "vaeclusterer", params=params, code=lib))
    if args.callable is not None:
        func, fhash = load_callable(args.callable)
        tag = args.tag or args.callable
        pipes.append(Pipeline(tag, "callable", params={"callable": args.callable},
                              code=f"{lib}+{fhash}", run=func))
    tags = [p.tag for p in pipes]
    if len(set(tags)) != len(tags):
        raise ValueError(f"Expected distinct pipeline tags. Received: {tags}")
    return pipes


def cache_key(dataset: str, rows: int, pipe: Pipeline, seed: int) -> str:
    return json.dumps({"dataset": dataset, "rows": rows, "tag": pipe.tag, "kind": pipe.kind,
                       "params": pipe.params, "code": pipe.code, "seed": seed},
                      sort_keys=True)


def read_cache(path: str) -> dict[str, dict]:
    """Cached results by key; a later line for the same key wins."""
    out: dict[str, dict] = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    out[rec["key"]] = rec
    return out


def subsample(x: np.ndarray, y: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= rows:
        return x, y
    idx = np.sort(np.random.default_rng(0).choice(len(x), rows, replace=False))
    return x[idx], y[idx]


def _warm_up_umap() -> None:
    """Compile UMAP's numba code once, so no pipeline's first fit pays for it.

    From 4,096 rows UMAP finds neighbours with pynndescent, whose numba code compiles
    separately (tens of seconds on two cores), so the warm-up covers both routes.
    """
    import umap

    rng = np.random.default_rng(0)
    for rows in (300, 4200):
        umap.UMAP(n_neighbors=10, random_state=0).fit_transform(rng.normal(size=(rows, 5)))


def run(args: argparse.Namespace, pipes: list[Pipeline]
        ) -> tuple[list[dict], list[str], list[str]]:
    """Compute what the cache lacks; returns (records, skipped datasets, errors)."""
    from vaewidget.clustering import score_clustering

    seeds = list(range(args.seeds))
    cache = {} if args.fresh else read_cache(args.cache)
    os.makedirs(os.path.dirname(os.path.abspath(args.cache)), exist_ok=True)
    records, skipped, errors = [], [], []
    warmed = False
    for name in args.datasets:
        hint = suite.missing_package(name)
        if hint is not None:
            skipped.append(f"{name}: {hint}")
            print(f"!!! SKIPPED {name}: its package is missing. {hint}", flush=True)
            continue
        x, y, info = suite.load(name)
        if args.quick:
            x, y = subsample(x, y, QUICK_ROWS)
        rows = len(x)
        for seed in seeds:  # pipelines interleaved within each seed
            for pipe in pipes:
                key = cache_key(name, rows, pipe, seed)
                if key in cache:
                    records.append(cache[key])
                    continue
                if not warmed:
                    _warm_up_umap()
                    warmed = True
                load = os.getloadavg()[0]
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        labels, resolved = pipe(x, y, seed)
                except Exception as err:  # a crash is a result worth seeing, loudly
                    traceback.print_exc()
                    errors.append(f"{name} / {pipe.tag} / seed {seed}: "
                                  f"{type(err).__name__}: {err}")
                    continue
                rec = json.loads(key)
                rec.update(score_clustering(y, labels))
                rec.update(key=key, seconds=time.perf_counter() - wall,
                           cpu_seconds=time.process_time() - cpu, load_before=load,
                           columns=int(x.shape[1]), resolved=resolved,
                           when=datetime.datetime.now().isoformat(timespec="seconds"))
                with open(args.cache, "a") as fh:
                    fh.write(json.dumps(rec, default=str) + "\n")
                cache[key] = rec
                records.append(rec)
                print(f"  {name:13s} {rows:>6d}x{x.shape[1]:<5d} {pipe.tag:16s} seed={seed} "
                      f"ari={rec['ari']:.3f} nmi={rec['nmi']:.3f} cov={rec['coverage']:.2f} "
                      f"k={rec['n_clusters']:<3d} {rec['seconds']:.1f}s", flush=True)
    return records, skipped, errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(suite.DATASETS),
                        choices=list(suite.DATASETS), metavar="NAME",
                        help=f"default: all ({', '.join(suite.DATASETS)})")
    parser.add_argument("--pipelines", nargs="+", default=[*ANCHORS, DEFAULT],
                        choices=[*ANCHORS, DEFAULT])
    parser.add_argument("--seeds", type=int, default=3, help="run seeds 0 .. N-1 (default 3)")
    parser.add_argument("--params", help="JSON object of VAEClusterer parameters: a variant")
    parser.add_argument("--callable", help="module:function or file.py:function, "
                        "function(X, seed) -> labels: a variant")
    parser.add_argument("--tag", help="the variant's name in the tables")
    parser.add_argument("--target", help="pipeline whose targets are checked "
                        "(default: the variant if any, else vaeclusterer)")
    parser.add_argument("--fresh", action="store_true", help="recompute cached results")
    parser.add_argument("--quick", action="store_true",
                        help=f"subsample sets above {QUICK_ROWS} rows (smoke test)")
    parser.add_argument("--cache", default=os.path.join(RESULTS, "quality.jsonl"))
    parser.add_argument("--out", default=os.path.join(RESULTS, "quality.md"),
                        help="where the markdown report is written")
    args = parser.parse_args(argv)
    if args.tag and args.params is None and args.callable is None:
        parser.error("--tag names a variant: give --params or --callable with it")
    if args.params is not None and args.callable is not None:
        parser.error("give --params or --callable, not both")
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    pipes = make_pipelines(args)
    records, skipped, errors = run(args, pipes)
    target = args.target or (pipes[-1].tag if args.params or args.callable else DEFAULT)
    digits_9 = None
    if "digits" in args.datasets and not args.quick:
        cache = read_cache(args.cache)
        for pipe in pipes:
            if pipe.tag == target:
                digits_9 = [cache[k] for s in range(9)
                            if (k := cache_key("digits", 1797, pipe, s)) in cache]
    text = report.render(records, [p.tag for p in pipes], target, args, skipped, errors,
                         digits_9)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text + "\n")
    print(f"\n(report written to {args.out}; results cached in {args.cache})")


if __name__ == "__main__":
    main()
