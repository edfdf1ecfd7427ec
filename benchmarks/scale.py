"""Large data: 10,000,000 x 64 float32 rows on disk, streamed, encoded and labelled on Dask.

Stages (``all`` runs them in order, each heavy one in a fresh process so its peak
memory is its own):

``digits``
    The Trainer against plain ``model.fit`` (and ``fit`` on the ``SourceDataset`` that
    streams sources, over the same rows), with one step per execution and with the
    Trainer's ``"auto"`` steps, side by side: digits tiled ten times (17,970 rows),
    batch 64, ``--epochs`` per run (default 1), ``--repeats`` interleaved runs (order
    alternating), median samples/s per wall second and per CPU second, and median paired
    ratios. ``fit`` in a new thread (as the Trainer runs it) is a contender too.
``threads``
    What a new thread costs ``fit`` (TensorFlow sets up its eager runtime again in each
    thread): 10 steps in the main thread, in a new thread per run, in one reused thread.
``make``
    Writes ``--rows`` x 64 float32 rows of 12 Gaussian clusters in a random
    8-dimensional subspace, plus noise, to ``--path`` (``.npy``) chunk by chunk.
``pipeline``
    In one process, from the file: ``VAE.from_data`` (one streaming pass for the
    scaling), ``--steps`` training steps with the Trainer (streamed, batch 1024), then
    encoding every row (to zarr), HDBSCAN on a 10,000-row subsample, and labelling
    every row (to zarr) on Dask's local scheduler. Prints rows/s per stage and the
    process's peak RSS (``VmHWM``).
``workers``
    Labels the encoded rows with a ``LocalCluster`` of 1 worker and of 2 workers (one
    thread each), ``--repeats`` times interleaved, and prints the median rows/s ratio.

Run: ``nice .venv/bin/python benchmarks/scale.py all`` (writes about 2.6 GB under
``--path``'s folder; ``--rows 1000000 --steps 200`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve()


def vm_hwm() -> int:
    """Peak resident set size of this process, bytes (Linux ``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


# ------------------------------------------------------------------ digits
def digits(args) -> None:
    import threading

    import keras
    import numpy as np

    from vaewidget import VAE, Trainer, datasets
    from vaewidget.training.execution import choose_steps_per_execution

    x, _ = datasets.load_digits()
    x = np.tile(x, (10, 1))
    base = VAE.from_data(x, latent_dim=10, hidden_units=(256, 128), seed=0)
    auto = choose_steps_per_execution(base, args.batch_size)
    start = base.get_weights()

    def model(steps: int) -> VAE:
        m = VAE.from_data(x, latent_dim=10, hidden_units=(256, 128), seed=0)
        m.set_weights(start)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=steps)
        return m

    kinds = ("fit", "thread", "trainer", "stream")
    models = {(kind, s): model(s) for kind in kinds for s in (1, auto)}
    epochs = args.epochs
    prepared = models[("fit", 1)].prepare(x)
    from vaewidget.data import as_source
    from vaewidget.data.streaming import SourceDataset

    stream = SourceDataset(as_source(x), prepare=models[("fit", 1)].preparer.scale_rows,
                           batch_size=args.batch_size, seed=0)

    def run(kind: str, steps: int) -> tuple[float, float]:
        m = models[(kind, steps)]
        if kind == "trainer":  # made before the clock starts, as fit gets prepared rows
            t = Trainer(m, x, validation_split=0.0, epochs=epochs, batch_size=args.batch_size,
                        steps_per_execution=steps)
            t.on_batch(lambda info: None)
            t.on_epoch(lambda epoch, logs: None)
        wall, cpu = time.perf_counter(), time.process_time()
        if kind == "fit":
            m.fit(prepared, epochs=epochs, batch_size=args.batch_size, shuffle=True, verbose=0)
        elif kind == "thread":  # fit in a new thread, as the Trainer runs it: TensorFlow's
            # eager runtime sets itself up again in every new thread (about 15 ms here)
            worker = threading.Thread(target=m.fit, args=(prepared,), kwargs=dict(
                epochs=epochs, batch_size=args.batch_size, shuffle=True, verbose=0))
            worker.start()
            worker.join()
        elif kind == "stream":  # the same rows through the PyDataset that streams sources
            m.fit(stream, epochs=epochs, verbose=0)
        else:
            t.start()
            t.wait()
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
        assert kind != "trainer" or t.state == "finished", t.error
        return epochs * len(x) / elapsed[0], epochs * len(x) / elapsed[1]

    names = list(models)
    for name in names:
        run(*name)  # trace every step function once
    results: dict = {name: [] for name in names}
    for r in range(args.repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            results[name].append(run(*name))
    print(f"\n## digits x10 ({len(x)} rows), batch {args.batch_size}, {epochs} epochs per run, "
          f"auto steps/execution = {auto}, {args.repeats} interleaved runs each, "
          f"load average {load()}\n")
    print("| run | steps/execution | median samples/s | per CPU-s |")
    print("|---|---|---|---|")
    for kind, steps in names:
        res = results[(kind, steps)]
        label = {"fit": "model.fit", "thread": "model.fit in a new thread", "trainer": "Trainer",
                 "stream": "model.fit(SourceDataset)"}
        print(f"| `{label[kind]}` | {steps} | "
              f"{statistics.median(w for w, _ in res):,.0f} | "
              f"{statistics.median(c for _, c in res):,.0f} |")


    stops, pauses = [], []
    for _ in range(args.repeats):
        m = models[("trainer", auto)]
        t = Trainer(m, x, validation_split=0.1, epochs=1000, batch_size=args.batch_size,
                    steps_per_execution=auto, batch_rate=None)
        ready = threading.Event()
        t.on_batch(lambda info, ev=ready: ev.set() if info["batch"] >= 3 * auto else None)
        t.start()
        ready.wait(120)
        begin = time.perf_counter()
        t.pause(wait=True, timeout=60)
        pauses.append(time.perf_counter() - begin)
        t.resume()
        time.sleep(0.05)
        begin = time.perf_counter()
        t.stop(wait=True, timeout=60)
        stops.append(time.perf_counter() - begin)
    print(f"\n{auto} steps per execution: pause() to paused, median "
          f"{1000 * statistics.median(pauses):.0f} ms (max {1000 * max(pauses):.0f}); stop() to "
          f"the thread's end, median {1000 * statistics.median(stops):.0f} ms (max "
          f"{1000 * max(stops):.0f}) over {len(stops)} runs (target <= 500 ms)")

    def paired(a, b, i):
        return statistics.median(p[i] / q[i] for p, q in zip(results[a], results[b]))

    print("\n| ratio (median of paired runs) | wall | CPU |")
    print("|---|---|---|")
    for label, a, b in (("Trainer / fit, 1 step per execution", ("trainer", 1), ("fit", 1)),
                        (f"Trainer / fit, {auto} steps", ("trainer", auto), ("fit", auto)),
                        ("fit in a new thread / fit, 1 step", ("thread", 1), ("fit", 1)),
                        (f"fit in a new thread / fit, {auto} steps", ("thread", auto),
                         ("fit", auto)),
                        ("Trainer / fit in a new thread, 1 step (the callbacks' cost)",
                         ("trainer", 1), ("thread", 1)),
                        (f"Trainer / fit in a new thread, {auto} steps", ("trainer", auto),
                         ("thread", auto)),
                        (f"Trainer {auto} steps / Trainer 1 step (today's default)",
                         ("trainer", auto), ("trainer", 1)),
                        (f"fit {auto} steps / fit 1 step", ("fit", auto), ("fit", 1)),
                        ("SourceDataset / arrays, 1 step", ("stream", 1), ("fit", 1)),
                        (f"SourceDataset / arrays, {auto} steps", ("stream", auto), ("fit", auto))):
        print(f"| {label} | {paired(a, b, 0):.2f} | {paired(a, b, 1):.2f} |")


# -------------------------------------------------------------------- data
def make(args) -> None:
    import numpy as np

    path = Path(args.path)
    if path.exists() and np.load(path, mmap_mode="r").shape == (args.rows, 64):
        print(f"{path} exists with {args.rows} rows: kept")
        return
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(64, 8)))[0].T  # an 8-D subspace of 64-D
    centres = rng.normal(scale=4.0, size=(12, 8))
    header = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(args.rows, 64))
    del header  # written chunk by chunk below, each through its own short-lived mapping
    chunk = 500_000
    for start in range(0, args.rows, chunk):
        n = min(chunk, args.rows - start)
        which = rng.integers(0, 12, n)
        inner = centres[which] + rng.normal(size=(n, 8))
        rows = (inner @ basis + 0.3 * rng.normal(size=(n, 64))).astype(np.float32)
        out = np.load(path, mmap_mode="r+")
        out[start: start + n] = rows
        out.flush()
        del out
    print(f"wrote {args.rows} x 64 float32 rows to {path} ({path.stat().st_size / 1e9:.2f} GB)")


