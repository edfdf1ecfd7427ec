"""VaDE on digits: does a Gaussian-mixture prior beat the default VAE's latent? (issue 7).

Each run pretrains the ``VAEClusterer()`` default VAE (on digits: latent 32, hidden (512, 256),
beta 0.01, 41 epochs, batch 64). It fits a diagonal ``GaussianMixture`` to the latent
means, with K = the number of clusters the default UMAP + HDBSCAN finds there; labels
never enter. It then fine-tunes with VaDE's KL term (Jiang et al., 2017), weighted by
``w``, and clusters the new latent with the same UMAP + HDBSCAN. ``w = 0`` is the
control: the same fine-tuning under the usual N(0, I) prior. Labels only score.

Command (repository root; the figures are in benchmarks/README.md, round 4)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/vade_digits.py --weights 0 0.01 0.1
"""

from __future__ import annotations

import argparse
import os
import sys

import keras
import numpy as np
from keras import ops
from sklearn.mixture import GaussianMixture

sys.path.insert(0, os.path.dirname(__file__))
from quality import load  # noqa: E402

from vaewidget.clustering import (  # noqa: E402
    VAEClusterer,
    _defaults,
    fit_hdbscan,
    make_projector,
    score_clustering,
)
from vaewidget.models import VAE  # noqa: E402
from vaewidget.models.losses import reconstruction_loss  # noqa: E402

LOG_2PI = float(np.log(2 * np.pi))


class VaDE(VAE):
    """A VAE whose prior becomes a learnable diagonal Gaussian mixture after ``set_prior``."""

    mixture = False

    def set_prior(self, gmm: GaussianMixture, weight: float) -> None:
        const = keras.initializers.Constant
        self.pi_logit = self.add_weight(shape=gmm.weights_.shape, initializer=const(np.log(gmm.weights_)))
        self.mu_c = self.add_weight(shape=gmm.means_.shape, initializer=const(gmm.means_))
        self.logvar_c = self.add_weight(
            shape=gmm.covariances_.shape, initializer=const(np.log(gmm.covariances_))
        )
        self.weight, self.mixture = float(weight), True

    def responsibilities(self, z):
        diff = ops.expand_dims(z, 1) - self.mu_c
        log_pz_c = -0.5 * ops.sum(
            LOG_2PI + self.logvar_c + ops.square(diff) / ops.exp(self.logvar_c), axis=-1
        )
        return ops.softmax(ops.log_softmax(self.pi_logit) + log_pz_c, axis=-1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not self.mixture:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        mu, log_var = y_pred["z_mean"], y_pred["z_log_var"]
        recon = ops.mean(reconstruction_loss(x, y_pred["reconstruction"], self.reconstruction))
        z = mu + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mu), seed=self.seed_generator)
        gamma = self.responsibilities(z)
        # E_q[log q(z|x)] - E_q[log p(z, c)] + E_q[log q(c|x)], in closed form given gamma.
        per_c = ops.sum(
            self.logvar_c
            + ops.exp(ops.expand_dims(log_var, 1) - self.logvar_c)
            + ops.square(ops.expand_dims(mu, 1) - self.mu_c) / ops.exp(self.logvar_c),
            axis=-1,
        )
        log_pi = ops.log_softmax(self.pi_logit)
        kl = (
            0.5 * ops.sum(gamma * per_c, -1)
            - ops.sum(gamma * (log_pi - ops.log(gamma + 1e-10)), -1)
            - 0.5 * ops.sum(1.0 + log_var, -1)
        )
        self.reconstruction_tracker.update_state(recon)
        self.kl_tracker.update_state(ops.mean(kl))
        return recon + self.weight * ops.mean(kl)


def default_params(x: np.ndarray) -> dict:
    """``VAEClusterer()``'s parameters for ``x``, every ``"auto"`` resolved by its own rule."""
    return _defaults.resolve(VAEClusterer().get_params(), x)


def cluster(z: np.ndarray, seed: int, params: dict) -> np.ndarray:
    """The ``VAEClusterer()`` default projection and HDBSCAN."""
    emb = make_projector(
        "umap", params["n_components"], seed, n_neighbors=params["n_neighbors"], min_dist=0.0
    ).fit_transform(z)
    return fit_hdbscan(
        emb, min_cluster_size=params["min_cluster_size"], min_samples=params["min_samples"]
    ).labels_


def run(seed: int, weight: float, finetune_epochs: int) -> dict[str, float]:
    x, y = load("digits")
    p = default_params(x)
    keras.utils.set_random_seed(seed)
    model = VaDE.from_data(
        x, latent_dim=p["latent_dim"], hidden_units=p["hidden_units"], beta=p["beta"],
        seed=seed, scaling=p["scaling"],
    )
    model.compile(optimizer=keras.optimizers.Adam(p["learning_rate"]))
    data = model.prepare(x)
    model.fit(data, epochs=p["epochs"], batch_size=p["batch_size"], shuffle=True, verbose=0)
    z = model.embed(x)
    pre = score_clustering(y, cluster(z, seed, p))
    gmm = GaussianMixture(pre["n_clusters"], covariance_type="diag", random_state=seed,
                          reg_covar=1e-4).fit(z)
    out = {"pretrained": pre["ari"], "k": pre["n_clusters"],
           "gmm_argmax": score_clustering(y, gmm.predict(z))["ari"]}
    if weight > 0:
        model.set_prior(gmm, weight)
    model.compile(optimizer=keras.optimizers.Adam(5e-4))
    model.fit(data, epochs=finetune_epochs, batch_size=p["batch_size"], shuffle=True, verbose=0)
    z = model.embed(x)
    after = score_clustering(y, cluster(z, seed, p))
    out.update(finetuned=after["ari"], coverage=after["coverage"])
    if weight > 0:
        gamma = np.asarray(model.responsibilities(ops.convert_to_tensor(z)))
        out["mixture_argmax"] = score_clustering(y, gamma.argmax(1))["ari"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.01, 0.1])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. n-1")
    parser.add_argument("--finetune-epochs", type=int, default=20)
    args = parser.parse_args()
    for weight in args.weights:
        rows = [run(s, weight, args.finetune_epochs) for s in range(args.seeds)]
        for s, r in enumerate(rows):
            print(f"w={weight} seed={s} " + " ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
            ), flush=True)
        print(f"w={weight}: fine-tuned ARI mean {np.mean([r['finetuned'] for r in rows]):.3f}"
              f" (pretrained {np.mean([r['pretrained'] for r in rows]):.3f})", flush=True)


if __name__ == "__main__":
    main()
