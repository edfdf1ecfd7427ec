"""What the live panel costs: training throughput with VAEPanel attached vs the bare Trainer.

Both arms train the same fresh model (same options, same seed) on the bundled digits
for the same epochs, alternating bare / panel, in one process. The panel arm is the
real thing, headless: its listeners record every batch and epoch, its UI thread
redraws progress, the live ELBO plot (PNG into an ``ipywidgets.Image``) and the
reconstruction strip. Throughput is training rows per second over the epochs after
the first (the first one includes graph tracing). Reported: medians and their ratio.

    python benchmarks/panel.py                 # full: 8 epochs, 5 runs per arm
    python benchmarks/panel.py --quick         # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OPTIONS = dict(latent_dim=2, seed=0)


def epoch_clock(trainer) -> list[tuple[float, float]]:
    """(wall, process CPU) time at the end of every epoch."""
    stamps: list[tuple[float, float]] = []
    trainer.on_epoch(lambda epoch, logs: stamps.append((time.perf_counter(), time.process_time())))
    return stamps


def throughput(stamps: list[tuple[float, float]], rows_per_epoch: int) -> tuple[float, float]:
    """Rows per wall second and rows per CPU second (all threads of this process)."""
    if len(stamps) < 2:
        raise RuntimeError("Expected at least 2 epochs to time. Use --epochs >= 2.")
    rows = (len(stamps) - 1) * rows_per_epoch
    return rows / (stamps[-1][0] - stamps[0][0]), rows / (stamps[-1][1] - stamps[0][1])


def run_bare(x, epochs: int, batch_size: int) -> tuple[tuple[float, float], dict]:
    from vaewidget import VAE, Trainer

    model = VAE.from_data(x, **OPTIONS)
    trainer = Trainer(model, x, epochs=epochs, batch_size=batch_size, validation_split=0.1)
    stamps = epoch_clock(trainer)
    trainer.start()
    trainer.wait()
    assert trainer.state == "finished", trainer.error
    return throughput(stamps, len(x) - round(0.1 * len(x))), {}


def run_panel(x, y, epochs: int, batch_size: int) -> tuple[tuple[float, float], dict]:
    from vaewidget import VAEPanel

    panel = VAEPanel(x, y, epochs=epochs, batch_size=batch_size, validation_split=0.1, **OPTIONS)
    renders, calls = panel.plot.renders, panel._throttle.calls
    trainer = panel.train()
    stamps = epoch_clock(trainer)
    started = time.perf_counter()
    trainer.wait()
    elapsed = time.perf_counter() - started
    assert trainer.state == "finished", trainer.error
    rate = throughput(stamps, len(x) - round(0.1 * len(x)))
    extra = {
        "plot_renders_per_s": (panel.plot.renders - renders) / elapsed,
        "ui_updates_per_s": (panel._throttle.calls - calls) / elapsed,
        "plot_render_s": panel.plot.last_cost,
    }
    panel.close()
    return rate, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5, help="runs per arm, alternating")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="3 epochs, 2 runs per arm")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 3, 2

    from vaewidget.datasets import load_digits

    x, y = load_digits(images=True)
    run_bare(x[:256], 2, args.batch_size)  # warm up TensorFlow once, untimed
    bare, panel, extras = [], [], []
    for i in range(args.repeats):
        bare.append(run_bare(x, args.epochs, args.batch_size)[0])
        rate, extra = run_panel(x, y, args.epochs, args.batch_size)
        panel.append(rate)
        extras.append(extra)
        print(f"run {i + 1}/{args.repeats}: bare {bare[-1][0]:6.0f} rows/s ({bare[-1][1]:5.0f}/CPU-s)"
              f"   panel {rate[0]:6.0f} rows/s ({rate[1]:5.0f}/CPU-s)"
              f"   plot {extra['plot_renders_per_s']:.1f}/s, UI {extra['ui_updates_per_s']:.1f}/s",
              flush=True)
    med = statistics.median
    result = {
        "bare_rows_per_s_median": med(b[0] for b in bare),
        "panel_rows_per_s_median": med(p[0] for p in panel),
        "ratio_panel_over_bare": med(p[0] for p in panel) / med(b[0] for b in bare),
        "paired_ratio_median": med(p[0] / b[0] for p, b in zip(panel, bare)),
        "bare_rows_per_cpu_s_median": med(b[1] for b in bare),
        "panel_rows_per_cpu_s_median": med(p[1] for p in panel),
        "cpu_ratio_panel_over_bare": med(p[1] for p in panel) / med(b[1] for b in bare),
        "plot_renders_per_s_median": med(e["plot_renders_per_s"] for e in extras),
        "ui_updates_per_s_median": med(e["ui_updates_per_s"] for e in extras),
        "bare": bare,
        "panel": panel,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "rows": len(x),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
    }
    r = result
    print(f"\nmedian bare  {r['bare_rows_per_s_median']:6.0f} rows/s "
          f"({r['bare_rows_per_cpu_s_median']:.0f} per CPU-s)")
    print(f"median panel {r['panel_rows_per_s_median']:6.0f} rows/s "
          f"({r['panel_rows_per_cpu_s_median']:.0f} per CPU-s)")
    print(f"ratio panel/bare {r['ratio_panel_over_bare']:.3f} (paired {r['paired_ratio_median']:.3f},"
          f" target >= 0.95); CPU-time ratio {r['cpu_ratio_panel_over_bare']:.3f};"
          f" plot {r['plot_renders_per_s_median']:.1f}/s, UI {r['ui_updates_per_s_median']:.1f}/s;"
          f" {r['machine']}")
    out = Path(__file__).parent / "results" / "panel.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
