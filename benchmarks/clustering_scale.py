"""How long the cluster viewer takes to re-cluster and redraw a 10-D latent of 10k-1M points.

Side by side, in one run, on the same synthetic latent:

* ``viewer``: what a control change costs in :class:`vaewidget.ClusterViewer`:
  :func:`vaewidget.clustering.large.cluster_latent` (HDBSCAN on all rows up to
  ``max_fit``, else on a subsample plus the vectorized approximate_predict) and the
  map drawn to PNG (density image above 30k points);
* ``hdbscan full``: ``hdbscan.HDBSCAN`` fitted on every row (the viewer at ``max_fit=None``);
* ``sklearn full``: ``sklearn.cluster.HDBSCAN`` fitted on every row;
* ``predict``: labelling the non-fitted rows with the vectorized predictor versus
  ``hdbscan.approximate_predict`` + ``approximate_predict_scores`` (same answers).

Medians of ``--repeats`` runs (1M and the full fits run once when slower than 60 s).
``ARI vs full`` compares the viewer's labels with the full hdbscan fit.

Run: ``TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/clustering_scale.py``
(``--sizes 10000 100000`` and ``--repeats 1`` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from vaewidget.clustering.large import (
    DEFAULT_MAX_FIT,
    approximate_predict_batched,
    cluster_latent,
    scale_parameters,
)
from vaewidget.clustering.metrics import score_clustering
from vaewidget.plotting import figure_to_png
from vaewidget.plotting.clusters import draw_map

MIN_SAMPLES = 10


def make_latent(n: int, dims: int = 10, k: int = 12, seed: int = 0) -> np.ndarray:
    """A VAE-like latent: ``k`` Gaussian clusters of varied width plus 2 % uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, (k, dims))
    widths = rng.uniform(0.25, 0.6, k)
    n_noise = n // 50
    which = rng.integers(0, k, n - n_noise)
    z = centres[which] + rng.normal(size=(n - n_noise, dims)) * widths[which, None]
    z = np.vstack([z, rng.uniform(-6, 6, (n_noise, dims))])
    return z[rng.permutation(n)].astype(np.float32)


def timed(fn, repeats: int, slow: float = 60.0):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if times[-1] > slow:
            break
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-fit", type=int, default=DEFAULT_MAX_FIT)
    parser.add_argument("--full-max", type=int, default=100_000,
                        help="largest size for the full hdbscan/sklearn fits")
    args = parser.parse_args()
    import hdbscan
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} "
          f"(a shared machine), max_fit={args.max_fit}")
    print(f"{'rows':>9} | {'viewer cluster':>14} | {'draw':>6} | {'viewer total':>12} | "
          f"{'hdbscan full':>12} | {'sklearn full':>12} | {'ARI vs full':>11} | "
          f"{'predict fast':>12} | {'hdbscan predict':>15}")
    for n in args.sizes:
        z = make_latent(n)
        mcs, ms = max(10, n // 100), MIN_SAMPLES
        reps = args.repeats if n < 1_000_000 else 1
        t_cluster, res = timed(lambda z=z, mcs=mcs: cluster_latent(
            z, min_cluster_size=mcs, min_samples=MIN_SAMPLES, max_fit=args.max_fit), reps)
        t_draw, _ = timed(lambda z=z, res=res: figure_to_png(draw_map(
            z[:, :2], res.labels, res.probabilities, title="bench")), reps)
        full = sk = ari = "skipped"
        if n <= args.full_max:
            t_full, ref = timed(lambda z=z, mcs=mcs: hdbscan.HDBSCAN(
                min_cluster_size=mcs, min_samples=MIN_SAMPLES).fit(z), reps)
            t_sk, _ = timed(lambda z=z, mcs=mcs: SkHDBSCAN(
                min_cluster_size=mcs, min_samples=MIN_SAMPLES).fit(z), reps)
            full, sk = f"{t_full:.2f} s", f"{t_sk:.2f} s"
            ari = f"{score_clustering(ref.labels_, res.labels)['ari']:.3f}"
        fast = slow = "-"
        if res.subsampled:
            rest = np.setdiff1d(np.arange(n), res.fit_index)[:100_000]
            t_fast, _ = timed(lambda r=rest, res=res, z=z: approximate_predict_batched(
                res.clusterer, z[r]), 1)
            fast = f"{t_fast:.2f} s/{len(rest) // 1000}k"
            if len(rest) <= 100_000:
                t_slow, _ = timed(lambda r=rest, res=res, z=z: approximate_predict_batched(
                    res.clusterer, z[r], method="hdbscan"), 1)
                slow = f"{t_slow:.2f} s ({t_slow / t_fast:.0f}x)"
        fit_mcs = scale_parameters(mcs, ms, n, len(res.fit_index))
        print(f"{n:>9,} | {t_cluster:>12.2f} s | {t_draw:>4.2f} s | {t_cluster + t_draw:>10.2f} s"
              f" | {full:>12} | {sk:>12} | {ari:>11} | {fast:>12} | {slow:>15}"
              f"   ({res.n_clusters} clusters; fitted {len(res.fit_index):,} rows with "
              f"min_cluster_size={fit_mcs[0]}, min_samples={fit_mcs[1]})", flush=True)


if __name__ == "__main__":
    main()
