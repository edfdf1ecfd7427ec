"""Notebook widgets: the training panel and the latent-cluster viewer."""

from vaewidget.widgets.panel import VAEPanel
from vaewidget.widgets.viewer import ClusterViewer as ClusterViewer  # noqa: F401

__all__ = ["ClusterViewer", "VAEPanel"]
