"""The probabilistic bits of a waveform VAE, written out.

Every function works on a batch and returns one value per example (or, where it
says so, per dimension); nothing is averaged over the batch here, so callers
decide how to reduce.  Conventions:

* ``x`` is a waveform batch of shape ``(batch, n_samples)`` with values in
  ``[-1, 1]``.
* Log-densities are in nats and are densities *over waveforms in [-1, 1]*, so the
  Gaussian and the continuous Bernoulli likelihood give numbers that can be
  compared directly (the Bernoulli one includes the Jacobian of ``x -> (x+1)/2``).
* Latents have any shape ``(batch, ...)``; sums run over all non-batch axes.

Notation: ``n`` = number of waveform samples, ``d`` = number of latent dimensions,
``q(z|x) = N(mean, diag(exp(logvar)))``, ``p(z) = N(0, I)``.

Everything is written with ``keras.ops``, so the same numbers come out on every Keras backend
(to float rounding) and the functions can sit inside a compiled training step of any of them.
Inputs may be numpy arrays or backend tensors; outputs are backend tensors.
"""

from __future__ import annotations

import math

from typing import Any

import numpy as np
from keras import ops

LOG_2PI = math.log(2.0 * math.pi)
LOG_HALF = math.log(0.5)

__all__ = [
    "LOG_2PI",
    "gaussian_log_likelihood",
    "continuous_bernoulli_log_normalizer",
    "continuous_bernoulli_mean",
    "continuous_bernoulli_log_likelihood",
    "log_normal_pdf",
    "gaussian_kl",
    "elbo_terms",
    "iwae_bound",
    "log_mean_exp",
    "multi_resolution_stft_distance",
    "stft_magnitude",
    "snr_db",
    "nats_to_bits_per_sample",
    "bits_per_sample_to_nats",
]


def _sum_nonbatch(t) -> Any:
    """Sum over every axis except the first (batch) axis."""
    t = ops.convert_to_tensor(t)
    rank = len(t.shape)
    if rank <= 1:
        return t
    return ops.sum(t, axis=tuple(range(1, rank)))


# ---------------------------------------------------------------------------
# Likelihoods p(x | z)
# ---------------------------------------------------------------------------
def gaussian_log_likelihood(x, mean, log_scale) -> Any:
    r"""Log-density of ``x`` under ``N(mean, sigma^2 I)`` with ``sigma = exp(log_scale)``.

    .. math::

        \log p(x \mid \mu, \sigma)
          = \sum_{i=1}^{n} \Big[ -\tfrac12 \big(\tfrac{x_i - \mu_i}{\sigma}\big)^2
                                 - \log\sigma - \tfrac12 \log 2\pi \Big]

    ``log_scale`` is a scalar (one learned global scale, as in the model) or
    anything broadcastable to ``x``.  Returns shape ``(batch,)``, nats.
    """
    x = ops.convert_to_tensor(x)
    mean = ops.cast(mean, x.dtype)
    log_scale = ops.cast(log_scale, x.dtype)
    z = (x - mean) * ops.exp(-log_scale)
    per_sample = -0.5 * ops.square(z) - log_scale - 0.5 * LOG_2PI
    return _sum_nonbatch(per_sample + ops.zeros_like(x))


def continuous_bernoulli_log_normalizer(logits) -> Any:
    r"""``log C(lambda)`` of the continuous Bernoulli, as a function of ``eta = logit(lambda)``.

    Loaiza-Ganem & Cunningham (2019): for ``lambda != 1/2``

    .. math::

        C(\lambda) = \frac{2\,\operatorname{artanh}(1 - 2\lambda)}{1 - 2\lambda},
        \qquad C(\tfrac12) = 2 .

    With ``eta = log(lambda / (1 - lambda))`` one has ``1 - 2 lambda = -tanh(eta/2)`` and
    ``2 artanh(1 - 2 lambda) = -eta``, hence

    .. math::

        C = \frac{\eta}{\tanh(\eta/2)}, \qquad
        \log C = \log|\eta| - \log\tanh(|\eta|/2)
               = \log|\eta| - \log(-\operatorname{expm1}(-|\eta|)) + \operatorname{log1p}(e^{-|\eta|}).

    Near ``eta = 0`` (``lambda = 1/2``) that is 0/0, so there the Taylor series in
    ``u = eta/2`` is used: ``log C = log 2 + u^2/3 - 7 u^4/90 + 62 u^6/2835`` (error
    < 1e-7 for ``|eta| < 0.5``).  Both branches are evaluated on safe inputs so the
    gradient is finite everywhere.  Elementwise.
    """
    eta = ops.convert_to_tensor(logits)
    a = ops.abs(eta)
    small = a < 0.5
    a_safe = ops.where(small, ops.ones_like(a), a)
    exact = ops.log(a_safe) - ops.log(-ops.expm1(-a_safe)) + ops.log1p(ops.exp(-a_safe))
    u2 = ops.square(ops.where(small, eta, ops.zeros_like(eta)) * 0.5)
    taylor = math.log(2.0) + u2 * (1.0 / 3.0 + u2 * (-7.0 / 90.0 + u2 * (62.0 / 2835.0)))
    return ops.where(small, taylor, exact)


