"""The README's first command, `make demo`, really serves the quickstart notebook."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_demo_serves_the_quickstart(tmp_path):
    port = _free_port()
    venv = Path(sys.prefix)  # the environment running the tests: install is then quick
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "demo", f"PORT={port}", f"VENV={venv}"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
        )
    try:
        url, deadline = None, time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"Open: (http://127\.0\.0\.1:\d+/lab/tree/\S+)", log.read_text())
            if found:
                url = found.group(1)
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        assert response.status == 200
                        assert "JupyterLab" in response.read().decode()
                    break
                except OSError:
                    pass
            time.sleep(1)
        else:
            pytest.fail(f"make demo never served its URL.\n{log.read_text()[-3000:]}")
        assert url.endswith(tuple("0123456789abcdef")) and "01_quickstart.ipynb?token=" in url
        token = url.rsplit("token=", 1)[1]
        api = f"http://127.0.0.1:{port}/api/contents/notebooks/01_quickstart.ipynb?token={token}"
        with urllib.request.urlopen(api, timeout=10) as response:
            assert response.status == 200
        # The install step builds the package: no deprecation wall about its metadata.
        printed = log.read_text()
        assert "SetuptoolsDeprecationWarning" not in printed, printed[-3000:]
        assert "project.license" not in printed, printed[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
