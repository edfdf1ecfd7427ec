"""Background training: a thread that owns the model, steered from the notebook.

:class:`Trainer` starts, pauses, resumes and stops ``model.fit`` without
blocking the kernel, reports live metrics and keeps every finished epoch.
It imports no widgets; the panel in :mod:`vaewidget.widgets` drives it.
"""

from vaewidget.training.state import STATES
from vaewidget.training.trainer import Trainer

__all__ = ["STATES", "Trainer"]
