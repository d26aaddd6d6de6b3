"""A learned autoregressive prior over VAE latent sequences, and two baselines.

The convolutional VAE (:mod:`genrevae.model`) encodes a clip into a latent *sequence*
``z`` of shape ``(T, C)`` (about 23.4 frames per second; 704 x 16 for a 30 s clip).  Its
prior ``p(z) = N(0, I)`` draws every frame independently, so sampled music has no
dynamics.  This module fits a better prior to the latents of the training clips.

Model
-----
:class:`LatentPrior` factorises a sequence autoregressively over frames::

    p(z_1..T) = prod_t p(z_t | z_<t)

Every conditional is a mixture of ``K`` diagonal Gaussians over the ``C`` channels::

    p(z_t | z_<t) = sum_k pi_k(h_t) prod_c N(z_tc; mu_kc(h_t), sigma_kc(h_t)^2)

with ``pi = softmax(logits)`` and ``h_t`` the state of a GRU (one or more stacked)
that has read the frames before ``t``.  The first frame is conditioned on a zero
"start" frame: the GRU reads the sequence shifted right by one frame, zero first, so one
pass over a whole sequence gives all ``T`` conditionals at once (teacher forcing).

The network models the *standardised* sequence ``u = (z - m) / s`` with per-channel mean
``m`` and standard deviation ``s`` of the training latents (stored as non-trainable
weights, saved with the model).  By the change of variables::

    log p(z) = log p_u(u) - T * sum_c log s_c

so :meth:`LatentPrior.log_prob` is a density of the ORIGINAL ``z`` and comparable with
``N(0, I)`` and the VAR baseline.

Training (:func:`fit_prior`) maximises the likelihood of random ``segment_frames``-long
segments of ``z ~ q(z|x)`` drawn afresh every step from the posteriors of the training
clips.  Sampling (:meth:`LatentPrior.sample`) is ancestral, frame by frame, for any
number of frames.

Baselines
---------
* :func:`standard_normal_log_prob` -- the VAE's own prior ``N(0, I)``.
* :class:`VarModel` / :func:`fit_var` -- a linear vector autoregression VAR(p)
  ``z_t = b + sum_i A_i z_{t-i} + e_t``, ``e_t ~ N(0, Sigma)``, fitted by least squares.

:func:`prior_report` compares all three by held-out negative log-likelihood per frame.

Everything is registered with Keras under the package name ``genrevae``, so
``keras.models.load_model(path, compile=False)`` works after ``import genrevae.prior``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from genrevae import backend
from genrevae.config import section

__all__ = [
    "LatentPrior",
    "aggregate_posterior_moments",
    "fit_prior",
    "standard_normal_log_prob",
    "VarModel",
    "fit_var",
    "posterior_draws",
    "prior_report",
    "as_sequence",
    "fit_prior_files",
    "load_prior",
]

#: log(2 pi), the constant of every Gaussian log-density.
LOG_2PI = math.log(2.0 * math.pi)

#: Steps between two progress lines / history records of :func:`fit_prior`.
LOG_EVERY = 100

#: Global gradient-norm clip of the prior's Adam: a mixture NLL occasionally produces a
#: large gradient when a component collapses onto a point; clipping keeps one such batch
#: from wrecking the GRU.  Far above the typical norm, so it rarely acts.
GRADIENT_CLIPNORM = 10.0

#: Posterior draws per train clip that the VAR is fitted to.
VAR_FIT_DRAWS = 4

#: Smallest standard deviation used for standardisation (a channel the encoder never uses).
MIN_STD = 1e-6

#: Smallest uniform draw fed to the Gumbel transform ``-log(-log U)``: ``U = 0`` (which the
#: generators can return) would give ``-inf``; the floor changes nothing else.
_TINY = float(np.finfo(np.float32).tiny)

#: A tensor of the running Keras backend (``tf.Tensor``, ``jax.Array``, ``torch.Tensor``).
Tensor = Any


def _seed_word(seed: int) -> int:
    """A non-negative int32 from any Python int (the first word of the stateless seed pairs)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return int(seed) % backend.SEED_MODULUS


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


