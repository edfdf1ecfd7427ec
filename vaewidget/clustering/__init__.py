"""Clustering in the latent space: the engine (ClusterPipeline), HDBSCAN, scores and the
VAEClusterer estimator."""

from vaewidget.clustering.estimator import VAEClusterer
from vaewidget.clustering.hdbscan_tools import fit_hdbscan, make_projector, project_2d
from vaewidget.clustering.metrics import score_clustering
from vaewidget.clustering.pipeline import ClusterPipeline, ClusterResult

__all__ = ["ClusterPipeline", "ClusterResult", "VAEClusterer", "fit_hdbscan", "make_projector",
           "project_2d", "score_clustering"]
