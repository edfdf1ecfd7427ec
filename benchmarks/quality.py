"""Clustering quality, side by side: classical routes against ``VAEClusterer()`` defaults.

Pipelines, in one run on the same data (labels only score the results):

1. ``kmeans``: k-means on the raw data, given the true k (a reference that cheats);
2. ``hdbscan``: HDBSCAN on the raw data (hdbscan's defaults);
3. ``umap+hdbscan``: UMAP(n_neighbors=30, min_dist=0, 2-D) on the raw data, then
   HDBSCAN(min_samples=10) (hdbscan's default min_cluster_size=5);
   ``umap+hdbscan mcs``: the same embedding, HDBSCAN with the min_cluster_size
   rule of VAEClusterer (1.5 % of rows), a fairer anchor;
4. ``ae+hdbscan``: a plain Autoencoder with VAEClusterer's default sizes and epochs rule,
   HDBSCAN on its latent;
5. ``vaeclusterer``: ``VAEClusterer(random_state=seed)`` with its defaults.

Datasets: sklearn digits (1797x64), ``make_manifold_clusters`` (5000x128, 8 clusters
on a curved 2-D manifold, 32 noise dimensions) and sklearn's bundled breast cancer
set (569x30, 2 classes).

Usage::

    python benchmarks/quality.py                      # full: 3 datasets x 5 pipelines x 3 seeds
    python benchmarks/quality.py --datasets digits --seeds 1 --pipelines vaeclusterer

Prints a markdown table (mean ± standard deviation over seeds) and writes JSON to
``--out`` (default ``benchmarks/quality.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

from vaewidget.clustering import fit_hdbscan, make_projector, score_clustering  # noqa: E402

METRICS = ("ari", "nmi", "coverage", "ari_clustered", "n_clusters", "seconds")


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A benchmark dataset by name; all ship offline."""
    from vaewidget import datasets

    if name == "digits":
        return datasets.load_digits()
    if name == "manifold":
        return datasets.make_manifold_clusters(5000, n_clusters=8, n_features=128, random_state=0)
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        x, y = load_breast_cancer(return_X_y=True)
        return x.astype(np.float32), y
    raise ValueError(f"Expected a dataset in {DATASETS}. Received: {name!r}")


DATASETS = ("digits", "manifold", "breast_cancer")


def _mcs(n: int) -> int:
    return int(max(5, round(0.015 * n)))


def kmeans(x, y, seed):
    from sklearn.cluster import KMeans

    return KMeans(len(np.unique(y)), n_init=10, random_state=seed).fit_predict(x)


def raw_hdbscan(x, y, seed):
    import hdbscan

    return hdbscan.HDBSCAN().fit(x).labels_


_UMAP_CACHE: dict = {}


def umap_hdbscan(x, y, seed):
    emb = make_projector("umap", 2, seed, n_neighbors=30, min_dist=0.0).fit_transform(x)
    _UMAP_CACHE[(id(x), seed)] = emb
    import hdbscan

    return hdbscan.HDBSCAN(min_samples=10).fit(emb).labels_


def umap_hdbscan_mcs(x, y, seed):
    emb = _UMAP_CACHE.pop((id(x), seed), None)
    if emb is None:
        emb = make_projector("umap", 2, seed, n_neighbors=30, min_dist=0.0).fit_transform(x)
    return fit_hdbscan(emb, min_cluster_size=_mcs(len(x)), min_samples=10).labels_


def ae_hdbscan(x, y, seed):
    import keras

    from vaewidget.clustering import VAEClusterer, _defaults
    from vaewidget.models import Autoencoder

    # VAEClusterer's own defaults, resolved by its rule, so this reference cannot drift.
    params = _defaults.resolve({**VAEClusterer().get_params(), "projection": None}, x)
    keras.utils.set_random_seed(seed)
    model = Autoencoder.from_data(x, latent_dim=params["latent_dim"],
                                  hidden_units=params["hidden_units"], seed=seed,
                                  scaling=params["scaling"])
    model.compile(optimizer=keras.optimizers.Adam(params["learning_rate"]))
    model.fit(model.prepare(x), epochs=params["epochs"], batch_size=params["batch_size"],
              verbose=0)
    return fit_hdbscan(model.embed(x), min_cluster_size=params["min_cluster_size"],
                       min_samples=params["min_samples"]).labels_


def vaeclusterer(x, y, seed):
    from vaewidget.clustering import VAEClusterer

    return VAEClusterer(random_state=seed).fit_predict(x)


PIPELINES: dict[str, Callable] = {
    "kmeans": kmeans,
    "hdbscan": raw_hdbscan,
    "umap+hdbscan": umap_hdbscan,
    "umap+hdbscan mcs": umap_hdbscan_mcs,
    "ae+hdbscan": ae_hdbscan,
    "vaeclusterer": vaeclusterer,
}


def run(datasets, pipelines, seeds) -> dict:
    """Score every pipeline on every dataset for every seed; returns nested results."""
    results: dict = {}
    for name in datasets:
        x, y = load(name)
        for pipe in pipelines:
            rows = []
            for seed in seeds:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    labels = PIPELINES[pipe](x, y, seed)
                scores = score_clustering(y, labels)
                scores["seconds"] = time.perf_counter() - start
                rows.append(scores)
                print(f"  {name:14s} {pipe:18s} seed={seed} " + " ".join(
                    f"{k}={scores[k]:.3f}" for k in METRICS), flush=True)
            results.setdefault(name, {})[pipe] = rows
    return results


def table(results: dict) -> str:
    """Markdown: mean ± standard deviation over seeds of each metric."""
    lines = ["| dataset | pipeline | " + " | ".join(METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for name, by_pipe in results.items():
        for pipe, rows in by_pipe.items():
            cells = []
            for key in METRICS:
                values = np.array([r[key] for r in rows], dtype=float)
                fmt = "{:.1f} ± {:.1f}" if key in ("n_clusters", "seconds") else "{:.3f} ± {:.3f}"
                cells.append(fmt.format(np.nanmean(values), np.nanstd(values)))
            lines.append(f"| {name} | {pipe} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--pipelines", nargs="+", default=list(PIPELINES), choices=PIPELINES)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. n-1")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "quality.json"))
    args = parser.parse_args()
    results = run(args.datasets, args.pipelines, list(range(args.seeds)))
    print(table(results))
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
