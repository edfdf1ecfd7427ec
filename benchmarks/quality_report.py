"""The markdown report of ``benchmarks/quality.py``: tables and issue 13's targets.

Mean +- standard deviation over seeds; the standard deviation is numpy's default
(population, ddof=0). ARI and NMI count noise (-1) as a label of its own.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections import defaultdict

import numpy as np

ANCHOR = "umap+hdbscan"
ANCHORS = ("umap+hdbscan", "kmeans")
#: Issue 13's targets for the default pipeline.
MAX_BELOW_ANCHOR = 0.02
MIN_COVERAGE = 0.8
MAX_SEED_STD = 0.05
MIN_LEAD_OVER_ANCHORS = 0.05
DIGITS_MIN_ARI, DIGITS_SEEDS = 0.90, 9
MAX_FIT_SECONDS, FIT_ROWS = 60.0, 5000


def _pm(values, fmt: str = "{:.3f}") -> str:
    v = np.asarray(values, dtype=float)
    return f"{fmt.format(np.nanmean(v))} ± {fmt.format(np.nanstd(v))}"


def _group(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["dataset"], r["tag"])].append(r)
    return groups


def _mean(rows: list[dict], key: str) -> float:
    return float(np.nanmean([r[key] for r in rows]))


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "**FAIL**"


def ari_table(groups, datasets, tags) -> list[str]:
    """One row per dataset, one ARI column per pipeline, and the suite means."""
    lines = ["| dataset | rows x cols | " + " | ".join(f"{t} ARI" for t in tags) + " |",
             "|---|---|" + "---|" * len(tags)]
    complete = []
    for name in datasets:
        rows = [groups.get((name, t)) for t in tags]
        if not any(rows):
            continue
        first = next(r for r in rows if r)[0]
        cells = [_pm([r["ari"] for r in rs]) if rs else "-" for rs in rows]
        lines.append(f"| {name} | {first['rows']:,} x {first['columns']:,} | "
                     + " | ".join(cells) + " |")
        if all(rows):
            complete.append(name)
    if complete:
        means = [np.mean([_mean(groups[(n, t)], "ari") for n in complete]) for t in tags]
        lines.append(f"| **suite mean** ({len(complete)} sets) | | "
                     + " | ".join(f"**{m:.3f}**" for m in means) + " |")
    return lines


def full_table(groups, datasets, tags) -> list[str]:
    lines = ["| dataset | pipeline | seeds | ari | nmi | coverage | n_clusters | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for name in datasets:
        for tag in tags:
            rows = groups.get((name, tag))
            if not rows:
                continue
            lines.append(
                f"| {name} | {tag} | {len(rows)} | {_pm([r['ari'] for r in rows])} | "
                f"{_pm([r['nmi'] for r in rows])} | {_pm([r['coverage'] for r in rows], '{:.2f}')} | "
                f"{_pm([r['n_clusters'] for r in rows], '{:.1f}')} | "
                f"{_pm([r['seconds'] for r in rows], '{:.1f}')} |")
    return lines


def targets(groups, datasets, tags, target, digits_9) -> list[str]:
    """Issue 13's targets for ``target``, per dataset and overall, PASS or FAIL."""
    lines = [f"| dataset | {target} ARI | {ANCHOR} ARI | difference | coverage | seed std "
             "| slowest fit s | ARI >= anchor - 0.02 | coverage >= 0.8 | std <= 0.05 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    fails = defaultdict(list)
    complete = []
    slowest = slowest_cpu = 0.0
    for name in datasets:
        rows, anchor = groups.get((name, target)), groups.get((name, ANCHOR))
        if not rows:
            fails["missing"].append(name)
            continue
        ari, cov = _mean(rows, "ari"), _mean(rows, "coverage")
        std = float(np.std([r["ari"] for r in rows]))
        seconds = max(r["seconds"] for r in rows)
        if rows[0]["rows"] <= FIT_ROWS:
            slowest = max(slowest, seconds)
            slowest_cpu = max(slowest_cpu, max(r.get("cpu_seconds", 0.0) for r in rows))
        if anchor:
            a_ari = _mean(anchor, "ari")
            ok_anchor = ari >= a_ari - MAX_BELOW_ANCHOR
            a_cells = f"{a_ari:.3f} | {ari - a_ari:+.3f}"
        else:
            ok_anchor, a_cells = None, "- | -"
            fails["no anchor"].append(name)
        for ok, what in ((ok_anchor, "anchor"), (cov >= MIN_COVERAGE, "coverage"),
                         (std <= MAX_SEED_STD, "std")):
            if ok is False:
                fails[what].append(name)
        if all(groups.get((name, t)) for t in ANCHORS):
            complete.append(name)
        lines.append(f"| {name} | {ari:.3f} | {a_cells} | {cov:.2f} | {std:.3f} | "
                     f"{seconds:.1f} | {'n/a' if ok_anchor is None else _verdict(ok_anchor)} | "
                     f"{_verdict(cov >= MIN_COVERAGE)} | {_verdict(std <= MAX_SEED_STD)} |")
    lines.append("")

    def say(ok: bool, text: str) -> None:
        lines.append(f"- {_verdict(ok)}: {text}")

    n = len(datasets) - len(fails["missing"])
    if fails["missing"]:
        lines.append(f"- **FAIL**: no {target} results for {', '.join(fails['missing'])}")
    if fails["no anchor"]:
        lines.append(f"- NOT MEASURED: ARI against {ANCHOR} on {', '.join(fails['no anchor'])}"
                     f" (add {ANCHOR} to --pipelines; cached results are reused)")
    if fails["anchor"] or not fails["no anchor"]:
        say(not fails["anchor"], f"ARI >= {ANCHOR} - {MAX_BELOW_ANCHOR} on every dataset "
            f"({n - len(fails['anchor']) - len(fails['no anchor'])} of {n}; "
            f"below: {', '.join(fails['anchor']) or 'none'})")
    say(not fails["coverage"], f"coverage >= {MIN_COVERAGE} on every dataset "
        f"({n - len(fails['coverage'])} of {n}; below: {', '.join(fails['coverage']) or 'none'})")
    say(not fails["std"], f"seed std of ARI <= {MAX_SEED_STD} on every dataset "
        f"({n - len(fails['std'])} of {n}; above: {', '.join(fails['std']) or 'none'})")
    if complete:
        mine = np.mean([_mean(groups[(d, target)], "ari") for d in complete])
        anchors = {t: np.mean([_mean(groups[(d, t)], "ari") for d in complete]) for t in ANCHORS}
        need = max(anchors.values()) + MIN_LEAD_OVER_ANCHORS
        say(mine >= need, f"suite mean ARI {mine:.3f} >= both anchors' + "
            f"{MIN_LEAD_OVER_ANCHORS} ({', '.join(f'{t} {v:.3f}' for t, v in anchors.items())};"
            f" needs {need:.3f}; over {len(complete)} sets)")
    else:
        lines.append(f"- NOT MEASURED: suite mean against the anchors (run {' and '.join(ANCHORS)}"
                     " too; cached results are reused)")
    if digits_9 is not None and len(digits_9) >= DIGITS_SEEDS:
        d = float(np.mean([r["ari"] for r in digits_9]))
        say(d >= DIGITS_MIN_ARI, f"digits mean ARI over {DIGITS_SEEDS} seeds {d:.3f} >= "
            f"{DIGITS_MIN_ARI}")
    else:
        have = 0 if digits_9 is None else len(digits_9)
        lines.append(f"- NOT MEASURED: digits over {DIGITS_SEEDS} seeds ({have} cached at full "
                     f"size); run with `--datasets digits --seeds {DIGITS_SEEDS}`")
    say(slowest <= MAX_FIT_SECONDS, f"slowest fit on <= {FIT_ROWS:,} rows {slowest:.1f} s <= "
        f"{MAX_FIT_SECONDS:.0f} s (wall clock under this machine's load; the most CPU time "
        f"one such fit used: {slowest_cpu:.1f} s)")
    return lines


def render(records, tags, target, args, skipped, errors, digits_9) -> str:
    groups = _group(records)
    datasets = [d for d in args.datasets if any((d, t) in groups for t in tags)]
    out = ["# Clustering quality (benchmarks/quality.py)", "",
           f"Command: `python benchmarks/quality.py {' '.join(sys.argv[1:])}`  ",
           f"Date: {datetime.datetime.now().isoformat(timespec='minutes')}; "
           f"load average now {os.getloadavg()[0]:.1f}; seeds 0-{args.seeds - 1}; "
           "mean ± std over seeds (ddof=0); noise (-1) is a label of its own in ARI and NMI."]
    if args.quick:
        out.append("\n**QUICK MODE**: sets above 2,000 rows were subsampled; not comparable to "
                   "full runs.")
    if skipped:
        out += ["", "## !!! SKIPPED DATASETS (missing optional packages) !!!", ""]
        out += [f"- **{s}**" for s in skipped]
    if errors:
        out += ["", "## !!! ERRORS !!!", ""] + [f"- {e}" for e in errors]
    out += ["", "## ARI by dataset", ""] + ari_table(groups, datasets, tags)
    out += ["", "## All scores", ""] + full_table(groups, datasets, tags)
    if target in tags:
        out += ["", f"## Targets of issue 13 for `{target}`", ""]
        out += targets(groups, datasets, tags, target, digits_9)
    return "\n".join(out)
