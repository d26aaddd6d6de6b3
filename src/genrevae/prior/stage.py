"""The ``prior`` workflow stage on files: one genre's model, shard and split in,
``prior.keras`` and ``prior.json`` out; and :func:`load_prior` for the stages that read it.

The only part of the package that knows about files; the model, the fit and the report
take arrays.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from genrevae.config import section
from genrevae.prior.fit import _typed, fit_prior, posterior_draws, validation_clips
from genrevae.prior.model import LatentPrior
from genrevae.prior.report import prior_report
from genrevae.prior.var import fit_var


def as_sequence(z: np.ndarray) -> np.ndarray:
    """Latents ``(n, frames, C)`` as they are; latent vectors ``(n, d)`` as one-frame sequences ``(n, 1, d)``."""
    z = np.asarray(z)
    return z if z.ndim == 3 else z.reshape(len(z), 1, -1)


def fit_prior_files(
    model_path, shard, split, out_dir, settings: Mapping[str, Any], log: logging.Logger | None = None
) -> dict[str, Any]:
    """Fit the learned prior of one genre and write ``prior.keras`` and ``prior.json`` into ``out_dir``.

    ``settings`` holds ``seed`` and ``prior``.  The train clips' posteriors (whole clips)
    are the training data; ``prior.json`` holds the fit history and :func:`prior_report`
    (held-out NLL per frame of N(0, I), the VAR(``var_order``) baseline and the learned
    prior on the posterior means of the train and test clips).  Returns that report.  The
    VAR order is capped at ``frames - 1`` (recorded as ``var_order``): a latent vector is a
    one-frame sequence, whose only VAR is order 0, an i.i.d. Gaussian.
    """
    from pathlib import Path

    from genrevae.artifacts.shard import read_shard
    from genrevae.artifacts.split import read_split
    from genrevae.artifacts.trained_genre import PRIOR_FILES, write_prior_report
    from genrevae.files import atomic_path
    from genrevae.generation import posteriors
    from genrevae.model import load_model

    s = _typed(section("prior", settings.get("prior")))
    seed = int(settings["seed"])
    model = load_model(Path(model_path))
    clips = read_shard(Path(shard))
    subsets = read_split(Path(split), clips.shape[0])
    train_idx, test_idx = subsets.train, subsets.test
    # A latent vector (the report preset) is a sequence of one frame: the prior is then a mixture.
    train_mean, train_logvar = (as_sequence(a) for a in posteriors(model, clips[train_idx]))
    test_mean = as_sequence(posteriors(model, clips[test_idx])[0])
    started = time.perf_counter()
    # A VAR(p) needs frames with p predecessors: one-frame sequences (the report preset) only allow p = 0.
    var_order = min(s["var_order"], train_mean.shape[1] - 1)
    if var_order != s["var_order"] and log is not None:
        log.info("prior: %d latent frame(s) per clip, so the VAR has order %d, not %d",
                 train_mean.shape[1], var_order, s["var_order"])  # fmt: skip
    # A few train clips are held out of the whole learned prior (its VAR too) to choose its step:
    # with ~16 train clips the network overfits their latents long before the last step.
    held = validation_clips(len(train_mean), s["validation_clips"], seed)
    fit = np.setdiff1d(np.arange(len(train_mean)), held)
    # The baseline and the learned prior's linear part are the same VAR: the report shows what the network adds.
    var_model = fit_var(posterior_draws(train_mean[fit], train_logvar[fit], seed), var_order)
    prior, history = fit_prior(train_mean[fit], train_logvar[fit], s, seed, log, var_model,
                               validation_mean=train_mean[held] if len(held) else None)  # fmt: skip
    report = prior_report(prior, var_model, train_mean, test_mean)
    result = {
        "report": report,
        "history": history,
        "fit_seconds": time.perf_counter() - started,
        "var_order": var_order,
        # positions in the split's train clips (sorted clip order); the step whose weights were kept
        "validation": {
            "clips": [int(i) for i in held],
            "best_step": None if not len(held) else int(min(history, key=lambda r: r["validation_nll_per_frame"])["step"]),
        },
        "parameters": int(prior.count_params()),
        "settings": s,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_prior_report(result, out_dir / PRIOR_FILES["report"])
    with atomic_path(out_dir / PRIOR_FILES["prior"]) as tmp:
        prior.save(tmp)
    return result


def load_prior(path) -> LatentPrior:
    """Load a saved ``prior.keras``."""
    from pathlib import Path

    return keras.models.load_model(Path(path), compile=False)
