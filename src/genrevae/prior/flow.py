"""A latent flow-matching prior over windows of latent frames: a measured candidate (issue 20 item 2).

The learned prior of the workflow (:class:`~genrevae.prior.model.LatentPrior`) draws a latent
sequence frame by frame.  This module is the alternative that latent diffusion models of audio use
at scale (Stable Audio): a *rectified flow* (conditional flow matching, Lipman et al. 2023; Liu et
al. 2023) that draws a whole *window* of ``W`` frames at once, conditioned on the ``K`` frames
before it, so a clip of any length is generated window by window.  It is NOT part of the workflow
or the config schema: ``benchmarks/prior_compare.py --networks gru,flow`` measures it first.

Data
----
The flow models standardised latents ``u = (z - m) / s`` (per-channel moments of the aggregate
posterior, :func:`~genrevae.prior.fit.aggregate_posterior_moments`, as :class:`LatentPrior` uses).
A training example is a segment of ``K + W`` frames of a fresh posterior draw ``z ~ q(z|x)``
(:func:`~genrevae.prior.fit._training_batch`): its first ``K`` frames are the context ``c``, its
last ``W`` the window ``x1``.  Only the last ``L`` context frames are *valid* (the others zeroed and
flagged): ``L = K`` mostly, and ``L ~ U{0..K}`` for a fraction ``start_fraction`` of the examples,
so the model also learns the clip's start, where sampling begins from a zero, invalid context (the
autoregressive prior's zero start frame).

Objective
---------
With ``x0 ~ N(0, I)`` (shape ``(W, C)``), ``t ~ U(0, 1)`` and the straight path between them::

    x_t = (1 - t) x0 + t x1,        d x_t / dt = x1 - x0

the velocity network ``v(x_t, t, c)`` is fitted by least squares to the path's velocity::

    L = E_{x1, c, x0, t} [ mean_{frames, channels} (v(x_t, t, c) - (x1 - x0))^2 ]

whose minimiser is ``E[x1 - x0 | x_t, c]``, the velocity field whose ODE carries ``N(0, I)`` to
the data distribution of windows given their context.

Sampling
--------
Euler steps of that ODE from ``t = 0`` to ``1`` in ``ode_steps`` equal steps ``h``::

    x_0 = tau * eps,   eps ~ N(0, I),      x_{k+1} = x_k + h v(x_k, k h, c)

``tau`` is the temperature: ``tau = 1`` samples the model, ``tau < 1`` starts nearer the mean
(less varied windows), ``tau = 0`` gives the deterministic ODE solution from ``x_0 = 0``.  Window
``w`` (0-based) draws ``eps`` from the seed pair ``[seed, w]``; its context is the last ``K``
frames drawn before it (invalid zeros before the first window); the last window is cropped.

No log-density: a flow's exact likelihood needs the divergence of ``v`` integrated along the ODE
(a Hutchinson estimate per window), not the cheap sum the autoregressive prior has; the
benchmark reports its NLL as "n/a" rather than a number that is not comparable.

Network
-------
A stack of dilated 1-D convolutional residual blocks (RAVE / WaveNet style) over the ``K + W``
frames ``[context ; noisy window]``, each frame with two flags (valid context, window), and a
sinusoidal embedding of ``t`` added inside every block.  Keras 3 layers and ``keras.ops`` only,
so it runs on every backend.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
from keras import ops

from genrevae import backend
from genrevae.prior.fit import GRADIENT_CLIPNORM, _check_posteriors, _training_batch, aggregate_posterior_moments, fit_steps
from genrevae.prior.model import StandardisedLatents, Tensor
from genrevae.prior.var import _seed_word

#: The flow prior's hyper-parameters and their defaults (the only place they are defined).
#: window / context: frames drawn at once / frames conditioned on; hidden / blocks / kernel_size:
#: the velocity network; steps / batch_size / learning_rate / max_seconds: the fit (Adam);
#: start_fraction: share of training examples with a shortened (clip-start) context;
#: ode_steps: Euler steps per sampled window.
FLOW_DEFAULTS: dict[str, Any] = {
    "window": 32,
    "context": 32,
    "hidden": 64,
    "blocks": 5,
    "kernel_size": 3,
    "steps": 1500,
    "batch_size": 16,
    "learning_rate": 1e-3,
    "start_fraction": 0.1,
    "ode_steps": 32,
    "max_seconds": None,
}

#: Random stream (with the seed and the step) of the noise, times and context lengths of a batch.
FLOW_STREAM = 0xF10

#: Frequency range of the sinusoidal time embedding: ``t`` in [0, 1] is scaled by this first.
TIME_SCALE = 1000.0


def flow_settings(settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:data:`FLOW_DEFAULTS` with ``settings`` laid over them, typed and checked (ValueError names a bad key)."""
    given = dict(settings or {})
    unknown = sorted(set(given) - set(FLOW_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown flow prior setting(s) {unknown}; known: {sorted(FLOW_DEFAULTS)}")
    s = {**FLOW_DEFAULTS, **given}
    out: dict[str, Any] = {}
    for key, value in s.items():
        if key == "max_seconds" and value is None:
            out[key] = None
            continue
        if key in ("learning_rate", "start_fraction", "max_seconds"):
            value = float(value)
            ok = math.isfinite(value) and (0.0 <= value <= 1.0 if key == "start_fraction" else value > 0)
        else:
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"flow prior setting {key} must be an integer, got {value!r}")
            value = int(value)
            ok = value >= 1 and (key != "kernel_size" or value % 2 == 1)
        if not ok:
            raise ValueError(f"flow prior setting {key} has a bad value {s[key]!r}")
        out[key] = value
    return out


def time_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding ``(batch, dim)`` of times ``t (batch,)`` in [0, 1] (``dim`` even)::

    e = [sin(1000 t f_0..f_{d/2-1}), cos(1000 t f_0..f_{d/2-1})],   f_j = 10000^(-j / (d/2))
    """
    half = dim // 2
    freqs = ops.exp(-math.log(10000.0) * ops.arange(half, dtype="float32") / half)
    angles = TIME_SCALE * ops.cast(t, "float32")[:, None] * freqs[None, :]
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)


@keras.saving.register_keras_serializable(package="genrevae")
class FlowBlock(keras.layers.Layer):
    """One residual block: ``h + Conv1x1(silu(DilatedConv(silu(LN(h))) + W_t e))``.

    ``e`` is the block's view of the time embedding (a dense projection, added to every frame).  The
    last convolution starts at zero, so every block starts as the identity.
    """

    def __init__(self, width: int, kernel_size: int, dilation: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width, self.kernel_size, self.dilation = int(width), int(kernel_size), int(dilation)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm")
        self.conv = keras.layers.Conv1D(self.width, self.kernel_size, padding="same", dilation_rate=self.dilation, name="conv")
        self.time_projection = keras.layers.Dense(self.width, name="time_projection")
        self.out = keras.layers.Conv1D(self.width, 1, kernel_initializer="zeros", name="out")

    def build(self, input_shape: Any = None) -> None:
        self.norm.build((None, None, self.width))
        self.conv.build((None, None, self.width))
        self.time_projection.build((None, self.width))
        self.out.build((None, None, self.width))
        self.built = True

    def call(self, h: Tensor, embedding: Tensor) -> Tensor:
        y = self.conv(ops.silu(self.norm(h)))
        y = ops.silu(y + self.time_projection(embedding)[:, None, :])
        return h + self.out(y)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width, "kernel_size": self.kernel_size, "dilation": self.dilation}


@keras.saving.register_keras_serializable(package="genrevae")
class FlowPrior(StandardisedLatents, keras.Model):
    """Rectified-flow prior over windows of ``window`` latent frames given the ``context`` before them.

    Args:
        channels: ``C``, latent channels per frame.
        window: ``W``, frames drawn at once.
        context: ``K >= 1``, frames before the window that condition it.
        hidden: width of the residual stream and of the time embedding (even).
        blocks: residual blocks; block ``i`` has dilation ``2^i``, so the receptive field is
            ``1 + (kernel_size - 1)(2^blocks - 1)`` frames.
        kernel_size: odd width of the dilated convolutions.
        ode_steps: Euler steps per sampled window.

    Call :meth:`set_standardization` before training (:func:`fit_flow_prior` does).
    """

    def __init__(
        self,
        channels: int,
        window: int = FLOW_DEFAULTS["window"],
        context: int = FLOW_DEFAULTS["context"],
        hidden: int = FLOW_DEFAULTS["hidden"],
        blocks: int = FLOW_DEFAULTS["blocks"],
        kernel_size: int = FLOW_DEFAULTS["kernel_size"],
        ode_steps: int = FLOW_DEFAULTS["ode_steps"],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channels, self.window, self.context = int(channels), int(window), int(context)
        self.hidden, self.num_blocks, self.kernel_size, self.ode_steps = int(hidden), int(blocks), int(kernel_size), int(ode_steps)
        if min(self.channels, self.window, self.context, self.hidden, self.num_blocks, self.ode_steps) < 1:
            raise ValueError("channels, window, context, hidden, blocks and ode_steps must all be >= 1")
        if self.hidden % 2 or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"hidden ({hidden}) must be even and kernel_size ({kernel_size}) odd")
        c, h = self.channels, self.hidden
        self.loc = self.add_weight(shape=(c,), initializer="zeros", trainable=False, name="loc")
        self.scale = self.add_weight(shape=(c,), initializer="ones", trainable=False, name="scale")
        self.input_projection = keras.layers.Dense(h, name="input_projection")
        self.time_in = keras.layers.Dense(h, activation="silu", name="time_in")
        self.time_out = keras.layers.Dense(h, name="time_out")
        self.flow_blocks = [FlowBlock(h, self.kernel_size, 2**i, name=f"block_{i}") for i in range(self.num_blocks)]
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="output_norm")
        self.output_projection = keras.layers.Dense(c, kernel_initializer="zeros", name="output_projection")
        self.input_projection.build((None, None, c + 2))
        self.time_in.build((None, h))
        self.time_out.build((None, h))
        for block in self.flow_blocks:
            block.build((None, None, h))
        self.output_norm.build((None, None, h))
        self.output_projection.build((None, None, h))
        self.built = True
        self._window_fn: Any = None

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "channels": self.channels,
            "window": self.window,
            "context": self.context,
            "hidden": self.hidden,
            "blocks": self.num_blocks,
            "kernel_size": self.kernel_size,
            "ode_steps": self.ode_steps,
        }

    # -- the velocity field ------------------------------------------------------------

    def velocity(self, x: Tensor, t: Tensor, context: Tensor, valid: Tensor) -> Tensor:
        """``v(x_t, t, c)``: ``(batch, W, C)`` from the noisy window ``x (batch, W, C)``, times
        ``t (batch,)``, the standardised context ``(batch, K, C)`` and its validity ``(batch, K)``
        (1 = a real frame, 0 = before the clip's start; invalid frames are zeroed here)."""
        x = ops.convert_to_tensor(x, "float32")
        valid = ops.convert_to_tensor(valid, "float32")
        context = ops.convert_to_tensor(context, "float32") * valid[..., None]
        n = ops.shape(x)[0]
        context_flags = ops.stack([valid, ops.zeros_like(valid)], axis=-1)
        window_flags = ops.concatenate([ops.zeros((n, self.window, 1)), ops.ones((n, self.window, 1))], axis=-1)
        frames = ops.concatenate(
            [ops.concatenate([context, context_flags], axis=-1), ops.concatenate([x, window_flags], axis=-1)], axis=1
        )
        h = self.input_projection(frames)
        embedding = self.time_out(self.time_in(time_embedding(ops.reshape(t, (-1,)), self.hidden)))
        for block in self.flow_blocks:
            h = block(h, embedding)
        return self.output_projection(ops.silu(self.output_norm(h)))[:, self.context :]

    def call(self, inputs: Any) -> Tensor:
        return self.velocity(*inputs)

    def flow_matching_loss(self, z: Tensor, valid: Tensor, x0: Tensor, t: Tensor) -> Tensor:
        """The objective on one batch: ``mean (v(x_t, t, c) - (x1 - x0))^2`` over examples, frames and channels.

        ``z``: ``(batch, K + W, C)`` segments in ORIGINAL units (context, then window); ``valid``
        ``(batch, K)``; ``x0 (batch, W, C)`` the noise; ``t (batch,)``.  ``x1`` is the standardised
        window, ``x_t = (1 - t) x0 + t x1``.
        """
        u = self.standardize(z)
        context, x1 = u[:, : self.context], u[:, self.context :]
        x0 = ops.convert_to_tensor(x0, "float32")
        tt = ops.reshape(ops.convert_to_tensor(t, "float32"), (-1, 1, 1))
        x_t = (1.0 - tt) * x0 + tt * x1
        v = self.velocity(x_t, ops.reshape(tt, (-1,)), context, valid)
        return ops.mean(ops.square(v - (x1 - x0)))

    # -- sampling ----------------------------------------------------------------------

    def _sample_window(self, word: Tensor, index: Tensor, context: Tensor, valid: Tensor, temperature: Tensor) -> Tensor:
        """One standardised window ``(n, W, C)``: Euler steps from ``x_0 = tau eps``, ``eps`` from ``[word, index]``."""
        n = ops.shape(context)[0]
        seed = ops.stack([ops.cast(word, "int32"), ops.cast(index, "int32")])
        x = temperature * backend.normal((n, self.window, self.channels), seed)
        h = 1.0 / self.ode_steps

        def body(k: Tensor, x: Tensor) -> Tensor:
            t = ops.ones((n,), "float32") * (ops.cast(k, "float32") * h)
            return x + h * self.velocity(x, t, context, valid)

        return ops.fori_loop(0, self.ode_steps, body, x)

    def sample(self, n: int, frames: int, seed: int, temperature: float = 1.0) -> np.ndarray:
        """Samples ``z ~ p(z)``: float32 ``(n, frames, C)`` in ORIGINAL units, any ``frames``.

        Window ``w`` uses the seed pair ``[seed, w]``, so the result is a pure function of the weights,
        ``n``, ``seed`` and ``temperature`` on one backend, and its first windows do not depend on
        ``frames``.  ``temperature`` ``tau >= 0`` scales the ODE's starting noise (0: the
        deterministic solution from ``x_0 = 0``).
        """
        n, frames = int(n), int(frames)
        if n < 0 or frames < 0:
            raise ValueError(f"n and frames must be >= 0, got n={n}, frames={frames}")
        temperature = float(temperature)
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        word = _seed_word(seed)
        if n == 0 or frames == 0:
            return np.zeros((n, frames, self.channels), dtype=np.float32)
        if self._window_fn is None:
            self._window_fn = backend.compile_function(self._sample_window, self)
        k, w = self.context, self.window
        context = np.zeros((n, k, self.channels), np.float32)
        valid = np.zeros((n, k), np.float32)
        windows = []
        for index in range(-(-frames // w)):
            x = backend.to_numpy(self._window_fn(
                ops.convert_to_tensor(word, "int32"), ops.convert_to_tensor(index, "int32"),
                ops.convert_to_tensor(context), ops.convert_to_tensor(valid), ops.convert_to_tensor(temperature, "float32"),
            )).astype(np.float32)  # fmt: skip
            windows.append(x)
            context = np.concatenate([context, x], axis=1)[:, -k:]
            valid = np.concatenate([valid, np.ones((n, w), np.float32)], axis=1)[:, -k:]
        u = np.concatenate(windows, axis=1)[:, :frames]
        loc, scale = backend.to_numpy(self.loc), backend.to_numpy(self.scale)
        return (u * scale + loc).astype(np.float32)


def flow_batch(
    mean: np.ndarray, logvar: np.ndarray, s: Mapping[str, Any], seed: int, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training batch ``(z, valid, x0, t)``, a pure function of ``(seed, step)``.

    ``z``: segments of ``context + window`` frames of fresh posterior draws (:func:`_training_batch`,
    stream ``[seed, step]``); from the stream ``[seed, step, FLOW_STREAM]``: the number ``L`` of
    valid (last) context frames (``K``, or ``U{0..K}`` for a ``start_fraction`` of the examples),
    the noise ``x0 ~ N(0, I)`` and ``t ~ U(0, 1)``.
    """
    batch, k, w = s["batch_size"], s["context"], s["window"]
    z = _training_batch(mean, logvar, batch, k + w, seed, step)
    rng = np.random.default_rng([seed, step, FLOW_STREAM])
    short = rng.random(batch) < s["start_fraction"]
    lengths = np.where(short, rng.integers(0, k + 1, size=batch), k)
    valid = (np.arange(k)[None, :] >= (k - lengths)[:, None]).astype(np.float32)
    x0 = rng.standard_normal((batch, w, z.shape[2]), dtype=np.float32)
    t = rng.random(batch, dtype=np.float32)
    return z, valid, x0, t


def fit_flow_prior(
    train_mean: np.ndarray,
    train_logvar: np.ndarray,
    settings: Mapping[str, Any] | None,
    seed: int,
    log: logging.Logger | None = None,
) -> tuple[FlowPrior, list[dict[str, float]]]:
    """Fit a :class:`FlowPrior` to ``z ~ q(z|x)`` of the training clips.

    ``settings``: flow settings (:data:`FLOW_DEFAULTS` fill the rest).  ``seed`` fixes the initial
    weights and, with the step, every batch (:func:`flow_batch`): on CPU with the same thread count
    two runs give bit-identical weights (unless ``max_seconds`` stops them at different steps).
    Each step is one Adam update (global gradient-norm clip ``GRADIENT_CLIPNORM``) on
    :meth:`FlowPrior.flow_matching_loss`; a non-finite loss raises FloatingPointError.

    Returns the model and a history, one record per ``LOG_EVERY`` steps and the last:
    ``{"step", "loss" (mean since the previous record), "seconds"}``.
    """
    s = flow_settings(settings)
    mean, logvar = _check_posteriors(train_mean, train_logvar)
    if mean.shape[1] < s["context"] + s["window"]:
        raise ValueError(f"clips of {mean.shape[1]} latent frames are shorter than context + window = {s['context'] + s['window']}")
    seed = _seed_word(seed)
    keras.utils.set_random_seed(seed)
    prior = FlowPrior(mean.shape[2], window=s["window"], context=s["context"], hidden=s["hidden"], blocks=s["blocks"],
                      kernel_size=s["kernel_size"], ode_steps=s["ode_steps"])  # fmt: skip
    prior.set_standardization(*aggregate_posterior_moments(mean, logvar))
    optimizer = keras.optimizers.Adam(learning_rate=s["learning_rate"], global_clipnorm=GRADIENT_CLIPNORM)
    optimizer.build(prior.trainable_variables)
    train_step = backend.make_train_step(prior.flow_matching_loss, prior, optimizer, jit_compile=False)
    if log is not None:
        log.info("flow prior: %d clips x %d frames x %d channels; %d blocks x %d, %d params; %d steps of %d x (%d + %d) frames",
                 mean.shape[0], mean.shape[1], mean.shape[2], s["blocks"], s["hidden"], prior.count_params(),
                 s["steps"], s["batch_size"], s["context"], s["window"])  # fmt: skip
    history: list[dict[str, float]] = []

    def on_record(step: int, loss: float, elapsed: float) -> None:
        history.append({"step": step, "loss": loss, "seconds": elapsed})
        if log is not None:
            log.info("flow prior step %d: loss %.4f (%.1f s)", step, loss, elapsed)

    fit_steps(train_step, lambda step: flow_batch(mean, logvar, s, seed, step), s["steps"], s["max_seconds"], on_record, "flow prior")
    return prior, history
