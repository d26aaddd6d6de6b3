"""Evaluate a trained genre VAE on its train and test clips.

:func:`evaluate_genre` loads ``model.keras`` and, for each subset of ``split.csv``,
returns (per clip, averaged over the subset's clips; all log-densities are over
waveforms in [-1, 1], in nats):

``n_clips``
``elbo_nats``
    ``(1/k) sum_i log p(x, z_i) / q(z_i|x)``: the ELBO (a lower bound on ``log p(x)``),
    estimated with the same ``k`` draws as the IWAE bound, so ``iwae >= elbo`` holds for
    every clip, not only in expectation (log-mean-exp >= mean, Jensen).
``elbo_bits_per_sample``
    the same number in bits per waveform sample (``elbo_nats / (n_samples ln 2)``, sign kept).
``recon_nats``
    ``E_q[log p(x|z)]``, estimated with the same ``k`` draws ``z_i ~ q(z|x)`` as the IWAE bound.
``kl_nats``
    ``recon_nats - elbo_nats``: the same draws' estimate of ``KL(q(z|x) || p(z))``, so the
    three numbers add up.
``kl_analytic_nats``
    ``KL(q(z|x) || p(z))`` in closed form (no sampling noise); equal to ``kl_nats`` in
    expectation.
``iwae_nats``
    the importance-weighted bound with ``k = evaluate.iw_samples`` draws,
    ``log (1/k) sum_i p(x, z_i) / q(z_i|x)`` (Burda et al. 2016); ``>= elbo`` and, in
    expectation, ``<= log p(x)``.
``kl_per_dim``
    the closed-form KL per latent dimension (``report`` preset: per latent unit; ``conv``
    preset: per latent channel, summed over frames).
``active_units``
    the number of latent dimensions (for ``conv``: frames x channels) whose posterior
    mean varies over the clips, ``Var_x(E_q[z]) > 0.01`` (Burda et al. 2016).
``snr_db``, ``stft_distance``
    of the reconstruction decoded from the posterior mean, against the clip
    (:func:`genrevae.losses.snr_db`, :func:`genrevae.losses.multi_resolution_stft_distance`).

``learned_prior``
    when the genre's learned prior is given: ``elbo_nats``, ``elbo_bits_per_sample``,
    ``kl_nats`` and ``iwae_nats`` with ``p(z)`` the learned prior instead of N(0, I),
    computed from the *same* draws ``z_i ~ q(z|x)`` (so the two columns differ only by the
    prior): ``log w_i = log p(x|z_i) + log p_prior(z_i) - log q(z_i|x)``.  Both are valid
    lower bounds on ``log p(x)`` of their model.

plus ``n_samples``, ``latent_shape``, ``latent_dims``, ``iw_samples`` and an echo of the
resolved ``settings``.  Clips are processed ``evaluate.batch_size`` at a time and the
``k`` draws in groups that make ``DECODE_BATCH`` clips per decoder call, so memory does not
grow with the number of clips or with ``k``.  All noise comes from stateless seeds derived
from ``settings["seed"]``: the result is a deterministic function of the model, the data,
the settings, the Keras backend (each draws its own numbers for a seed) and the thread count.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scipy.special import logsumexp

from genrevae import backend
from genrevae.artifacts.shard import read_shard
from genrevae.artifacts.split import read_split
from genrevae.config import STAGE_SECTIONS, sections

__all__ = ["evaluate_genre", "evaluate_clips", "ACTIVE_UNIT_THRESHOLD", "SECTIONS"]

#: The config sections evaluation reads (the model comes from its file, not from settings).
SECTIONS = STAGE_SECTIONS["evaluate"]

ACTIVE_UNIT_THRESHOLD = 0.01
#: First word of the stateless seeds used for the importance samples of each subset.
_SUBSET_STREAM = {"test": 101, "train": 102}
#: Clips per decoder call in the importance sampling (clips of a batch x draws at a time): 16
#: whole clips decode ~15 % faster per clip than 4 on 2 CPU cores, and their activations stay
#: far below a gigabyte.
DECODE_BATCH = 16


#: The two compiled functions of each loaded model (see :func:`_steps`); weak keys, so they go
#: when the model does.
_STEPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _steps(model: Any) -> tuple[Callable, Callable]:
    """``(posterior, importance_samples)`` of ``model``, compiled once per model
    (:func:`genrevae.backend.compile_function`): building them per batch or per subset made
    tracing a third of an evaluation.  TensorFlow traces each once, with free batch and length
    axes, into a graph without XLA (as :mod:`genrevae.generation` does); JAX compiles once per
    shape (a full and a last, smaller batch per subset).

    ``importance_samples(x, mean, logvar, seeds)`` takes ``g`` seed pairs ``(g, 2)`` and draws
    ``z_j ~ q(z|x)`` with seed ``j`` for every clip (``keras.ops.map`` over the seeds: a loop
    whose length is the seeds' shape, so the same compiled function serves any ``g`` and draw
    ``j`` is the one a call with that seed alone would make), then decodes all ``g * batch``
    draws in one decoder call (a larger batch keeps the CPU's convolutions busier; the numbers
    move by float rounding at most).  It returns, draw-major, ``log w = log p(x|z) + log N(z; 0, I)
    - log q(z|x)``, ``log p(x|z)`` and ``log q(z|x)``, each ``(g, batch)``, and the draws
    ``(g * batch, *latent)``.
    """
    if model in _STEPS:
        return _STEPS[model]
    from keras import ops

    from genrevae import losses

    def posterior(x: Any) -> tuple:
        mean, logvar = model.encode(x, training=False)
        out = model.decode(mean, training=False, length=ops.shape(x)[1])
        y = model.waveform(out)
        return (
            mean,
            logvar,
            losses.gaussian_kl(mean, logvar, reduce=False),
            losses.snr_db(x, y),
            losses.multi_resolution_stft_distance(x, y),
        )

    def importance_samples(x: Any, mean: Any, logvar: Any, seeds: Any) -> tuple:
        draws = ops.shape(seeds)[0]
        z = ops.map(lambda seed: model.reparameterize(mean, logvar, seed), seeds)  # (g, batch, *latent)
        flat = ops.reshape(z, (-1,) + tuple(ops.shape(mean)[1:]))  # draw-major: (g * batch, *latent)
        # log-densities sum over every axis but the first, so they take the flat draws against
        # the posterior repeated draw-major alike, then go back to (g, batch)
        tiled = (draws,) + (1,) * (len(mean.shape) - 1)
        log_q = losses.log_normal_pdf(flat, ops.tile(mean, tiled), ops.tile(logvar, tiled))
        log_p = losses.log_normal_pdf(flat, 0.0, 0.0)
        output = model.decode(flat, training=False, length=ops.shape(x)[1])
        recon = model.log_likelihood(ops.tile(x, (draws, 1)), output)
        per_draw = (draws, ops.shape(mean)[0])
        recon, log_p, log_q = (ops.reshape(v, per_draw) for v in (recon, log_p, log_q))
        return recon + log_p - log_q, recon, log_q, flat

    latent = tuple(model.latent_shape)
    clips_spec = ((None, None), "float32")
    latent_spec = ((None,) + (None,) * (len(latent) - 1) + latent[-1:], "float32")
    _STEPS[model] = (
        backend.compile_function(posterior, model, jit_compile=False, signature=[clips_spec]),
        backend.compile_function(
            importance_samples, model, jit_compile=False, signature=[clips_spec, latent_spec, latent_spec, ((None, 2), "int32")]
        ),
    )
    return _STEPS[model]


def _iwae(log_weights: np.ndarray) -> np.ndarray:
    """:func:`genrevae.losses.iwae_bound` over axis 0 of float64 log-weights ``(k, batch)``, in numpy.

    The same log-mean-exp, kept in float64: JAX computes in float32 unless x64 is switched on
    for the whole process, and these bounds are summed over all clips of a subset.
    """
    log_weights = np.asarray(log_weights, dtype=np.float64)
    return logsumexp(log_weights, axis=0) - math.log(log_weights.shape[0])


def evaluate_clips(model, clips: np.ndarray, idx: np.ndarray, iw_samples: int, batch_size: int, seed: tuple[int, int], prior=None) -> dict:
    """Metrics of ``model`` on ``clips[idx]`` (see the module docstring); ``seed`` = (stream, base);
    ``prior`` the genre's learned prior (adds ``learned_prior``) or None."""
    from keras import ops

    from genrevae import losses
    from genrevae.prior import as_sequence

    posterior, importance_samples = _steps(model)
    k = int(iw_samples)
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) == 0:
        raise ValueError("no clips to evaluate")
    sums = dict(elbo=0.0, recon=0.0, kl_analytic=0.0, iwae=0.0, snr=0.0, stft=0.0, elbo_learned=0.0, iwae_learned=0.0)
    kl_per_dim = np.zeros(model.latent_shape[-1], dtype=np.float64)
    post_means = []
    stream, base = int(seed[0]), int(seed[1])
    for b, start in enumerate(range(0, len(idx), int(batch_size))):
        rows = np.ascontiguousarray(clips[idx[start : start + int(batch_size)]], dtype=np.float32)
        x = ops.convert_to_tensor(rows)
        mean, logvar, kl_dims, snr, stft = posterior(x)
        kl_dims = backend.to_numpy(kl_dims).astype(np.float64)
        kl = kl_dims.reshape(len(kl_dims), -1).sum(axis=1)
        kl_per_dim += kl_dims.reshape(len(kl_dims), -1, kl_dims.shape[-1]).sum(axis=(0, 1))
        post_means.append(backend.to_numpy(mean).reshape(len(kl_dims), -1))
        log_ws, recons, log_qs, zs = [], [], [], []
        group = max(1, DECODE_BATCH // len(rows))
        for j0 in range(0, k, group):
            seeds = ops.convert_to_tensor([[stream, base + b * k + j] for j in range(j0, min(k, j0 + group))], dtype="int32")
            log_w, recon, log_q, z = importance_samples(x, mean, logvar, seeds)
            log_ws.extend(backend.to_numpy(log_w).astype(np.float64))
            recons.extend(backend.to_numpy(recon).astype(np.float64))
            if prior is not None:
                log_qs.extend(backend.to_numpy(log_q).astype(np.float64))
                zs.append(as_sequence(backend.to_numpy(z)))
        log_ws = np.stack(log_ws)  # (k, batch)
        if prior is not None:
            # All k draws of the batch through the prior in one call: (k * batch, frames, C).
            log_p = backend.to_numpy(prior.log_prob(np.concatenate(zs))).astype(np.float64).reshape(k, -1)
            learned = np.stack(recons) + log_p - np.stack(log_qs)
            sums["elbo_learned"] += learned.mean(axis=0).sum()
            sums["iwae_learned"] += _iwae(learned).sum()
        recon = np.mean(recons, axis=0)
        sums["recon"] += recon.sum()
        sums["kl_analytic"] += kl.sum()
        sums["elbo"] += log_ws.mean(axis=0).sum()
        sums["iwae"] += _iwae(log_ws).sum()
        sums["snr"] += float(backend.to_numpy(snr).astype(np.float64).sum())
        sums["stft"] += float(backend.to_numpy(stft).astype(np.float64).sum())
    n = len(idx)
    means = np.concatenate(post_means).astype(np.float64)
    active = int(np.sum(np.var(means, axis=0) > ACTIVE_UNIT_THRESHOLD))
    elbo = sums["elbo"] / n
    extra = {}
    if prior is not None:
        elbo_learned = sums["elbo_learned"] / n
        extra["learned_prior"] = {
            "elbo_nats": float(elbo_learned),
            "elbo_bits_per_sample": float(losses.nats_to_bits_per_sample(elbo_learned, model.n_samples)),
            "kl_nats": float((sums["recon"] - sums["elbo_learned"]) / n),
            "iwae_nats": float(sums["iwae_learned"] / n),
        }
    return {
        "n_clips": int(n),
        "elbo_nats": float(elbo),
        "elbo_bits_per_sample": float(losses.nats_to_bits_per_sample(elbo, model.n_samples)),
        "recon_nats": float(sums["recon"] / n),
        "kl_nats": float((sums["recon"] - sums["elbo"]) / n),
        "kl_analytic_nats": float(sums["kl_analytic"] / n),
        "iwae_nats": float(sums["iwae"] / n),
        "kl_per_dim": [float(v) for v in kl_per_dim / n],
        "active_units": active,
        "snr_db": float(sums["snr"] / n),
        "stft_distance": float(sums["stft"] / n),
        **extra,
    }


def evaluate_genre(model_path: Path, shard: Path, split: Path, settings: dict, threads: int, prior_path: Path | None = None) -> dict:
    """Evaluate ``model_path`` on the ``test`` and ``train`` clips of ``shard``/``split``.

    Returns a JSON-serialisable dict ``{"test": {...}, "train": {...}, "n_samples",
    "latent_shape", "latent_dims", "iw_samples", "settings"}``; the caller writes it to
    ``metrics.json``.
    """
    backend.configure_threads(threads)
    import keras

    from genrevae.model import load_model
    from genrevae.prior import load_prior

    given = sorted(settings)
    settings = sections(settings, SECTIONS)
    # every backend's stateless seeds hold int32 words: room for the streams and draw indices
    seed = int(settings["seed"]) % (2**31 - 2**10)
    ev = settings["evaluate"]
    keras.utils.set_random_seed(seed)
    model = load_model(model_path)
    prior = None if prior_path is None else load_prior(prior_path)
    clips = read_shard(shard)
    if clips.shape[1] != model.n_samples:
        raise ValueError(f"{shard} has clips of {clips.shape[1]} samples but {model_path} expects {model.n_samples}")
    subsets = read_split(split, clips.shape[0])
    train_idx, test_idx = subsets.train, subsets.test
    result = {}
    for name, idx in (("test", test_idx), ("train", train_idx)):
        result[name] = evaluate_clips(
            model, clips, idx, int(ev["iw_samples"]), int(ev["batch_size"]), (seed + _SUBSET_STREAM[name], 0), prior
        )
    result.update(
        n_samples=int(model.n_samples),
        latent_shape=list(model.latent_shape),
        latent_dims=int(math.prod(model.latent_shape)),
        iw_samples=int(ev["iw_samples"]),
        settings={key: settings[key] for key in given},
    )
    return result
