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


def epoch_clock(trainer) -> list[float]:
    stamps: list[float] = []
    trainer.on_epoch(lambda epoch, logs: stamps.append(time.perf_counter()))
    return stamps


def throughput(stamps: list[float], rows_per_epoch: int) -> float:
    if len(stamps) < 2:
        raise RuntimeError("Expected at least 2 epochs to time. Use --epochs >= 2.")
    return (len(stamps) - 1) * rows_per_epoch / (stamps[-1] - stamps[0])


def run_bare(x, epochs: int, batch_size: int) -> tuple[float, dict]:
    from vaewidget import VAE, Trainer

    model = VAE.from_data(x, **OPTIONS)
    trainer = Trainer(model, x, epochs=epochs, batch_size=batch_size, validation_split=0.1)
    stamps = epoch_clock(trainer)
    trainer.start()
    trainer.wait()
    assert trainer.state == "finished", trainer.error
    return throughput(stamps, len(x) - round(0.1 * len(x))), {}


def run_panel(x, y, epochs: int, batch_size: int) -> tuple[float, dict]:
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
        print(f"run {i + 1}/{args.repeats}: bare {bare[-1]:8.0f} rows/s   panel {rate:8.0f} rows/s"
              f"   (plot {extra['plot_renders_per_s']:.1f}/s, UI {extra['ui_updates_per_s']:.1f}/s,"
              f" one plot draw {1000 * extra['plot_render_s']:.0f} ms)", flush=True)
    result = {
        "bare_rows_per_s_median": statistics.median(bare),
        "panel_rows_per_s_median": statistics.median(panel),
        "ratio_panel_over_bare": statistics.median(panel) / statistics.median(bare),
        "plot_renders_per_s_median": statistics.median(e["plot_renders_per_s"] for e in extras),
        "ui_updates_per_s_median": statistics.median(e["ui_updates_per_s"] for e in extras),
        "bare": bare,
        "panel": panel,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "rows": len(x),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
    }
    print(f"\nmedian bare  {result['bare_rows_per_s_median']:8.0f} rows/s")
    print(f"median panel {result['panel_rows_per_s_median']:8.0f} rows/s")
    print(f"ratio panel/bare {result['ratio_panel_over_bare']:.3f}  (target >= 0.95)")
    out = Path(__file__).parent / "results" / "panel.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
