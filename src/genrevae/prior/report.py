"""The held-out comparison of the three priors (``N(0, I)``, the VAR, the learned prior).

What ``prior.json``'s ``report`` holds: negative log-likelihood per latent frame and per
dimension on the train and test clips' posterior means.  Separate from the fit, since it
scores any fitted prior and baseline on any latents.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genrevae import backend
from genrevae.prior.model import LatentPrior
from genrevae.prior.var import VarModel, _as_batch, standard_normal_log_prob


def _learned_log_prob(prior: LatentPrior, z: np.ndarray, batch_size: int = 64) -> np.ndarray:
    parts = [
        backend.to_numpy(prior.log_prob(z[i : i + batch_size].astype(np.float32))).astype(np.float64)
        for i in range(0, len(z), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def prior_report(
    prior: LatentPrior, var_model: VarModel, train_z: np.ndarray, test_z: np.ndarray
) -> dict[str, Any]:
    """Held-out comparison of the three priors on latent sequences.

    ``train_z`` and ``test_z`` should be the posterior MEANS ``(clips, T, C)`` of the
    train and test clips: a point estimate of each clip's latent sequence, so the three
    priors are scored on the same fixed data (this is not an ELBO; ELBO/IWAE under each
    prior are computed elsewhere).  For each split and prior (``standard_normal``,
    ``var``, ``learned``) the negative log-likelihood in nats is averaged over clips and
    divided by ``T`` (``nll_per_frame``) and by ``T C`` (``nll_per_dim``).  Lower is
    better; differences between priors on ``test`` are what matters.  All values are
    plain Python floats/ints (JSON-serialisable).
    """
    report: dict[str, Any] = {}
    for split, z in (("train", train_z), ("test", test_z)):
        z = _as_batch(z)
        clips, frames, channels = z.shape
        entry: dict[str, Any] = {"clips": int(clips), "frames": int(frames), "channels": int(channels)}
        if clips == 0 or frames == 0:
            report[split] = entry
            continue
        scores = {
            "standard_normal": standard_normal_log_prob(z),
            "var": var_model.log_prob(z),
            "learned": _learned_log_prob(prior, z),
        }
        for name, log_p in scores.items():
            nll = -float(np.mean(log_p))
            entry[name] = {"nll_per_frame": nll / frames, "nll_per_dim": nll / (frames * channels)}
        report[split] = entry
    return report
