"""Clustering in the latent space: HDBSCAN, projections, scores and the VAEClusterer estimator."""

from vaewidget.clustering.estimator import VAEClusterer
from vaewidget.clustering.hdbscan_tools import fit_hdbscan, make_projector, project_2d
from vaewidget.clustering.metrics import score_clustering

__all__ = ["VAEClusterer", "fit_hdbscan", "make_projector", "project_2d", "score_clustering"]