def continuous_bernoulli_mean(logits) -> Any:
    r"""Mean of the continuous Bernoulli on [0, 1] with ``eta = logit(lambda)``.

    .. math::

        E[x] = \frac{\lambda}{2\lambda - 1} + \frac{1}{2\operatorname{artanh}(1 - 2\lambda)}
             = \tfrac12 + \tfrac12 L(\eta/2),\qquad L(u) = \coth u - \tfrac1u

    (``L`` is the Langevin function).  For ``|u| < 0.5`` the series
    ``L(u) = u/3 - u^3/45 + 2u^5/945 - u^7/4725`` is used.  Elementwise; the result
    lies in (0, 1) and equals 1/2 at ``eta = 0``.  (The mean is *not* ``lambda``.)
    """
    eta = ops.convert_to_tensor(logits)
    u = 0.5 * eta
    small = ops.abs(u) < 0.5
    u_safe = ops.where(small, ops.ones_like(u), u)
    exact = 1.0 / ops.tanh(u_safe) - 1.0 / u_safe
    us = ops.where(small, u, ops.zeros_like(u))
    us2 = ops.square(us)
    taylor = us * (1.0 / 3.0 + us2 * (-1.0 / 45.0 + us2 * (2.0 / 945.0 + us2 * (-1.0 / 4725.0))))
    return 0.5 + 0.5 * ops.where(small, taylor, exact)


def continuous_bernoulli_log_likelihood(x, logits) -> Any:
    r"""Log-density of a waveform ``x`` in [-1, 1] under a continuous Bernoulli on ``x01 = (x + 1)/2``.

    With ``eta`` the logits and ``lambda = sigmoid(eta)``, per sample

    .. math::

        \log p(x_{01}) = x_{01}\log\lambda + (1 - x_{01})\log(1 - \lambda) + \log C(\lambda)
                       = x_{01}\,\eta - \operatorname{softplus}(\eta) + \log C(\eta)

    and the change of variables ``x = 2 x01 - 1`` adds ``log|d x01 / d x| = log(1/2)``:

    .. math::

        \log p(x) = \sum_i \big[ \log p(x_{01,i}) + \log\tfrac12 \big].

    Unlike the sigmoid cross-entropy of the course report (targets in [-1, 1], unbounded
    below), this is a normalised density on [-1, 1]^n.  Returns ``(batch,)``, nats.
    """
    x = ops.convert_to_tensor(x)
    eta = ops.cast(logits, x.dtype)
    x01 = 0.5 * (x + 1.0)
    per_sample = x01 * eta - ops.softplus(eta) + continuous_bernoulli_log_normalizer(eta) + LOG_HALF
    return _sum_nonbatch(per_sample)


# ---------------------------------------------------------------------------
# Latent terms
# ---------------------------------------------------------------------------
def log_normal_pdf(z, mean, logvar) -> Any:
    r"""``log N(z; mean, diag(exp(logvar)))`` summed over the latent dimensions.

    .. math::

        \log N(z;\mu,\sigma^2) = \sum_j -\tfrac12\Big[(z_j-\mu_j)^2 e^{-\log\sigma_j^2}
                                  + \log\sigma_j^2 + \log 2\pi\Big]

    ``mean``/``logvar`` broadcast against ``z`` (pass 0., 0. for the prior).
    Returns ``(batch,)``.
    """
    z = ops.convert_to_tensor(z)
    mean = ops.cast(mean, z.dtype)
    logvar = ops.cast(logvar, z.dtype)
    per_dim = -0.5 * (ops.square(z - mean) * ops.exp(-logvar) + logvar + LOG_2PI)
    return _sum_nonbatch(per_dim + ops.zeros_like(z))


