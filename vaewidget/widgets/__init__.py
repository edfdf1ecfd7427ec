"""Notebook widgets: the training panel and the latent-cluster viewer."""

from vaewidget.widgets.panel import VAEPanel

__all__ = ["VAEPanel"]