# ---------------------------------------------------------------- pipeline
def pipeline(args) -> None:
    import threading

    from vaewidget import VAE, Trainer
    from vaewidget.clustering.distributed import embed_source, fit_subsample, label_source
    from vaewidget.clustering.results import write_results

    folder = Path(args.path).parent
    times: dict[str, tuple[float, int]] = {}
    t0 = time.perf_counter()
    model = VAE.from_data(args.path, latent_dim=8, hidden_units=(256, 128), seed=0)
    n = model.preparer.n_rows_seen_
    times["scaling pass (DataPreparer, streamed)"] = (time.perf_counter() - t0, n)
    trainer = Trainer(model, args.path, epochs=1, batch_size=1024, validation_split=0.0)
    done = threading.Event()
    trainer.on_batch(lambda info: done.set() if info["batch"] >= args.steps else None)
    t0 = time.perf_counter()
    trainer.start()
    done.wait()
    trainer.stop(wait=True)
    p = trainer.progress
    times[f"training, {p['batch']} steps of 1024 (Trainer, streamed)"] = (
        time.perf_counter() - t0, p["batch"] * 1024)
    steps_per_execution = int(model.steps_per_execution)
    t0 = time.perf_counter()
    z = embed_source(model, args.path)
    write_results(folder / "scale_latent.zarr", {"embedding": z}, progress=args.progress,
                  overwrite=True, stage="encoding")
    times["encoding every row (Dask, local scheduler, to zarr)"] = (time.perf_counter() - t0, n)
    t0 = time.perf_counter()
    fitted = fit_subsample(model, args.path, max_fit=10_000, min_cluster_size=int(0.01 * n),
                           min_samples=10, random_state=0)
    times["HDBSCAN on a 10,000-row subsample (one machine)"] = (time.perf_counter() - t0, 10_000)
    import zarr

    latent = zarr.open_group(str(folder / "scale_latent.zarr"), mode="r")["embedding"]
    t0 = time.perf_counter()
    labels, probs, scores = label_source(fitted.clusterer, latent)
    write_results(folder / "scale_labels.zarr", {"labels": labels, "probabilities": probs,
                                                  "outlier_scores": scores},
                  progress=args.progress, overwrite=True, stage="labelling")
    times["labelling every row (Dask, local scheduler, to zarr)"] = (time.perf_counter() - t0, n)
    import pickle

    with open(folder / "scale_clusterer.pkl", "wb") as fh:
        pickle.dump(fitted.clusterer, fh)
    print(json.dumps({"rows": n, "stages": times, "peak_rss": vm_hwm(),
                      "clusters": int(fitted.clusterer.labels_.max()) + 1,
                      "steps_per_execution": steps_per_execution, "load": load()}))