def _typed(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``prior`` section (resolved by :func:`genrevae.config.section`) with Python numbers:
    the rates and the budget as floats, every count as an int."""
    floats = ("learning_rate", "temperature", "max_seconds")
    return {k: v if v is None else float(v) if k in floats else int(v) for k, v in settings.items()}


# ---------------------------------------------------------------------------
# The learned prior
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="genrevae")
class LatentPrior(keras.Model):
    """Autoregressive prior over latent sequences ``(T, C)``: a GRU that corrects a linear VAR.

    A VAR(p) ``z_t = b + sum_i A_i z_{t-i} + L e_t`` (fitted in closed form by
    :func:`fit_var`, ``L`` the Cholesky factor of its innovation covariance) already
    captures the linear, correlated dynamics of the latents.  The network models what is
    left: the *whitened innovation* ``u_t = L^{-1} (z_t - b - sum_i A_i z_{t-i})`` (zeros
    before the first frame), with a mixture of ``K`` diagonal Gaussians whose parameters a
    GRU computes from the past::

        x_t = tanh(W_in [u_{t-1}, s_{t-1}] + b_in)          # s = (z - m) / sd, standardised
        h_t = GRU_L(... GRU_1(x_t, h^1_{t-1}) ..., h^L_{t-1})
        [logits, mu, log_sigma] = W_out [h_t, u_{t-1}, s_{t-1}] + b_out

        p(z_t | z_<t) = |det L|^{-1} sum_k pi_k prod_c N(u_tc; mu_kc, sigma_kc^2)

    The head starts at zero (``mu = 0``, ``sigma = 1``, equal weights), where the model *is*
    the VAR: training can only move it away where the data say so -- non-linear dynamics,
    multi-modal next frames, a state that lasts longer than ``p`` frames.  ``log_sigma`` is
    clipped to ``[log_scale_min, log_scale_max]``.  The VAR, ``L^{-1}`` and the
    standardisation are non-trainable weights saved with the model.

    Args:
        channels: ``C``, latent channels per frame.
        hidden: GRU units (and width of the input projection).
        layers: number of stacked GRUs.
        mixtures: ``K``, mixture components per frame.
        order: ``p`` of the VAR (0: an i.i.d. Gaussian with full covariance).

    Call :meth:`set_linear` and :meth:`set_standardization` before training
    (:func:`fit_prior` does).
    """

    def __init__(
        self,
        channels: int,
        hidden: int = 128,
        layers: int = 1,
        mixtures: int = 4,
        order: int = 0,
        log_scale_min: float = -7.0,
        log_scale_max: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.hidden = int(hidden)
        # Not `self.layers`: keras.Model.layers is a property listing the sublayers.
        self.num_layers = int(layers)
        self.mixtures = int(mixtures)
        self.order = int(order)
        self.log_scale_min = float(log_scale_min)
        self.log_scale_max = float(log_scale_max)
        if min(self.channels, self.hidden, self.num_layers, self.mixtures) < 1 or self.order < 0:
            raise ValueError("channels, hidden, layers and mixtures must all be >= 1 and order >= 0")
        if not self.log_scale_min < self.log_scale_max:
            raise ValueError("log_scale_min must be < log_scale_max")

        c, k = self.channels, self.mixtures
        self.loc = self.add_weight(shape=(c,), initializer="zeros", trainable=False, name="loc")
        self.scale = self.add_weight(shape=(c,), initializer="ones", trainable=False, name="scale")
        # rows: intercept, then A_1^T, ..., A_p^T (the layout of VarModel._weights)
        self.var_weights = self.add_weight(shape=(1 + self.order * c, c), initializer="zeros", trainable=False, name="var_weights")
        self.unwhiten = self.add_weight(shape=(c, c), initializer="identity", trainable=False, name="unwhiten")  # L
        self.whiten = self.add_weight(shape=(c, c), initializer="identity", trainable=False, name="whiten")  # L^-1
        self.input_projection = keras.layers.Dense(self.hidden, activation="tanh", name="input_projection")
        self.grus = [
            keras.layers.GRU(self.hidden, return_sequences=True, return_state=True, name=f"gru_{i}")
            for i in range(self.num_layers)
        ]
        self.head = keras.layers.Dense(k * (1 + 2 * c), kernel_initializer="zeros", name="head")
        # Build every weight now, so a freshly constructed (or deserialised) model owns
        # all its variables before the first call and load_model can fill them.
        self.input_projection.build((None, None, 2 * c))
        for gru in self.grus:
            gru.build((None, None, self.hidden))
        self.head.build((None, None, self.hidden + 2 * c))
        self.built = True
        self._sample_fn: Any = None
        self._log_prob_fn: Any = None

    # -- configuration -----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "channels": self.channels,
            "hidden": self.hidden,
            "layers": self.num_layers,
            "mixtures": self.mixtures,
            "order": self.order,
            "log_scale_min": self.log_scale_min,
            "log_scale_max": self.log_scale_max,
        }

    def set_standardization(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Set the per-channel mean ``m`` and standard deviation ``s`` (floored at 1e-6) of
        the network's input ``s_t = (z_t - m) / sd``."""
        mean = np.asarray(mean, dtype=np.float32).reshape(self.channels)
        std = np.maximum(np.asarray(std, dtype=np.float32).reshape(self.channels), MIN_STD)
        self.loc.assign(mean)
        self.scale.assign(std)

    def set_linear(self, var: "VarModel") -> None:
        """Take the VAR's coefficients and innovation covariance (its order must equal ``order``)."""
        if var.order != self.order or var.channels != self.channels:
            raise ValueError(f"VAR({var.order}) over {var.channels} channels given to a prior of order {self.order} over {self.channels}")
        chol = np.linalg.cholesky(var.covariance)
        self.var_weights.assign(var._weights().astype(np.float32))
        self.unwhiten.assign(chol.astype(np.float32))
        self.whiten.assign(np.linalg.inv(chol).astype(np.float32))

    # -- the network ---------------------------------------------------------------------

    def _split_head(self, out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(..., K (1 + 2C))`` -> logits ``(..., K)``, means and log-scales ``(..., K, C)``."""
        k, c = self.mixtures, self.channels
        lead = tuple(ops.shape(out)[:-1])
        logits = out[..., :k]
        means = ops.reshape(out[..., k : k + k * c], (*lead, k, c))
        log_scales = ops.reshape(out[..., k + k * c :], (*lead, k, c))
        log_scales = ops.clip(log_scales, self.log_scale_min, self.log_scale_max)
        return logits, means, log_scales

    def standardize(self, z: Tensor) -> Tensor:
        """``s = (z - m) / sd``: the network's view of a frame."""
        return (ops.convert_to_tensor(z, "float32") - self.loc) / self.scale

    def linear_prediction(self, z: Tensor) -> Tensor:
        """The VAR's prediction of every frame from the ``p`` before it (zeros before the start): ``(batch, T, C)``."""
        z = ops.convert_to_tensor(z, "float32")
        c, p = self.channels, self.order
        pred = ops.zeros_like(z) + self.var_weights[0]
        if p:
            padded = ops.pad(z, [[0, 0], [p, 0], [0, 0]])
            frames = ops.shape(z)[1]
            for i in range(1, p + 1):
                lagged = padded[:, p - i : p - i + frames, :]
                pred = pred + ops.matmul(lagged, self.var_weights[1 + (i - 1) * c : 1 + i * c])
        return pred

    def innovations(self, z: Tensor) -> Tensor:
        """Whitened innovations ``u_t = L^{-1} (z_t - prediction_t)``, ``(batch, T, C)``."""
        z = ops.convert_to_tensor(z, "float32")
        return ops.matmul(z - self.linear_prediction(z), ops.transpose(self.whiten))

    def _log_det_whiten(self) -> Tensor:
        """``log |det L^{-1}| = -sum_c log |L_cc|`` (``L`` is triangular)."""
        return -ops.sum(ops.log(ops.abs(ops.diagonal(ops.convert_to_tensor(self.unwhiten)))))

    def conditionals(self, z: Tensor, training: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Teacher-forced mixture parameters of ``p(u_t | z_<t)`` for all frames at once.

        ``z``: ``(batch, T, C)`` in original units.  Returns ``logits (batch, T, K)``,
        ``means`` and ``log_scales`` ``(batch, T, K, C)``, in whitened-innovation units.
        """
        z = ops.convert_to_tensor(z, "float32")
        shift = [[0, 0], [1, 0], [0, 0]]  # shift right by one frame, zeros first
        prev = ops.concatenate(
            [ops.pad(self.innovations(z)[:, :-1], shift), ops.pad(self.standardize(z)[:, :-1], shift)], axis=-1
        )
        h = self.input_projection(prev)
        for gru in self.grus:
            h, _ = gru(h, training=training)
        return self._split_head(self.head(ops.concatenate([h, prev], axis=-1)))

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        """Keras entry point: the per-frame conditional log-densities ``(batch, T)`` of ``z``."""
        return self._frame_log_probs(inputs, training=training)

    @staticmethod
    def mixture_log_prob(u: Tensor, logits: Tensor, means: Tensor, log_scales: Tensor) -> Tensor:
        """``log sum_k pi_k prod_c N(u_c; mu_kc, sigma_kc^2)`` over the last axes.

        ``u``: ``(..., C)``; ``logits``: ``(..., K)``; ``means``, ``log_scales``:
        ``(..., K, C)``.  Returns ``(...)`` (whitened units, no Jacobian).
        """
        diff = (u[..., None, :] - means) * ops.exp(-log_scales)
        component = -0.5 * ops.sum(diff * diff + LOG_2PI + 2.0 * log_scales, axis=-1)
        return ops.logsumexp(ops.log_softmax(logits, axis=-1) + component, axis=-1)

    def _frame_log_probs(self, z: Tensor, training: bool = False) -> Tensor:
        """``log p(z_t | z_<t)`` in original units, ``(batch, T)``."""
        z = ops.convert_to_tensor(z, "float32")
        logits, means, log_scales = self.conditionals(z, training=training)
        return self.mixture_log_prob(self.innovations(z), logits, means, log_scales) + self._log_det_whiten()

    def _sequence_log_prob(self, z: Tensor) -> Tensor:
        """``sum_t log p(z_t | z_<t)``, ``(batch,)``: what :meth:`log_prob` compiles."""
        return ops.sum(self._frame_log_probs(z), axis=1)

    def log_prob(self, z: Tensor | np.ndarray, training: bool = False) -> Tensor:
        """Exact log-density (nats) of whole sequences ``z (batch, T, C)``; returns ``(batch,)``.

        ``sum_t log p(z_t | z_<t)`` including the whitening Jacobian ``T log|det L^{-1}|``,
        from one teacher-forced pass.  Outside training it runs compiled
        (:func:`genrevae.backend.compile_function`, built once per model, traced once per input
        shape): the op-by-op numbers up to float rounding (tested), several times faster, which
        the learned-prior ELBO of every importance sample needs.  In training it runs the ops
        directly, inside the compiled train step, so gradients flow through them.  Called inside
        another compiled function it nests (JAX then passes the enclosing values of the weights).
        """
        if training:
            return ops.sum(self._frame_log_probs(z, training=True), axis=1)
        if self._log_prob_fn is None:
            self._log_prob_fn = self._compile_log_prob()
        return self._log_prob_fn(ops.convert_to_tensor(z, "float32"))

    def _compile_log_prob(self) -> Any:
        """The compiled :meth:`_sequence_log_prob`, whose numbers depend only on the input.

        JAX compiles once per input shape, each shape the same way whatever came before.
        TensorFlow (a plain graph: XLA would compile every new batch size anew, ~1-2 s each, and
        run the GRU no faster) traces once for free batch and frame axes (the signature): a trace
        for the first exact shape could differ from the free one in the last bits, and a number
        would then depend on which shapes the model scored before.
        """
        signature = [((None, None, self.channels), "float32")]
        return backend.compile_function(self._sequence_log_prob, self, jit_compile=False, signature=signature)

    # -- one step at a time ---------------------------------------------------------

    def initial_state(self, n: Any) -> list[Tensor]:
        """Zero GRU states, one ``(n, hidden)`` tensor per layer (``n`` an int or a traced size)."""
        return [ops.zeros((n, self.hidden), "float32") for _ in range(self.num_layers)]

    def step(self, prev: Tensor, states: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
        """One frame with the GRU cells: ``([u_{t-1}, s_{t-1}], states) -> (logits, means, log_scales, states')``.

        ``prev``: ``(n, 2C)``, the previous frame's whitened innovation and standardised
        value (zeros at ``t = 1``).  Uses the same weights as :meth:`conditionals`, so
        stepping through a sequence reproduces the teacher-forced parameters (up to float
        rounding).
        """
        prev = ops.convert_to_tensor(prev, "float32")
        h = self.input_projection(prev)
        new_states = []
        for gru, state in zip(self.grus, states, strict=True):
            h, new = gru.cell(h, [state])
            new_states.append(new[0] if isinstance(new, (list, tuple)) else new)
        logits, means, log_scales = self._split_head(self.head(ops.concatenate([h, prev], axis=-1)))
        return logits, means, log_scales, new_states

    def _sample_step(
        self, history: Tensor, prev: Tensor, states: list[Tensor], seed: Tensor, temperature: Tensor
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Draw frame ``t`` given the seed pair ``[word, t]``; returns the updated loop state.

        ``history``: the last ``max(p, 1)`` frames ``(n, max(p, 1), C)``, newest last.  The
        component is drawn by Gumbel-max: ``k = argmax_k (logits_k / tau + g_k)`` with
        ``g = -log(-log U)``, ``U ~ Uniform[0, 1)`` from the seed pair ``[word, 2t]``, is a
        draw of ``softmax(logits / tau)`` (the backends share no categorical sampler that takes
        a tensor seed); the Gaussian noise comes from ``[word, 2t + 1]``, so the two draws of
        every frame, and of different frames, use distinct seeds.
        """
        seed = ops.cast(seed, "int32")
        word, t = seed[0], seed[1]
        logits, means, log_scales, states = self.step(prev, states)
        uniform = backend.uniform(ops.shape(logits), ops.stack([word, 2 * t]))
        gumbel = -ops.log(-ops.log(ops.maximum(uniform, _TINY)))
        k = ops.argmax(logits / temperature + gumbel, axis=-1)
        index = ops.expand_dims(ops.expand_dims(k, -1), -1)  # (n, 1, 1), broadcast over channels
        mu = ops.take_along_axis(means, index, axis=1)[:, 0]
        log_sigma = ops.take_along_axis(log_scales, index, axis=1)[:, 0]
        eps = backend.normal(ops.shape(mu), ops.stack([word, 2 * t + 1]))
        u = mu + temperature * ops.exp(log_sigma) * eps
        c, p = self.channels, self.order
        pred = ops.zeros_like(u) + self.var_weights[0]
        for i in range(1, p + 1):
            pred = pred + ops.matmul(history[:, -i, :], self.var_weights[1 + (i - 1) * c : 1 + i * c])
        z = pred + ops.matmul(u, ops.transpose(self.unwhiten))
        history = ops.concatenate([history[:, 1:], z[:, None, :]], axis=1)
        return history, ops.concatenate([u, self.standardize(z)], axis=-1), states

    def _sample_frames(self, word: Tensor, out: Tensor, temperature: Tensor) -> Tensor:
        """Fill ``out (frames, n, C)`` with frames ``t = 0, 1, ...`` of :meth:`_sample_step` from
        seed ``[word, t]``, starting from zero history, zero input and zero GRU states.

        ``out``'s shape carries ``frames`` and ``n``: a loop that writes into a preallocated
        array needs its length as a static shape on JAX (one trace per ``(n, frames)``).
        """
        n = ops.shape(out)[1]
        history = ops.zeros((n, max(self.order, 1), self.channels), "float32")
        prev = ops.zeros((n, 2 * self.channels), "float32")
        word = ops.cast(word, "int32")

        def body(t: Tensor, carry: tuple) -> tuple:
            history, prev, states, out = carry
            seed = ops.stack([word, ops.cast(t, "int32")])
            history, prev, states = self._sample_step(history, prev, states, seed, temperature)
            out = ops.slice_update(out, (t, 0, 0), history[None, :, -1])
            return history, prev, states, out

        return ops.fori_loop(0, ops.shape(out)[0], body, (history, prev, self.initial_state(n), out))[3]

    def sample(self, n: int, frames: int, seed: int, temperature: float = 1.0) -> np.ndarray:
        """Ancestral samples ``z ~ p(z)``: float32 ``(n, frames, C)`` in original units.

        Frame ``t`` (0-based) draws its mixture component and its Gaussian noise from the
        seed pairs ``[seed, 2t]`` and ``[seed, 2t + 1]`` (:meth:`_sample_step`), so the result
        is a pure function of the weights, ``n``, ``seed`` and ``temperature`` on one backend
        (the backends' generators draw different numbers for a seed): the same in every call
        and process, and the first ``t`` frames do not depend on ``frames``.  Any ``frames``
        works, also longer than the training segments.

        ``temperature`` ``tau > 0`` scales every component's standard deviation by
        ``tau`` AND divides the mixture logits by ``tau``: ``tau < 1`` gives less noisy,
        more "typical" sequences (sharper mixture weights, narrower components), ``tau >
        1`` the opposite; ``tau = 1`` samples the model exactly.  (Only the innovation
        noise is scaled; the VAR and GRU dynamics are not.)
        """
        n, frames = int(n), int(frames)
        if n < 0 or frames < 0:
            raise ValueError(f"n and frames must be >= 0, got n={n}, frames={frames}")
        temperature = float(temperature)
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        word = _seed_word(seed)
        if n == 0 or frames == 0:
            return np.zeros((n, frames, self.channels), dtype=np.float32)
        if self._sample_fn is None:
            # The loop over frames runs inside one compiled function (a while loop): the same
            # steps as calling the compiled _sample_step frame by frame from Python (tested),
            # ~10x faster for a 30 s clip.  Compiled once per model, traced once per (n, frames).
            self._sample_fn = backend.compile_function(self._sample_frames, self)
        out = self._sample_fn(
            ops.convert_to_tensor(word, "int32"),
            ops.zeros((frames, n, self.channels), "float32"),
            ops.convert_to_tensor(temperature, "float32"),
        )
        return np.transpose(backend.to_numpy(out), (1, 0, 2)).astype(np.float32)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def _check_posteriors(mean: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float32)
    logvar = np.asarray(logvar, dtype=np.float32)
    if mean.ndim != 3 or mean.shape[0] < 1 or mean.shape[1] < 1 or mean.shape[2] < 1:
        raise ValueError(f"train_mean must have shape (clips, frames, channels), got {mean.shape}")
    if logvar.shape != mean.shape:
        raise ValueError(f"train_logvar shape {logvar.shape} differs from train_mean shape {mean.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(logvar))):
        raise ValueError("train_mean and train_logvar must be finite")
    return mean, logvar


def aggregate_posterior_moments(mean: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of ``z ~ q(z|x)`` pooled over clips and frames.

    Exact moments of the mixture of the posteriors: ``E[z] = avg(mu)``,
    ``Var[z] = avg(mu^2 + sigma^2) - E[z]^2`` (no sampling needed).
    """
    mu = np.asarray(mean, dtype=np.float64)
    var = np.exp(np.asarray(logvar, dtype=np.float64))
    m = mu.mean(axis=(0, 1))
    v = (mu * mu + var).mean(axis=(0, 1)) - m * m
    return m, np.sqrt(np.maximum(v, MIN_STD**2))


def _training_batch(
    mean: np.ndarray, logvar: np.ndarray, batch_size: int, segment: int, seed: int, step: int
) -> np.ndarray:
    """Segments of fresh posterior draws for ``step``; a pure function of ``(seed, step)``.

    ``batch_size`` random clips (with replacement), a random offset each, and
    ``z = mean + exp(logvar / 2) * eps`` with new ``eps``.
    """
    rng = np.random.default_rng([seed, step])
    clips = rng.integers(0, mean.shape[0], size=batch_size)
    offsets = rng.integers(0, mean.shape[1] - segment + 1, size=batch_size)
    index = offsets[:, None] + np.arange(segment)[None, :]
    mu = mean[clips[:, None], index]
    lv = logvar[clips[:, None], index]
    eps = rng.standard_normal(mu.shape, dtype=np.float32)
    return (mu + np.exp(0.5 * lv) * eps).astype(np.float32)


def posterior_draws(mean: np.ndarray, logvar: np.ndarray, seed: int, draws: int = VAR_FIT_DRAWS) -> list[np.ndarray]:
    """``draws`` sequences ``z = mean + exp(logvar / 2) eps`` per clip (``numpy.random.default_rng([seed, -1])``):
    the data the VAR is fitted to, so it sees the same posterior spread as the GRU does."""
    rng = np.random.default_rng([int(seed), 2**31])
    out = []
    for _ in range(int(draws)):
        eps = rng.standard_normal(mean.shape)
        out.extend(list(np.asarray(mean, np.float64) + np.exp(0.5 * np.asarray(logvar, np.float64)) * eps))
    return out


def fit_prior(
    train_mean: np.ndarray,
    train_logvar: np.ndarray,
    settings: Mapping[str, Any],
    seed: int,
    log: logging.Logger | None = None,
    var_model: "VarModel | None" = None,
) -> tuple[LatentPrior, list[dict[str, float]]]:
    """Fit a :class:`LatentPrior` to ``z ~ q(z|x)`` of the training clips.

    Args:
        train_mean, train_logvar: ``(clips, frames, C)`` posterior means and
            log-variances of the TRAIN clips.
        settings: the ``prior`` config section (missing keys take the schema's defaults, a bad
            value raises ConfigError naming it; ``var_order`` and ``temperature`` are not used here).
        seed: fixes the initial weights (``keras.utils.set_random_seed``) and, with the
            step number, every batch (:func:`_training_batch`): on CPU with the same
            thread count two runs give bit-identical weights -- unless ``max_seconds``
            stops them after different numbers of steps.
        log: progress every ``LOG_EVERY`` steps (``logging.INFO``).

    Each step minimises the mean negative log-likelihood per frame
    ``-log p(z) / segment_frames`` of ``batch_size`` random segments of
    ``segment_frames`` frames (all frames if the clips are shorter) with Adam, for
    ``steps`` steps or until ``max_seconds`` of wall clock are spent.  Segments start
    at the zero start frame, like sampling does.

    Returns the model and a history: one dict per ``LOG_EVERY`` steps and one for the
    last step, ``{"step", "nll_per_frame" (mean over the steps since the previous
    record, nats, original units), "seconds" (since the start)}``.
    """
    s = _typed(section("prior", settings))
    mean, logvar = _check_posteriors(train_mean, train_logvar)
    seed = _seed_word(seed)
    segment = min(s["segment_frames"], mean.shape[1])
    channels = mean.shape[2]

    keras.utils.set_random_seed(seed)
    if var_model is None:
        var_model = fit_var(posterior_draws(mean, logvar, seed), min(s["var_order"], mean.shape[1] - 1))
    prior = LatentPrior(channels, hidden=s["hidden"], layers=s["layers"], mixtures=s["mixtures"], order=var_model.order)
    prior.set_standardization(*aggregate_posterior_moments(mean, logvar))
    prior.set_linear(var_model)
    optimizer = keras.optimizers.Adam(learning_rate=s["learning_rate"], global_clipnorm=GRADIENT_CLIPNORM)
    optimizer.build(prior.trainable_variables)  # the slots exist before the step is compiled

    def loss_fn(z: Tensor) -> Tensor:
        """Mean NLL per frame of the batch; the VAR, whitening and standardisation weights are
        non-trainable and reach the compiled step through the seam, like the GRU's."""
        frames = ops.cast(ops.shape(z)[1], "float32")
        return -ops.mean(prior.log_prob(z, training=True)) / frames

    # On TensorFlow a plain graph: with XLA the GRU's step measured ~1.5x slower on CPU (hidden
    # 128, 16 x 128 frames) after a longer compile.  JAX always compiles with XLA.
    train_step = backend.make_train_step(loss_fn, prior, optimizer, jit_compile=False)

    if log is not None:
        log.info(
            "prior: %d clips x %d frames x %d channels; GRU %d x %d, %d mixtures, %d params; "
            "%d steps of %d segments x %d frames",
            mean.shape[0], mean.shape[1], channels, s["layers"], s["hidden"], s["mixtures"],
            prior.count_params(), s["steps"], s["batch_size"], segment,
        )  # fmt: skip
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    total, count = 0.0, 0
    for step in range(1, s["steps"] + 1):
        z = _training_batch(mean, logvar, s["batch_size"], segment, seed, step)
        loss = float(backend.to_numpy(train_step(ops.convert_to_tensor(z, "float32"))))
        if not math.isfinite(loss):
            raise FloatingPointError(f"prior: non-finite loss {loss} at step {step}")
        total, count = total + loss, count + 1
        elapsed = time.perf_counter() - start
        out_of_time = s["max_seconds"] is not None and elapsed >= s["max_seconds"]
        if step % LOG_EVERY == 0 or step == s["steps"] or out_of_time:
            record = {"step": step, "nll_per_frame": total / count, "seconds": elapsed}
            history.append(record)
            total, count = 0.0, 0
            if log is not None:
                log.info("prior step %d: nll/frame %.4f (%.1f s)", step, record["nll_per_frame"], elapsed)
        if out_of_time:
            if log is not None:
                log.info("prior: max_seconds=%s reached after %d steps", s["max_seconds"], step)
            break
    return prior, history


# ---------------------------------------------------------------------------
# Baselines (numpy)
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# One genre, from its files (the prior workflow stage)
# ---------------------------------------------------------------------------
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

    from genrevae.artifacts.reports import write_report
    from genrevae.artifacts.shard import read_shard
    from genrevae.artifacts.split import read_split
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
    # The baseline and the learned prior's linear part are the same VAR: the report shows what the GRU adds.
    var_model = fit_var(posterior_draws(train_mean, train_logvar, seed), var_order)
    prior, history = fit_prior(train_mean, train_logvar, s, seed, log, var_model)
    report = prior_report(prior, var_model, train_mean, test_mean)
    result = {
        "report": report,
        "history": history,
        "fit_seconds": time.perf_counter() - started,
        "var_order": var_order,
        "parameters": int(prior.count_params()),
        "settings": s,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(result, out_dir / "prior.json")
    with atomic_path(out_dir / "prior.keras") as tmp:
        prior.save(tmp)
    return result


def load_prior(path) -> LatentPrior:
    """Load a saved ``prior.keras``."""
    from pathlib import Path

    return keras.models.load_model(Path(path), compile=False)