def gaussian_kl(mean, logvar, reduce: bool = True) -> Any:
    r"""``KL(N(mean, diag(exp(logvar))) || N(0, I))`` in closed form.

    .. math::

        \mathrm{KL} = \sum_j \tfrac12\big(e^{\log\sigma_j^2} + \mu_j^2 - 1 - \log\sigma_j^2\big)

    With ``reduce=False`` the per-dimension terms (same shape as ``mean``) are
    returned; otherwise their sum over non-batch axes, shape ``(batch,)``.
    """
    mean = ops.convert_to_tensor(mean)
    logvar = ops.cast(logvar, mean.dtype)
    per_dim = 0.5 * (ops.exp(logvar) + ops.square(mean) - 1.0 - logvar)
    return _sum_nonbatch(per_dim) if reduce else per_dim


# ---------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------
def elbo_terms(model, x, seed, training: bool = False) -> dict[str, Any]:
    r"""Single-sample ELBO of ``model`` on ``x`` (one draw ``z ~ q(z|x)``), per example.

    .. math::

        \mathrm{ELBO}(x) = \underbrace{\log p(x \mid z)}_{\text{recon}}
                         - \underbrace{\mathrm{KL}(q(z\mid x)\,\|\,p(z))}_{\text{kl, closed form}},
        \qquad z = \mu + e^{\frac12\log\sigma^2}\odot\epsilon,\ \epsilon\sim N(0, I)

    ``model`` must expose ``encode``, ``reparameterize``, ``decode`` and
    ``log_likelihood`` (see :mod:`genrevae.model`).  Returns a dict of ``(batch,)``
    tensors ``recon``, ``kl``, ``elbo`` plus the decoder output ``output`` and the
    posterior ``mean``/``logvar``.
    """
    mean, logvar = model.encode(x, training=training)
    z = model.reparameterize(mean, logvar, seed)
    out = model.decode(z, training=training, length=ops.shape(x)[1])
    recon = model.log_likelihood(x, out)
    kl = gaussian_kl(mean, logvar)
    return {"recon": recon, "kl": kl, "elbo": recon - kl, "output": out, "mean": mean, "logvar": logvar}


def log_mean_exp(values, axis: int = 0) -> Any:
    r"""``log( (1/k) sum_i exp(values_i) )`` along ``axis``, computed stably (max-shifted)."""
    values = ops.convert_to_tensor(values)
    k = ops.cast(ops.shape(values)[axis], values.dtype)
    return ops.logsumexp(values, axis=axis) - ops.log(k)


def iwae_bound(log_weights, axis: int = 0) -> Any:
    r"""Importance-weighted bound (Burda et al. 2016) from ``k`` log-weights per example.

    .. math::

        \mathcal{L}_k(x) = \log \frac1k \sum_{i=1}^{k} w_i, \qquad
        \log w_i = \log p(x\mid z_i) + \log p(z_i) - \log q(z_i\mid x),\ z_i \sim q(z\mid x)

    ``log_weights`` has the ``k`` samples along ``axis`` (default 0, i.e. shape
    ``(k, batch)``).  ``E[L_k] >= E[L_1] = ELBO`` and ``L_k -> log p(x)`` as k grows;
    for a *fixed* set of weights ``L_k >= mean_i log w_i`` (Jensen).  Returns ``(batch,)``.
    """
    return log_mean_exp(log_weights, axis=axis)


# ---------------------------------------------------------------------------
# Signal distances
# ---------------------------------------------------------------------------
def _int_or_tensor_max(a, b: int):
    """``max(a, b)`` for a length that is a Python int (static shapes) or a scalar tensor (a
    TensorFlow graph of unknown length); a Python int stays one, so every backend can pad by it."""
    return max(a, b) if isinstance(a, int) else ops.maximum(a, b)


def stft_magnitude(x, size: int, hop: int):
    r"""``|STFT|`` of waveforms ``x (batch, n)``: Hann window of ``size`` (periodic), hop ``hop``,
    ``size``-point FFT, ``ceil(n / hop)`` frames, frame ``t`` starting at sample ``t hop`` and the
    end zero-padded (TensorFlow's ``tf.signal.stft(..., pad_end=True)``, the framing the distance
    was defined with).  Returns ``(batch, frames, size / 2 + 1)``.

    Framing without a gather: with ``R = ceil(size / hop)`` the padded signal is cut into blocks
    of ``hop`` samples, and frame ``t`` is blocks ``t, ..., t + R - 1`` laid end to end (cut to
    ``size``).  The magnitude is ``sqrt(re^2 + im^2)`` with a zero gradient where it is 0 (as
    TensorFlow's complex ``abs``), so silent frames do not make NaN gradients.
    """
    x = ops.convert_to_tensor(x)
    blocks = -(-size // hop)
    n = ops.shape(x)[-1]
    frames_end = (-n) % hop  # to a multiple of hop: ceil(n / hop) frame starts
    x = ops.pad(x, [[0, 0], [0, frames_end + (blocks - 1) * hop]])
    chunks = ops.reshape(x, (ops.shape(x)[0], -1, hop))  # (batch, frames + R - 1, hop)
    frames = ops.concatenate([chunks[:, r : r - (blocks - 1) or None] for r in range(blocks)], axis=-1)
    frames = frames[:, :, :size] * ops.convert_to_tensor(_hann(size), x.dtype)
    real, imag = ops.rfft(frames, fft_length=size)
    power = ops.square(real) + ops.square(imag)
    positive = power > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, power, ops.ones_like(power))), ops.zeros_like(power))