def workers(args) -> None:
    import pickle

    import zarr
    from distributed import Client, LocalCluster

    from vaewidget.clustering.distributed import label_source
    from vaewidget.clustering.results import write_results

    folder = Path(args.path).parent
    with open(folder / "scale_clusterer.pkl", "rb") as fh:
        clusterer = pickle.load(fh)
    latent = zarr.open_group(str(folder / "scale_latent.zarr"), mode="r")["embedding"]
    import dask.array as da

    z = da.from_zarr(latent)[: args.label_rows]
    rates: dict[int, list[float]] = {1: [], 2: []}
    clusters = {k: LocalCluster(n_workers=k, threads_per_worker=1, processes=True,
                                dashboard_address=None) for k in (1, 2)}
    try:
        for r in range(args.repeats):
            for k in ((1, 2) if r % 2 == 0 else (2, 1)):
                with Client(clusters[k]) as client:
                    client.run(lambda: __import__("vaewidget.clustering.distributed"))
                    t0 = time.perf_counter()
                    labels, _, _ = label_source(clusterer, z, client=client)
                    write_results(folder / f"scale_labels_{k}.zarr", {"labels": labels},
                                  client=client, overwrite=True)
                    rates[k].append(len(z) / (time.perf_counter() - t0))
    finally:
        for c in clusters.values():
            c.close()
    ratio = statistics.median(b / a for a, b in zip(rates[1], rates[2]))
    print(json.dumps({"rows": len(z), "rates": rates, "ratio": ratio, "load": load()}))


