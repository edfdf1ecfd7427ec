"""The code examples in README.md and docs/*.md run as written.

Every ```` ```python ```` block of a page runs, in order, in one namespace per page (as a
reader would run them in one notebook), in a fresh working folder. A block that is a
reference listing rather than an example (a signature, a method overview with
placeholder names) is preceded by ``<!-- not run: reason -->`` and only has to compile,
or, for a signature, to parse as an expression. Docstring examples run separately, as
doctests (``--doctest-modules`` in pyproject.toml).
"""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- not run: (?P<why>[^>]+?) -->\n)?```python\n(?P<code>.*?)^```",
                   re.S | re.M)


def blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(line number, code, reason it is not run or None) of each python block."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("why"))
            for m in BLOCK.finditer(text)]


RUN = [p for p in PAGES if any(why is None for _, _, why in blocks(p))]


def test_the_pages_have_examples():
    names = {p.name for p in RUN}
    assert {"README.md", "models.md", "trainer.md", "clustering.md", "panel.md",
            "viewer.md"} <= names, names


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_every_block_parses(path):
    """Run or not, each block is valid Python; a signature listing is a valid call."""
    for line, code, why in blocks(path):
        try:
            ast.parse(code)
        except SyntaxError:
            if why is None or "signature" not in why:
                raise
            ast.parse(code.replace("*,", ""), mode="eval")  # `f(a, *, b=1)`: a signature
        assert why is None or why.strip(), f"{path.name}:{line}: say why a block is not run"


def _close_everything(namespace: dict) -> None:
    from vaewidget import ClusterViewer, Trainer, VAEPanel

    for value in list(namespace.values()):
        if isinstance(value, VAEPanel | ClusterViewer):
            value.close()
        elif isinstance(value, Trainer):
            value.stop(wait=True, timeout=60)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", RUN, ids=[p.name for p in RUN])
def test_the_examples_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples write files (checkpoints, saved models)
    threads = set(threading.enumerate())
    namespace: dict = {"__name__": "__main__"}
    try:
        for line, code, why in blocks(path):
            if why is None:
                exec(compile(code, f"{path.name}, block at line {line}", "exec"), namespace)
    finally:
        _close_everything(namespace)
    for thread in threading.enumerate():  # closed widgets' threads end on their next wake-up
        if thread not in threads and thread.name.startswith("vaewidget"):
            thread.join(timeout=30)
    left = [t for t in threading.enumerate() if t not in threads and t.is_alive()
            and t.name.startswith("vaewidget")]
    assert not left, f"threads still running after the examples: {left}"
