"""Inference with a trained genre model: prior draws, decoding, posterior means.

Every stage that turns a model into audio (export, quality, figures, fidelity) draws its
clips through :func:`generate_clips`, so "generated clip ``i``" means the same waveform
everywhere: the latent of clip ``i`` comes from the seed ``seed + i``, whatever the number
of clips, and

* ``prior="learned"``: a latent sequence sampled from the genre's learned prior
  (:class:`genrevae.prior.LatentPrior`, ancestral sampling with ``temperature``);
* ``prior="gaussian"``: ``z ~ N(0, I)``, ``tf.random.stateless_normal((1, frames, C),
  seed=[seed + i, 0])`` -- exactly what ``model.sample(1, seed + i)`` decodes.

The learned prior gives the latent sequence dynamics (phrases, rhythm, loudness contours);
N(0, I) draws every frame independently and is kept beside it as the baseline.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = [
    "PRIORS",
    "gaussian_latents",
    "learned_latents",
    "decode_latents",
    "posteriors",
    "posterior_means",
    "generate_latents",
    "generate_clips",
]

PRIORS = ("learned", "gaussian")


def gaussian_latents(shape: Sequence[int], seeds: Sequence[int]) -> np.ndarray:
    """``z ~ N(0, I)`` of shape ``(len(seeds), *shape)``, one stateless draw per seed.

    Row ``i`` equals the latent ``model.sample(1, seeds[i])`` decodes when ``shape`` is the
    model's ``latent_shape``.
    """
    import tensorflow as tf

    from genrevae.model import seed_pair

    full = (1,) + tuple(int(v) for v in shape)
    rows = [np.asarray(tf.random.stateless_normal(full, seed=seed_pair(int(s))), dtype=np.float32) for s in seeds]
    if not rows:
        return np.zeros((0,) + full[1:], dtype=np.float32)
    return np.concatenate(rows, axis=0)


def learned_latents(prior, frames: int, seeds: Sequence[int], temperature: float = 1.0) -> np.ndarray:
    """Latent sequences ``(len(seeds), frames, C)`` from the learned prior, one seed per row
    (rows are sampled one by one so that row ``i`` does not depend on the others)."""
    rows = [prior.sample(1, int(frames), int(s), float(temperature)) for s in seeds]
    if not rows:
        return np.zeros((0, int(frames), int(prior.channels)), dtype=np.float32)
    return np.concatenate(rows, axis=0).astype(np.float32)


def decode_latents(model, z: np.ndarray, batch_size: int = 4, length: int | None = None) -> np.ndarray:
    """Decode latents ``(n, *latent_shape)`` to waveforms float32 ``(n, length)`` in [-1, 1]
    (``length`` defaults to the model's clip length for the clip's frame count)."""
    z = np.asarray(z, dtype=np.float32)
    chunks = []
    for start in range(0, len(z), int(batch_size)):
        out = model.decode(z[start : start + int(batch_size)], training=False, length=length)
        chunks.append(np.asarray(model.waveform(out), dtype=np.float32))
    if not chunks:
        return np.zeros((0, int(length or model.n_samples)), dtype=np.float32)
    return np.concatenate(chunks, axis=0)


def posteriors(model, clips: np.ndarray, batch_size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of ``q(z|x)`` for waveforms ``(n, n_samples)``: two float32
    arrays ``(n, *latent_shape)``, ``batch_size`` clips through the encoder at a time."""
    means, logvars = [], []
    for start in range(0, len(clips), int(batch_size)):
        x = np.ascontiguousarray(clips[start : start + int(batch_size)], dtype=np.float32)
        mean, logvar = model.encode(x, training=False)
        means.append(np.asarray(mean, dtype=np.float32))
        logvars.append(np.asarray(logvar, dtype=np.float32))
    if not means:
        empty = np.zeros((0,) + tuple(model.latent_shape), dtype=np.float32)
        return empty, empty.copy()
    return np.concatenate(means, axis=0), np.concatenate(logvars, axis=0)


def posterior_means(model, clips: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Posterior means ``E_q[z|x]`` of waveforms ``(n, n_samples)``: float32 ``(n, *latent_shape)``."""
    return posteriors(model, clips, batch_size)[0]


def generate_latents(model, prior, n: int, seed: int, prior_kind: str = "learned", temperature: float = 1.0, n_samples: int | None = None) -> np.ndarray:
    """The latents of generated clips ``seed .. seed + n - 1`` (see the module docstring)."""
    if prior_kind not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior_kind!r}")
    length = int(n_samples or model.n_samples)
    shape = model.latent_shape_for(length)
    seeds = [int(seed) + i for i in range(int(n))]
    if prior_kind == "gaussian":
        return gaussian_latents(shape, seeds)
    if prior is None:
        raise ValueError("the learned prior was asked for but none was given (fit it first: the fit_prior stage)")
    if len(shape) == 1:  # a latent vector (seed preset) is a one-frame sequence to the prior
        return learned_latents(prior, 1, seeds, temperature).reshape((len(seeds),) + shape)
    return learned_latents(prior, shape[0], seeds, temperature)


def generate_clips(
    model,
    prior,
    n: int,
    seed: int,
    prior_kind: str = "learned",
    temperature: float = 1.0,
    n_samples: int | None = None,
    batch_size: int = 4,
) -> np.ndarray:
    """``n`` generated clips float32 ``(n, n_samples)``, clip ``i`` from the seed ``seed + i``."""
    z = generate_latents(model, prior, n, seed, prior_kind, temperature, n_samples)
    return decode_latents(model, z, batch_size, length=int(n_samples or model.n_samples))