def child(stage: str, args) -> dict:
    cmd = [sys.executable, str(HERE), stage, "--path", args.path, "--steps", str(args.steps),
           "--repeats", str(args.repeats), "--label-rows", str(args.label_rows)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{stage} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(pipe: dict, work: dict, args) -> None:
    print(f"\n## {pipe['rows']:,} x 64 float32 rows on disk ({pipe['rows'] * 256 / 1e9:.2f} GB), "
          f"load average {pipe['load']} (pipeline) / {work['load']} (workers)\n")
    print("| stage | seconds | rows/s |")
    print("|---|---|---|")
    for name, (seconds, rows) in pipe["stages"].items():
        print(f"| {name} | {seconds:,.1f} | {rows / seconds:,.0f} |")
    print(f"\npeak RSS of the whole pipeline (VmHWM): {pipe['peak_rss'] / 2**30:.2f} GB "
          f"(target <= 1.5 GB); {pipe['clusters']} clusters; training ran "
          f"{pipe['steps_per_execution']} steps per execution")
    r1, r2 = (statistics.median(work["rates"][k]) for k in ("1", "2"))
    print(f"\nlabelling {work['rows']:,} rows with a LocalCluster: 1 worker {r1:,.0f} rows/s, "
          f"2 workers {r2:,.0f} rows/s, ratio {work['ratio']:.2f} (median of {args.repeats} "
          "paired runs; target >= 1.6 on 2 cores)")


def threads(args) -> None:
    """What a new thread costs ``fit``: the same 10 steps in the main thread, in a new thread
    each time (as the Trainer runs), and in one thread reused between runs."""
    import queue
    import threading

    import keras

    from vaewidget import VAE, datasets

    x = datasets.load_digits()[0][:640]
    m = VAE.from_data(x, latent_dim=10, hidden_units=(256, 128), seed=0)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=16)
    prepared = m.prepare(x)

    def plain() -> None:
        m.fit(prepared, epochs=1, batch_size=64, verbose=0, shuffle=True)

    def fresh() -> None:
        worker = threading.Thread(target=plain)
        worker.start()
        worker.join()

    jobs: queue.Queue = queue.Queue()
    done: queue.Queue = queue.Queue()

    def serve() -> None:
        while (job := jobs.get()) is not None:
            job()
            done.put(True)

    server = threading.Thread(target=serve, daemon=True)
    server.start()

    def reused() -> None:
        jobs.put(plain)
        done.get()

    runs = {"main thread": plain, "a new thread each run": fresh, "one reused thread": reused}
    for run in runs.values():
        run()
        run()  # traced and warm in every kind of thread
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(4 * args.repeats):
        for name, run in runs.items():
            begin = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - begin)
    jobs.put(None)
    print(f"\n## fit, 10 steps of 64 rows, {4 * args.repeats} runs each, load average {load()}\n")
    print("| where fit runs | median ms |")
    print("|---|---|")
    for name, values in times.items():
        print(f"| {name} | {1000 * statistics.median(values):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["all", "digits", "make", "pipeline", "threads", "workers"])
    parser.add_argument("--path", default="/tmp/vaewidget-scale/rows.npy")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--label-rows", type=int, default=2_000_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs per timed run of the digits stage")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    Path(args.path).parent.mkdir(parents=True, exist_ok=True)
    if args.stage == "all":
        print(f"command: {' '.join(sys.argv)}")
        make(args)
        pipe = child("pipeline", args)
        work = child("workers", args)
        report(pipe, work, args)
        digits(args)
    else:
        {"digits": digits, "make": make, "pipeline": pipeline, "threads": threads,
         "workers": workers}[args.stage](args)


if __name__ == "__main__":
    main()
