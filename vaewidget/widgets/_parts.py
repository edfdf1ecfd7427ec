"""Small display pieces of the panel: data summary, status messages, number formats."""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets

STATE_COLOURS = {
    "idle": "#555", "running": "#1a7f37", "paused": "#9a6700", "stopping": "#9a6700",
    "stopped": "#555", "finished": "#0969da", "failed": "#cf222e",
}
LEVEL_COLOURS = {"info": "#333", "warning": "#9a6700", "error": "#cf222e"}


def summary_html(summary: dict[str, Any], n_rows: int, n_labels: int | None,
                 model: Any = None) -> str:
    """The data box: shape, kind, value range, scaling and why; and the model's code."""
    lo, hi = summary["value range"]
    rows = [
        ("rows", f"{n_rows:,}"),
        ("row shape", " x ".join(str(d) for d in summary["row shape"])),
        ("kind", summary["kind"]),
        ("value range", f"[{lo:.4g}, {hi:.4g}]"),
        ("scaling", summary["scaling"]),
        ("reconstruction", summary["reconstruction"]),
        ("constant columns", str(summary["constant columns"])),
    ]
    if n_labels is not None:
        rows.append(("labels", f"{n_labels} classes (for the cluster viewer)"))
    if model is not None:
        kind = type(model).__name__
        members = int(getattr(model, "members", 1))
        rows.append(("model", f"{members} {kind}s side by side, a {model.latent_dim}-D code "
                              f"each ({model.code_dim} columns)" if members > 1
                     else f"one {kind}, a {model.latent_dim}-D code"))
    body = "".join(
        f"<tr><td style='padding-right:8px;color:#666'>{k}</td><td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    why = html.escape(str(summary["why"]))
    return (f"<div style='line-height:1.35'><b>Data</b>"
            f"<table style='font-size:12px;line-height:1.35'>{body}</table>"
            f"<div style='font-size:11px;color:#666;max-width:320px;margin-top:4px'>"
            f"Why: {why}</div></div>")


def button(label: str, icon: str, css: str, tooltip: str, style: str = "") -> widgets.Button:
    b = widgets.Button(description=label, icon=icon, tooltip=tooltip, button_style=style,
                       layout=widgets.Layout(width="110px"))
    b.add_class(css)
    return b


def close_tree(widget: widgets.Widget) -> None:
    """Close ``widget`` and every widget it holds (children, layout, style, ...).

    ``Widget.close()`` closes one widget only; the rest stay registered in the
    kernel, and through their callbacks they keep models and figures alive.
    """
    seen: set[int] = set()
    stack = [widget]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        for name in w.keys:
            value = getattr(w, name, None)
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(item, widgets.Widget):
                    stack.append(item)
        w.close()


def hidden(widget: widgets.Widget, hide: bool) -> None:
    widget.layout.display = "none" if hide else None


def duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "-"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class StatusLog:
    """The status area: the latest messages, newest first, errors in red."""

    def __init__(self, keep: int = 6) -> None:
        self.keep = keep
        self.messages: list[tuple[str, str, str]] = []  # (time, level, text)
        self.widget = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.widget.add_class("vaew-status")
        self.widget.value = self._html()

    def add(self, text: str, level: str = "info") -> None:
        self.messages.insert(0, (time.strftime("%H:%M:%S"), level, str(text)))
        del self.messages[self.keep:]
        self.widget.value = self._html()

    @property
    def text(self) -> str:
        """All shown messages as plain text, newest first."""
        return "\n".join(f"{level}: {msg}" for _, level, msg in self.messages)

    def _html(self) -> str:
        if not self.messages:
            return "<div style='color:#666;font-size:12px'>No messages.</div>"
        lines = "".join(
            f"<div class='vaew-msg vaew-msg-{level}' style='color:{LEVEL_COLOURS[level]};"
            f"font-size:12px;line-height:1.4'>{t} <b>{level}</b>: {html.escape(msg)}</div>"
            for t, level, msg in self.messages
        )
        return f"<div>{lines}</div>"
