"""``VAEClusterer``: a scikit-learn clusterer that finds clusters in a VAE's latent space."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_feature_names, check_is_fitted

from vaewidget.clustering import _defaults, recipe
from vaewidget.clustering._checks import check_input, check_row_shape, check_varies, fingerprint
from vaewidget.clustering.large import DEFAULT_MAX_FIT
from vaewidget.clustering.pipeline import ClusterPipeline, check_cluster_params

#: The fewest rows ``fit`` accepts: a validation-free VAE and HDBSCAN need a few neighbours.
MIN_ROWS = 3


class VAEClusterer(ClusterMixin, BaseEstimator):
    """Cluster data through the latent space of a variational autoencoder.

    ``fit`` trains a :class:`~vaewidget.VAE` on ``X``, encodes ``X`` to its latent
    means, optionally projects them with UMAP (the N2D recipe: a roomy latent,
    then a UMAP of it, then a density clusterer), and runs HDBSCAN, which finds
    the number of clusters itself and labels outliers ``-1``.

    Parameters
    ----------
    latent_dim
        Size of the VAE's latent code.
    hidden_units
        Dense layer sizes of the encoder; the decoder mirrors them.
    beta
        Weight of the KL term (``"auto"``: see *Defaults* below). Below 1 favours
        reconstruction, hence detail that separates clusters.
    kl_warmup_epochs
        Raise the KL weight linearly from 0 over this many epochs (0 = off).
    epochs, batch_size
        Training length. ``"auto"``: see *Defaults* below.
    learning_rate
        Adam's learning rate.
    noise_std
        Gaussian input noise while training (a denoising VAE); 0 = off.
    scaling
        Data scaling, passed to :class:`~vaewidget.DataPreparer`: ``"auto"``,
        ``"standard"``, ``"minmax"``, ``"counts"`` or ``"none"``.
    members
        VAEs trained side by side from different initial weights (an ensemble;
        see :class:`~vaewidget.VAE`). Their latent means are concatenated, so the
        code has ``members * latent_dim`` columns. 1 trains a single VAE; ``"auto"``:
        see *Defaults* below.
    projection
        ``"umap"``, ``"pca"``, ``None`` (cluster the latent itself) or ``"auto"``.
    n_components
        Dimensions of the projection.
    n_neighbors
        UMAP's neighbourhood size (``"auto"``: 30, or fewer on tiny data).
    min_cluster_size, min_samples
        HDBSCAN's smallest cluster and density smoothing (``"auto"``: see below).
    cluster_selection_method
        HDBSCAN's ``"eom"`` (excess of mass) or ``"leaf"``.
    noise
        ``"assign"`` (rows HDBSCAN leaves as noise take their neighbours' cluster)
        or ``"keep"`` (they stay ``-1``); see below.
    latent_scaling
        ``None`` (the latent means as they are) or ``"posterior"`` (weigh each latent
        dimension by the model's certainty in it before projection; see below).
    max_fit
        Above this many rows HDBSCAN fits a random subsample and labels the rest
        by approximate prediction (``None``: always every row).
    random_state
        Seed (int), ``numpy.random.RandomState`` or ``None``. An int seeds Keras
        (``keras.utils.set_random_seed``, which also seeds Python's and numpy's
        global generators), the VAE's sampling and UMAP, so two fits on the same
        machine give the same labels. UMAP with a seed runs on one thread.
    verbose
        0 silent, 1 a Keras progress bar, 2 one line per epoch; both also print
        the stages.

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_samples,)
        Cluster of each training row; ``-1`` is noise (with ``noise="assign"``, only
        when no cluster was found).
    probabilities_ : ndarray of float
        HDBSCAN's strength of each row's membership (0 for noise).
    outlier_scores_ : ndarray of float
        GLOSH outlier score of each row (higher = more of an outlier).
    n_clusters_ : int
        Number of clusters found, noise excluded.
    embedding_ : ndarray, shape (n_samples, members * latent_dim)
        Latent means of the training rows.
    projection_ : ndarray or None
        The space HDBSCAN clustered when a projection was used.
    model_ : VAE
        The trained model.
    projector_ : umap.UMAP, sklearn PCA or None
        The fitted projection.
    clusterer_ : hdbscan.HDBSCAN
        The fitted HDBSCAN (with prediction data).
    result_ : vaewidget.clustering.ClusterResult
        The engine's result, which the attributes above read: what
        :class:`~vaewidget.ClusterViewer` shows for the same data.
    fingerprint_ : str
        Digest of the training data (see :func:`~vaewidget.clustering._checks.fingerprint`).
    history_ : dict of str to list of float
        Per-epoch loss terms (``loss``, ``reconstruction_loss``, ``kl_loss``, ...).
    params_ : dict
        Every parameter as used, with each ``"auto"`` resolved.
    n_features_in_ : int
        Features per row (pixels for images).

    Notes
    -----
    **Defaults** adapt to the data by this rule (``vaewidget.clustering._defaults``),
    which sees only the data's size, shape and values, never labels:

    * ``scaling``: :class:`~vaewidget.DataPreparer`'s ``"auto"``: intensities and
      images (non-negative, one shared range) are min-max scaled to [0, 1] as a whole
      with a Bernoulli loss; other tables are standardized per column with a Gaussian
      loss, so columns on very different scales weigh alike;
    * ``beta``: 0.01 for either loss. A full KL weight (the plain ELBO) pulls the
      codes of a table's classes together: on the suite's tables it lost up to 0.5
      ARI against 0.01 (``docs/clustering-decisions.md``);
    * ``members``: 3 VAEs trained side by side, their 32-D latent means concatenated
      (96 columns). On the suite the ensemble raised the mean ARI from 0.485 to 0.514
      and kept 11 of 16 sets within the UMAP + HDBSCAN anchor (one VAE: 10), but it
      lost on digits (0.83 against 0.89 over 9 seeds) until intensity data trained
      twice as long (``epochs`` below; digits 0.875). Data that are cheap to fit get
      more, up to 9, while one member's training work (rows x epochs x the dense
      layers' weights) times the members stays within what three cost on a table of
      digits' size, and members x steps within 4,800 (on the suite: the tables of up to 846 rows get 9, two mid-size ones
      6, the 2,000 x 200 counts 4, the rest 3). Nine members steadied
      the small tables (iris 0.50 -> 0.56, breast cancer 0.61 -> 0.71 ARI, their seed
      spread 0.08 and 0.14 -> 0.01); ``members=1`` trains one VAE;
    * ``batch_size``: the power of two nearest ``n_samples / 30``, within [32, 256];
    * ``epochs``: enough for about 1,200 gradient steps shared among up to three
      members (400 each for three; more members train as long each), within [5, 60]; twice that for intensity data, the
      preparer's Bernoulli route (images, [0, 1] values, tables of integers on one
      shared scale), whose latent kept improving past 400 steps on the suite (digits,
      1,797 rows: batch 64, 28 epochs);
    * ``projection``: UMAP (2-D, ``min_dist=0``) from 20 to 50,000 rows; else none
      (HDBSCAN clusters the latent itself);
    * ``n_neighbors``: 30, capped at ``n_samples - 1``;
    * ``latent_scaling``: ``None``, the latent means as they are. ``"posterior"``
      divides each latent dimension by the model's typical posterior standard
      deviation in it before projection. It is an option, not the default: on the
      suite it separated rings and moons (shapes 0.93 against 0.50) but lost on iris
      (0.39 against 0.52) and texture (0.81 against 0.91);
    * ``min_cluster_size``: 1.5 % of the rows, at least 5;
    * ``min_samples``: ``min(10, min_cluster_size)``;
    * ``noise``: ``"assign"``: rows HDBSCAN leaves as noise take the cluster of most
      of their 10 nearest clustered neighbours (their ``probabilities_`` stay 0 and
      ``outlier_scores_`` still ranks them); ``"keep"`` leaves them ``-1``.

    The rule was chosen on the 16-dataset suite of ``benchmarks/suite.py`` against
    two label-free anchors (``benchmarks/README.md``, ``docs/clustering-decisions.md``).

    **scikit-learn checks**: ``check_estimator`` passes every check (run by
    ``tests/clustering/test_estimator.py`` with a tiny network and 2 epochs) but two,
    which may fail: ``check_methods_sample_order_invariance`` and
    ``check_methods_subset_invariance``. ``predict`` places each new row on the map by
    itself, so its labels do not depend on the other rows; but these checks also compare
    ``transform``'s float codes at a relative tolerance of 1e-7, and Keras's CPU matrix
    kernels can change a code's last bits with the row's place in the batch. One is skipped by scikit-learn itself: ``check_array_api_input``, which runs
    only with ``SCIPY_ARRAY_API=1``; VAEClusterer takes numpy-convertible input
    only. Bad input raises ``ValueError`` (non-numeric data a ``ValueError`` that
    is also a ``TypeError``, as the dtype check expects).

    Examples
    --------
    >>> from vaewidget import VAEClusterer, datasets
    >>> X, _ = datasets.make_manifold_clusters(300, n_clusters=3, n_features=8)
    >>> # A tiny, quick setting; the defaults suit real data (see docs/clustering.md).
    >>> clusterer = VAEClusterer(latent_dim=2, hidden_units=(16,), epochs=5, members=1,
    ...                          projection=None, random_state=0)
    >>> labels = clusterer.fit_predict(X)
    >>> labels.shape, clusterer.embedding_.shape
    ((300,), (300, 2))
    >>> clusterer.params_["min_cluster_size"]  # 1.5 % of the rows, at least 5
    5
    >>> clusterer.predict(X[:4]).shape        # new rows, through the same model
    (4,)
    """

    def __init__(
        self,
        latent_dim: int = 32,
        hidden_units: tuple[int, ...] = (512, 256),
        beta: float | str = "auto",
        kl_warmup_epochs: int = 0,
        epochs: int | str = "auto",
        batch_size: int | str = "auto",
        learning_rate: float = 1e-3,
        noise_std: float = 0.0,
        scaling: str = "auto",
        members: int | str = "auto",
        projection: str | None = "auto",
        n_components: int = 2,
        n_neighbors: int | str = "auto",
        min_cluster_size: int | str = "auto",
        min_samples: int | str | None = "auto",
        cluster_selection_method: str = "eom",
        noise: str = "assign",
        latent_scaling: str | None = None,
        max_fit: int | None = DEFAULT_MAX_FIT,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden_units = hidden_units
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.noise_std = noise_std
        self.scaling = scaling
        self.members = members
        self.projection = projection
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.noise = noise
        self.latent_scaling = latent_scaling
        self.max_fit = max_fit
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any = None) -> VAEClusterer:
        """Train the VAE on ``X``, encode it and cluster the codes.

        Parameters
        ----------
        X
            2-D ``(rows, features)``, or images ``(rows, H, W)`` / ``(rows, H, W, C)``:
            a numpy array, a numeric DataFrame or nested lists.
        y
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self
        """
        self._check_params()
        arr = check_input(X, name="X", min_rows=MIN_ROWS)
        check_varies(arr)
        params = _defaults.resolve(self.get_params(), arr)
        seed = self._seed()
        self._say(f"training a VAE on {arr.shape[0]} rows for {params['epochs']} epochs")
        model = recipe.build_model(arr, params, seed)
        history = recipe.train_model(model, arr, params, verbose=int(self.verbose))
        pipeline = ClusterPipeline.from_params(params, max_fit=self.max_fit, random_state=seed)
        self._say(f"projecting ({params['projection']}) and clustering with HDBSCAN")
        result = pipeline.run(model, arr)
        # Attributes are set only now, so a fit that fails leaves a fitted estimator intact.
        _check_feature_names(self, X, reset=True)
        self.n_features_in_ = int(np.prod(arr.shape[1:]))
        self.row_shape_ = tuple(int(d) for d in arr.shape[1:])
        self.params_ = params
        self.model_ = model
        self.result_ = result
        self.history_ = history
        self.fingerprint_ = fingerprint(arr)
        self._say(f"found {result.n_clusters} clusters; {result.noise_fraction:.1%} noise")
        for note in result.notes:
            self._say(note)
        return self

    # Per-row results and fitted parts, read from the engine's result.
    labels_ = property(lambda self: self.result_.labels,
                       doc="Cluster of each training row; ``-1`` is noise.")
    probabilities_ = property(lambda self: self.result_.probabilities,
                              doc="HDBSCAN's membership strength of each row (0 for noise).")
    outlier_scores_ = property(lambda self: self.result_.outlier_scores,
                               doc="GLOSH outlier score of each row.")
    n_clusters_ = property(lambda self: self.result_.n_clusters,
                           doc="Number of clusters found, noise excluded.")
    embedding_ = property(lambda self: self.result_.embedding,
                          doc="Latent means of the training rows.")
    projector_ = property(
        lambda self: self.result_.projector,
        doc="The fitted projection. A UMAP fitted on up to 20,000 distinct rows (codes "
            "without repeats) was handed its neighbours and has no search index of its "
            "own, so its ``transform`` raises; "
            ":meth:`predict` places new rows without it.")
    clusterer_ = property(lambda self: self.result_.clusterer, doc="The fitted HDBSCAN.")

    @property
    def projection_(self) -> np.ndarray | None:
        """The space HDBSCAN clustered when a projection was used, else ``None``."""
        return None if self.result_.projector is None else self.result_.space

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``embedding_``, the latent means of ``X``."""
        return self.fit(X).embedding_

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit and return ``labels_`` (``-1`` is noise)."""
        return self.fit(X).labels_

    # ------------------------------------------------------------- new data
    def transform(self, X: Any) -> np.ndarray:
        """Latent means of ``X``: an array of shape ``(n_samples, latent_dim)``."""
        arr = self._check_new(X)
        return self.model_.embed(arr)

    def predict(self, X: Any) -> np.ndarray:
        """Label new rows with HDBSCAN's approximate prediction (``-1`` is noise).

        The rows go through the same model and projection as the training data;
        the clusters themselves do not change.
        """
        return self.approximate_predict(X)[0]

    def approximate_predict(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Labels of new rows and their membership strengths (0 for noise), as hdbscan gives."""
        z = self.transform(X)
        return self.pipeline().predict(self.result_, z)

    def pipeline(self) -> ClusterPipeline:
        """The fitted :class:`~vaewidget.clustering.ClusterPipeline` settings, as resolved."""
        check_is_fitted(self, "result_")
        return ClusterPipeline.from_params(self.params_, max_fit=self.max_fit,
                                           random_state=self._seed())

    def _check_new(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "result_")
        arr = check_input(X, name="X")
        check_row_shape(arr, self.row_shape_, type(self).__name__)
        _check_feature_names(self, X, reset=False)
        return arr

    # ------------------------------------------------------------- helpers
    def _check_params(self) -> None:
        if not _is_int(self.latent_dim) or self.latent_dim < 1:
            raise ValueError(f"Expected latent_dim >= 1. Received: latent_dim={self.latent_dim!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value != "auto" and (not _is_int(value) or value < 1):
                raise ValueError(
                    f"Expected {name} to be a positive int or 'auto'. Received: {name}={value!r}"
                )
        check_cluster_params(self.get_params())
        if self.max_fit is not None and (not _is_int(self.max_fit) or self.max_fit < 2):
            raise ValueError(f"Expected max_fit >= 2 or None. Received: max_fit={self.max_fit!r}")
        if self.beta != "auto" and (
            not isinstance(self.beta, (int, float, np.number))
            or isinstance(self.beta, bool)
            or not float(self.beta) >= 0
        ):
            raise ValueError(
                f"Expected beta to be a number >= 0 or 'auto'. Received: beta={self.beta!r}"
            )
        if not float(self.learning_rate) > 0:
            raise ValueError(
                f"Expected learning_rate > 0. Received: learning_rate={self.learning_rate}"
            )

    def _seed(self) -> int | None:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"[VAEClusterer] {message}", flush=True)

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        # transform() gives float32 latent means whatever the input dtype.
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags



def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
