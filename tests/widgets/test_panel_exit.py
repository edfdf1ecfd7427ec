"""A script that never closes its panel exits cleanly, while training and redrawing.

At interpreter exit, a daemon thread still inside TensorFlow (the training thread, or
the panel's redraw thread reconstructing images) can abort the process with
"terminate called without an active exception". The panel and the trainer stop
their threads from ``atexit`` hooks; this runs such scripts several times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from vaewidget import VAEPanel
    from vaewidget.datasets import load_digits

    x, y = load_digits(images=True)
    panel = VAEPanel(x, labels=y, latent_dim=2, epochs=1000, update_rate=50)
    if sys.argv[1] == "clusters":
        panel.tab.selected_index = 1
    redrawn = threading.Event()
    panel.plot.image.observe(lambda change: redrawn.set(), "value")
    trainer = panel.train()
    assert redrawn.wait(180) and trainer.progress["batch"] > 0, panel.status.text
    print("exiting while", trainer.state, flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("tab", ["training", "clusters"])
def test_exit_without_closing_the_panel_is_clean(tmp_path, tab):
    script = tmp_path / "exit_with_panel.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for attempt in range(3):
        done = subprocess.run([sys.executable, str(script), tab], capture_output=True,
                              text=True, timeout=280, env=env)
        assert "exiting while running" in done.stdout, done.stderr[-3000:]
        assert "terminate called" not in done.stderr, (attempt, done.stderr[-3000:])
        assert done.returncode == 0, (attempt, done.returncode, done.stderr[-3000:])
