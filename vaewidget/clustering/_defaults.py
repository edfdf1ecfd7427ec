"""The one rule by which every ``"auto"`` setting adapts to the data.

``VAEClusterer``, ``ClusterPipeline``, ``ClusterViewer`` and ``VAEPanel`` all resolve
their defaults here, so the same data gets the same model, training and clustering
whichever door it comes through. Only the data's size, row shape and value range
enter the rule; labels never do. docs/clustering.md states the rule in words.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaewidget._validation import positive_int

#: VAEs in the default ensemble (see MODEL_DEFAULTS), and the most that "auto" members
#: grows it to when the data are cheap to fit (see MEMBER_BUDGET).
ENSEMBLE, MAX_MEMBERS = 3, 9
#: Model and training settings a VAEClusterer() starts from (before "auto" is resolved).
MODEL_DEFAULTS: dict[str, Any] = {
    "latent_dim": 32,
    "hidden_units": (512, 256),
    "beta": "auto",
    "kl_warmup_epochs": 0,
    "epochs": "auto",
    "batch_size": "auto",
    "learning_rate": 1e-3,
    "noise_std": 0.0,
    "scaling": "auto",
    # VAEs side by side from different initial weights, their latent means concatenated.
    # Three: the suite's mean ARI 0.485 -> 0.514 and 10 -> 11 of 16 sets within the
    # UMAP + HDBSCAN anchor, at about one VAE's training cost (docs/clustering-decisions.md).
    # "auto" adds members up to MAX_MEMBERS while the fit stays within MEMBER_BUDGET.
    "members": "auto",
}
#: Clustering settings a ClusterPipeline() starts from.
CLUSTER_DEFAULTS: dict[str, Any] = {
    "projection": "auto",
    "n_components": 2,
    "n_neighbors": "auto",
    "min_cluster_size": "auto",
    "min_samples": "auto",
    "cluster_selection_method": "eom",
    "cluster_selection_epsilon": 0.0,
    "noise": "assign",
    "latent_scaling": None,
}
#: What happens to the rows HDBSCAN leaves as noise: "assign" gives each the cluster most
#: of its nearest clustered neighbours (in the clustered space) belong to; "keep" leaves -1.
NOISE_CHOICES = ("assign", "keep")
#: How the latent is weighted before it is projected: None (the default) uses the latent
#: means as they are; "posterior" divides each dimension by the model's typical posterior
#: standard deviation in it (the root of the mean variance over the rows), so dimensions
#: the model encodes sharply count more and those left near the N(0, 1) prior count less.
#: It separated the suite's rings and moons (shapes 0.50 -> 0.93 ARI) but lost on iris
#: (0.52 -> 0.39) and texture (0.91 -> 0.81); the suite mean moved within its seed noise
#: (0.485 -> 0.492, both with the count route) while fewer sets stayed within the
#: UMAP + HDBSCAN anchor, so it is an option, not the default (docs/clustering-decisions.md). Models
#: without variances (an Autoencoder, or codes given directly) are never weighted.
LATENT_SCALINGS = ("posterior", None)
#: Neighbours that vote on a noise row's cluster.
NOISE_NEIGHBOURS = 10

#: Gradient steps the "auto" epoch count aims for, and its bounds. An ensemble of
#: ``members`` VAEs (trained side by side, each step costing ``members`` times one VAE's)
#: aims for TARGET_STEPS / members, so three cost about what one VAE costs; members past
#: ENSEMBLE each train as long as one of three (TARGET_STEPS / ENSEMBLE) and add cost.
TARGET_STEPS = 1200
#: Training work "auto" members may spend, in multiply-adds of one forward pass summed
#: over epochs, rows and members (``training_work``): about what three members spend on a
#: table of digits' size (1,797 x 64, 28 epochs: 5.3e10; some 20 s of a default fit on two
#: cores). Data cheaper than that to fit get more members (at most MAX_MEMBERS), which
#: steadied the small tables' latent: nine members against three on iris 0.503 -> 0.560
#: and breast cancer 0.611 -> 0.712 ARI, with the seed spread 0.08 / 0.14 -> 0.01
#: (docs/clustering-decisions.md).
MEMBER_BUDGET = 5e10
#: On small data a step's fixed cost outweighs its arithmetic: about 8-9 ms per member and
#: step on two cores (iris, nine members x 300 steps: 28 s; libras, six x 720: 40 s), which
#: MEMBER_BUDGET does not see. "auto" members also keep members x steps within this, so a
#: default fit stays well inside the 60-s target (about 45 s at most on that machine).
MEMBER_STEP_BUDGET = 4800
#: Intensity data (images, and tables whose columns share one scale: DataPreparer's
#: Bernoulli route) aims for this many times TARGET_STEPS. Measured side by side on the
#: suite's four such sets (seeds 0-2): digits 0.824 -> 0.881, letter 0.124 -> 0.161,
#: libras 0.368 -> 0.382, mnist5k 0.619 -> 0.625, at up to 1.7x their fit time. Longer
#: training lost on standardized tables (breast cancer, vehicle, manifold, iris:
#: docs/clustering-decisions.md), so they keep TARGET_STEPS.
INTENSITY_STEPS_FACTOR = 2
MIN_EPOCHS, MAX_EPOCHS = 5, 60
#: Below this many rows UMAP's neighbour graph has too few points to mean anything; the
#: latent itself is clustered.
MIN_ROWS_FOR_UMAP = 20
#: Above this many rows the default clusters the latent itself: a UMAP fit grows
#: too slow for an interactive tool (minutes at 10^5 rows on two cores).
MAX_ROWS_FOR_UMAP = 50_000
#: KL weight, for a Bernoulli and a Gaussian likelihood alike (see the Notes of VAEClusterer).
BETA = 0.01
#: UMAP's neighbourhood size: wide enough for a cluster's structure, capped at rows - 1.
N_NEIGHBORS = 30
#: HDBSCAN's smallest cluster as a share of the rows (at least MIN_CLUSTER_SIZE rows).
CLUSTER_SHARE, MIN_CLUSTER_SIZE = 0.015, 5
#: HDBSCAN's density smoothing (capped at min_cluster_size).
MIN_SAMPLES = 10


def resolve_model(params: dict[str, Any], arr: np.ndarray) -> dict[str, Any]:
    """Resolve the model and training settings (scaling, beta, batch size, epochs).

    Parameters
    ----------
    params
        Settings as given; missing keys take :data:`MODEL_DEFAULTS`.
    arr
        The training data (raw units), as checked by the caller.

    Returns
    -------
    dict
        A new dict with every model and training setting concrete.
    """
    n = int(arr.shape[0])
    out = {**MODEL_DEFAULTS, **params}
    auto_members = isinstance(out["members"], str) and out["members"] == "auto"
    if not auto_members:
        try:
            out["members"] = positive_int("members", out["members"])
        except ValueError:
            raise ValueError('Expected an integer members >= 1 or "auto". '
                             f'Received: members={out["members"]!r}') from None
    # scaling "auto" stays "auto": DataPreparer's rule decides from the values (intensities
    # and images: one global min-max to [0, 1], Bernoulli loss; other tables: standardized
    # per column, Gaussian loss).
    if out["beta"] == "auto":
        out["beta"] = BETA
    if out["batch_size"] == "auto":
        out["batch_size"] = int(min(256, max(32, 2 ** round(math.log2(max(n, 1) / 30)))))
    batches = max(1, math.ceil(n / out["batch_size"]))
    # The preparer's route, only when an "auto" needs it (it reads the data once).
    intensity = (auto_members or out["epochs"] == "auto") and bernoulli_route(arr, out["scaling"])

    def auto_epochs(members: int) -> int:
        steps = TARGET_STEPS / min(members, ENSEMBLE)
        if intensity:
            steps *= INTENSITY_STEPS_FACTOR
        return int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(steps / batches))))

    if auto_members:
        # The work of one member trained for the default length, whatever epochs were
        # given: cutting the epochs for a quick look does not change the model.
        epochs = auto_epochs(ENSEMBLE)
        one = training_work(arr.shape, out["hidden_units"], out["latent_dim"], epochs)
        affordable = min(MEMBER_BUDGET // max(one, 1), MEMBER_STEP_BUDGET // (epochs * batches))
        out["members"] = int(min(MAX_MEMBERS, max(ENSEMBLE, affordable)))
    if out["epochs"] == "auto":
        out["epochs"] = auto_epochs(out["members"])
    return out


def training_work(shape: tuple[int, ...], hidden_units: Any, latent_dim: Any,
                  epochs: Any) -> float:
    """Multiply-adds of one member's forward passes over ``epochs`` epochs of ``shape`` data.

    The dense layers' weights (encoder to the mean and log-variance, and the decoder
    back) times the rows and epochs: the measure :data:`MEMBER_BUDGET` is set in. Sizes
    that are not numbers give infinity (``"auto"`` members then stay at ENSEMBLE); the
    model itself reports them.
    """
    columns = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    try:
        widths = [int(h) for h in hidden_units]
        latent = int(latent_dim)
        passes = float(epochs) * int(shape[0])
    except (TypeError, ValueError):
        return float("inf")
    layers = [columns, *widths]
    weights = sum(a * b for a, b in zip(layers[:-1], layers[1:]))
    weights = 2 * weights + layers[-1] * latent * 3  # decoder mirrors; mean, log-var, back
    return passes * weights


def bernoulli_route(arr: Any, scaling: Any = "auto") -> bool:
    """Whether :class:`~vaewidget.DataPreparer` gives ``arr`` a Bernoulli likelihood.

    That is its route for intensities: images, values already in [0, 1], and tables of
    non-negative integers whose columns share one scale. A ``scaling`` it does not know,
    or data it refuses, answers False here; the model's own preparer reports those.
    """
    from vaewidget.models.preprocessing import SCALINGS, DataPreparer

    if scaling not in SCALINGS:
        return False
    try:
        return DataPreparer(scaling=scaling).fit(arr).reconstruction_ == "bce"
    except ValueError:
        return False


def resolve_clustering(params: dict[str, Any], n_rows: int, n_dims: int | None = None
                       ) -> dict[str, Any]:
    """Resolve the projection and HDBSCAN settings for ``n_rows`` points.

    Parameters
    ----------
    params
        Settings as given; missing keys take :data:`CLUSTER_DEFAULTS`.
    n_rows
        Rows to cluster.
    n_dims
        Dimensions of the latent codes, when known: a latent no larger than the
        projection's ``n_components`` is clustered as it is.

    Returns
    -------
    dict
        A new dict with every clustering setting concrete (``projection`` may be ``None``).
    """
    n = int(n_rows)
    out = {**CLUSTER_DEFAULTS, **params}
    if out["projection"] == "auto":
        small_latent = n_dims is not None and n_dims <= int(out["n_components"])
        wanted = MIN_ROWS_FOR_UMAP <= n <= MAX_ROWS_FOR_UMAP and not small_latent
        out["projection"] = "umap" if wanted else None
    if out["n_neighbors"] == "auto":
        out["n_neighbors"] = int(min(N_NEIGHBORS, max(2, n - 1)))
    if out["min_cluster_size"] == "auto":
        out["min_cluster_size"] = int(max(MIN_CLUSTER_SIZE, round(CLUSTER_SHARE * n)))
    out["min_cluster_size"] = int(min(out["min_cluster_size"], max(2, n - 1)))
    if out["min_samples"] == "auto":
        out["min_samples"] = int(min(MIN_SAMPLES, out["min_cluster_size"]))
    return out


def resolve(params: dict[str, Any], arr: np.ndarray) -> dict[str, Any]:
    """Replace each ``"auto"`` in ``params`` by its value for the data ``arr``.

    Returns a new dict with every model, training and clustering setting concrete;
    the estimator stores it as ``params_``.
    """
    model = resolve_model(params, arr)
    return resolve_clustering(model, int(arr.shape[0]),
                              int(model["latent_dim"]) * int(model["members"]))
