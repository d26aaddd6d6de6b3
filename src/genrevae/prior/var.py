"""The numpy baselines the learned prior is measured against, and builds on: ``N(0, I)`` and a VAR(p).

Plain float64 numpy, exact and closed-form, with no Keras model in sight: :func:`fit_var` is
least squares, :meth:`VarModel.log_prob` and :func:`standard_normal_log_prob` are exact
Gaussian densities.  The same fitted :class:`VarModel` is the linear part of
:class:`genrevae.prior.model.LatentPrior` (:meth:`~genrevae.prior.model.LatentPrior.set_linear`),
so the report's VAR row shows what the GRU adds.  The Gaussian constant and the seed word
that the learned prior shares with these baselines live here, at the bottom of the package's
imports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genrevae import backend


#: log(2 pi), the constant of every Gaussian log-density.
LOG_2PI = math.log(2.0 * math.pi)


def _seed_word(seed: int) -> int:
    """A non-negative int32 from any Python int (the first word of the stateless seed pairs)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return int(seed) % backend.SEED_MODULUS


def _as_batch(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 3:
        raise ValueError(f"z must have shape (batch, frames, channels), got {z.shape}")
    return z


def standard_normal_log_prob(z: np.ndarray) -> np.ndarray:
    """``log N(z; 0, I)`` of each sequence ``z (batch, T, C)``, summed over frames and
    channels: ``-0.5 sum (z^2 + log 2 pi)``.  Returns float64 ``(batch,)``."""
    z = _as_batch(z)
    return -0.5 * np.sum(z * z + LOG_2PI, axis=(1, 2))


def _lag_features(z: np.ndarray, order: int) -> np.ndarray:
    """``(batch, T, 1 + order C)`` rows ``[1, z_{t-1}, ..., z_{t-order}]`` (zeros before the start)."""
    batch, frames, channels = z.shape
    padded = np.concatenate([np.zeros((batch, order, channels)), z], axis=1)
    lags = [padded[:, order - i : order - i + frames] for i in range(1, order + 1)]
    return np.concatenate([np.ones((batch, frames, 1)), *lags], axis=2)


@dataclass(frozen=True)
class VarModel:
    """A Gaussian vector autoregression VAR(p) over latent frames::

        z_t = intercept + sum_{i=1..p} coefficients[i-1] @ z_{t-i} + e_t,   e_t ~ N(0, Sigma_t)

    with ``z_t = 0`` for ``t < 1`` (zero padding, like the learned prior's zero start
    frame), used alike in fitting, scoring and sampling.  ``Sigma_t = covariance`` for
    frames with a full history (``t > p``) and ``start_covariance`` for the first ``p``
    frames, whose zero-padded prediction is much worse: one shared covariance would be
    inflated by them and so understate the dynamics of every later frame.

    Attributes:
        coefficients: ``(p, C, C)``, ``coefficients[i]`` multiplies ``z_{t-i-1}``.
        intercept: ``(C,)``.
        covariance: ``(C, C)`` innovation covariance of frames ``t > p``.
        start_covariance: ``(C, C)`` residual covariance of frames ``t <= p``.
    """

    coefficients: np.ndarray
    intercept: np.ndarray
    covariance: np.ndarray
    start_covariance: np.ndarray

    @property
    def order(self) -> int:
        return int(self.coefficients.shape[0])

    @property
    def channels(self) -> int:
        return int(self.intercept.shape[0])

    def _weights(self) -> np.ndarray:
        """``(1 + p C, C)``, the regression matrix for :func:`_lag_features` rows."""
        rows = [self.intercept[None, :]] + [a.T for a in self.coefficients]
        return np.concatenate(rows, axis=0)

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """Exact ``log p(z)`` of sequences ``z (batch, T, C)``, float64 ``(batch,)``:
        ``sum_t log N(z_t; prediction_t, Sigma_t)``."""
        z = _as_batch(z)
        if z.shape[2] != self.channels:
            raise ValueError(f"z has {z.shape[2]} channels, the VAR {self.channels}")
        residual = z - _lag_features(z, self.order) @ self._weights()
        start = min(self.order, z.shape[1])
        total = np.zeros(z.shape[0])
        for part, cov in ((residual[:, :start], self.start_covariance), (residual[:, start:], self.covariance)):
            total += _gaussian_log_prob(part, cov)
        return total

    def sample(self, n: int, frames: int, seed: int, temperature: float = 1.0) -> np.ndarray:
        """``n`` sequences of ``frames`` frames, float32 ``(n, frames, C)``.

        Noise from ``numpy.random.default_rng(seed)``; ``temperature`` scales the noise
        standard deviation, so ``z(tau) = z_det + tau (z(1) - z_det)`` exactly, where
        ``z_det`` is the noise-free response (``1`` samples the model exactly)."""
        n, frames = int(n), int(frames)
        temperature = float(temperature)
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        rng = np.random.default_rng(_seed_word(seed))
        white = rng.standard_normal((frames, n, self.channels))
        chol, start_chol = np.linalg.cholesky(self.covariance), np.linalg.cholesky(self.start_covariance)
        p = self.order
        z = np.zeros((n, p + frames, self.channels))  # p zero frames of padding first
        for t in range(frames):
            mean = self.intercept + sum(z[:, p + t - i] @ self.coefficients[i - 1].T for i in range(1, p + 1))
            z[:, p + t] = mean + temperature * white[t] @ (start_chol if t < p else chol).T
        return z[:, p:].astype(np.float32)


def _gaussian_log_prob(residual: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``sum over frames of log N(residual_t; 0, cov)`` for ``residual (batch, T, C)``."""
    chol = np.linalg.cholesky(cov)
    batch, frames, channels = residual.shape
    white = np.linalg.solve(chol, residual.reshape(-1, channels).T).T.reshape(residual.shape)
    log_det = 2.0 * np.sum(np.log(np.diag(chol)))
    return -0.5 * (np.sum(white * white, axis=(1, 2)) + frames * (channels * LOG_2PI + log_det))


def _residual_covariance(residual: np.ndarray, diagonal: bool) -> np.ndarray:
    """MLE covariance ``E^T E / N`` plus a ``1e-9``-relative jitter; diagonal when asked
    or when ``N <= C`` rows cannot determine a full one."""
    rows, channels = residual.shape
    cov = residual.T @ residual / max(rows, 1)
    if diagonal or rows <= channels:
        cov = np.diag(np.diag(cov))
    return cov + 1e-9 * max(float(np.mean(np.diag(cov))), 1e-12) * np.eye(channels)


def fit_var(
    sequences: Sequence[np.ndarray] | np.ndarray, order: int, diagonal: bool = False, ridge: float = 1e-6
) -> VarModel:
    """Least-squares fit of a VAR(``order``) to sequences of shape ``(T_i, C)``.

    The coefficients and the innovation covariance come from the frames with a full
    history (``t > p``): regression rows ``z_t ~ [1, z_{t-1}, ..., z_{t-p}]``.  The first
    ``p`` frames of each sequence are then predicted with the same coefficients and
    zero padding, and their residuals give ``start_covariance``.  ``ridge`` (times the
    mean diagonal of ``X^T X``) keeps the normal equations well posed for collinear
    latents.  Covariances are maximum-likelihood with a tiny jitter; ``diagonal=True``
    keeps their diagonals only.  ``order=0`` gives an i.i.d. Gaussian.
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise ValueError(f"order must be an int >= 0, got {order!r}")
    order = int(order)
    seqs = [np.asarray(s, dtype=np.float64) for s in sequences]
    if not seqs or any(s.ndim != 2 for s in seqs) or len({s.shape[1] for s in seqs}) != 1:
        raise ValueError("sequences must be a non-empty list of (frames, channels) arrays with equal channels")
    channels = seqs[0].shape[1]
    features = [_lag_features(s[None], order)[0] for s in seqs]
    x = np.concatenate([f[order:] for f in features], axis=0)
    y = np.concatenate([s[order:] for s in seqs], axis=0)
    if x.shape[0] < x.shape[1]:
        raise ValueError(
            f"too few frames ({x.shape[0]} after the first {order}) for a VAR({order}) over {channels} channels"
        )
    gram = x.T @ x
    gram += ridge * np.mean(np.diag(gram)) * np.eye(gram.shape[0])
    weights = np.linalg.solve(gram, x.T @ y)  # (1 + p C, C)
    covariance = _residual_covariance(y - x @ weights, diagonal)
    start_residual = np.concatenate([s[:order] - f[:order] @ weights for s, f in zip(seqs, features, strict=True)])
    start_covariance = _residual_covariance(start_residual, diagonal) if len(start_residual) else covariance.copy()
    coefficients = np.zeros((0, channels, channels))  # order 0: no lags, an i.i.d. Gaussian
    if order:
        coefficients = np.stack([weights[1 + i * channels : 1 + (i + 1) * channels].T for i in range(order)])
    return VarModel(
        coefficients=coefficients.reshape(order, channels, channels),
        intercept=weights[0].copy(),
        covariance=covariance,
        start_covariance=start_covariance,
    )
