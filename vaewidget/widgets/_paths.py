"""Where a path typed into a widget may lead: inside one files folder, nowhere else.

A notebook served as an app (Voila) lets people who do not own the server type
into the panel's Save/Load box and the viewer's CSV name. Those paths resolve
inside the ``files_root`` folder that the notebook's author chose (the working
directory by default); an absolute path, ``~``, ``..`` or a symbolic link that
leads out of it is refused. The Python API (``panel.save(path)``,
``viewer.save_csv(path)``) is the author's own code and keeps full paths.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_EXPECTED = "Expected a relative file name inside the files folder, such as {example!r}."


def check_files_root(root: Any) -> Path:
    """The folder typed paths resolve in: ``root`` (an existing folder) or, when
    ``None``, the working directory at this call."""
    if root is None:
        return Path.cwd().resolve()
    if not isinstance(root, (str, os.PathLike)) or not str(root).strip():
        raise ValueError(f"Expected files_root to be a folder path or None. Received: {root!r}")
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise ValueError(f"Expected files_root to be an existing folder. Received: {str(root)!r}")
    return path


def resolve_typed(text: Any, root: Path, example: str = "models/vae.keras") -> Path:
    """Resolve ``text``, typed by whoever uses the widget, inside ``root``.

    Returns the resolved path (symbolic links followed), which lies inside
    ``root``. Raises ``ValueError`` naming the problem otherwise.
    """
    raw = "" if text is None else str(text).strip()
    expected = _EXPECTED.format(example=example)
    if not raw:
        raise ValueError(f"{expected} Received: an empty name.")
    if "\x00" in raw:
        raise ValueError(f"{expected} Received: {raw!r}, which holds a NUL character.")
    if raw.startswith("~"):
        raise ValueError(f"{expected} Received: {raw!r}: '~' (a home folder) is not allowed here.")
    if os.path.isabs(raw):
        raise ValueError(f"{expected} Received: {raw!r}, an absolute path.")
    lexical = Path(os.path.normpath(root / raw))
    if not _inside(lexical, root):
        raise ValueError(f"{expected} Received: {raw!r}, which leads out of it ('..').")
    resolved = (root / raw).resolve()
    if not _inside(resolved, root):
        raise ValueError(
            f"{expected} Received: {raw!r}, which leads out of it through a symbolic link."
        )
    return resolved


def shown(path: Path, root: Path) -> str:
    """``path`` as the widget's user typed it: relative to ``root``."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