def _hann(size: int) -> np.ndarray:
    """TensorFlow's "periodic" Hann window, ``0.5 - 0.5 cos(2 pi n / size)``, float32.

    As ``tf.signal.hann_window(size, periodic=True)``, which is periodic for even ``size``
    only: for odd ``size`` it is the symmetric window, ``cos(2 pi n / (size - 1))``.  Kept so
    that the distance of any FFT size is the number it was before the port off TensorFlow.
    """
    if size == 1:
        return np.ones(1, np.float32)
    period = size if size % 2 == 0 else size - 1
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size, dtype=np.float32) / np.float32(period))).astype(np.float32)


def multi_resolution_stft_distance(x, y, fft_sizes=(256, 512, 1024), eps: float = 1e-5) -> Any:
    r"""Multi-resolution STFT distance between waveforms ``x`` (reference) and ``y``, per example.

    For each FFT size ``N`` (Hann window of ``N``, hop ``N/4``; at 3 kHz 256/512/1024
    points are 85/171/341 ms), with ``S = |STFT|`` (:func:`stft_magnitude`):

    .. math::

        \mathrm{SC} = \frac{\lVert S_x - S_y \rVert_F}{\lVert S_x \rVert_F + \epsilon},\qquad
        \mathrm{LM} = \frac{1}{TF}\sum_{t,f} \big|\log(S_x+\epsilon) - \log(S_y+\epsilon)\big|

    and the distance is the mean over resolutions of ``SC + LM`` (Yamamoto et al. 2020,
    Parallel WaveGAN).  Signals shorter than an FFT size are zero-padded to it.
    Returns ``(batch,)``; 0 for identical signals.
    """
    x = ops.convert_to_tensor(x)
    y = ops.cast(y, x.dtype)
    n = ops.shape(x)[-1]
    total = 0.0
    for size in fft_sizes:
        size = int(size)
        short = _int_or_tensor_max(size - n, 0)
        xs = ops.pad(x, [[0, 0], [0, short]])
        ys = ops.pad(y, [[0, 0], [0, short]])
        hop = max(1, size // 4)
        sx, sy = stft_magnitude(xs, size, hop), stft_magnitude(ys, size, hop)
        sc = ops.sqrt(ops.sum(ops.square(sx - sy), axis=(-2, -1))) / (ops.sqrt(ops.sum(ops.square(sx), axis=(-2, -1))) + eps)
        lm = ops.mean(ops.abs(ops.log(sx + eps) - ops.log(sy + eps)), axis=(-2, -1))
        total = total + sc + lm
    return total / float(len(fft_sizes))


def snr_db(x, y, eps: float = 1e-12) -> Any:
    r"""Signal-to-noise ratio of the estimate ``y`` against the reference ``x``, in dB, per example.

    .. math::

        \mathrm{SNR} = 10 \log_{10} \frac{\sum_i x_i^2 + \epsilon}{\sum_i (x_i - y_i)^2 + \epsilon}
    """
    x = ops.convert_to_tensor(x)
    y = ops.cast(y, x.dtype)
    signal = _sum_nonbatch(ops.square(x))
    noise = _sum_nonbatch(ops.square(x - y))
    return 10.0 * (ops.log(signal + eps) - ops.log(noise + eps)) / math.log(10.0)


# ---------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------
def nats_to_bits_per_sample(nats, n_samples: int):
    r"""Convert a per-clip quantity in nats to bits per waveform sample: ``nats / (n ln 2)``.

    A pure change of units; the sign is kept (an ELBO of -1000 nats on a 1000-sample
    clip is -1.44 bits per sample).  Works on floats, numpy arrays and tensors.
    """
    return nats / (float(n_samples) * math.log(2.0))


def bits_per_sample_to_nats(bits, n_samples: int):
    """Inverse of :func:`nats_to_bits_per_sample`."""
    return bits * float(n_samples) * math.log(2.0)

