"""The learned prior as a Keras model: :class:`LatentPrior`, its log-density and its sampler.

Everything that scoring a sequence or drawing one needs, and nothing about how it is fitted
(:mod:`genrevae.prior.fit`) or judged (:mod:`genrevae.prior.report`).  The class is
registered with Keras as ``genrevae>LatentPrior``, a name that does not depend on this
module's path, so ``prior.keras`` files saved when it lived in ``genrevae/prior.py`` still
load (after ``import genrevae.prior``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from genrevae import backend
from genrevae.prior.transformer import CausalTransformerBlock
from genrevae.prior.var import LOG_2PI, VarModel, _seed_word


#: Smallest standard deviation used for standardisation (a channel the encoder never uses).
MIN_STD = 1e-6

#: Smallest uniform draw fed to the Gumbel transform ``-log(-log U)``: ``U = 0`` (which the
#: generators can return) would give ``-inf``; the floor changes nothing else.
_TINY = float(np.finfo(np.float32).tiny)

#: A tensor of the running Keras backend (``tf.Tensor``, ``jax.Array``, ``torch.Tensor``).
Tensor = Any

#: The networks that can read the past (``prior.network``).
NETWORKS = ("gru", "transformer")


class StandardisedLatents:
    """What a prior over latents that models ``u = (z - m) / s`` shares: setting the per-channel
    mean ``m`` and standard deviation ``s`` (non-trainable weights ``loc`` and ``scale`` that the
    model creates, so they are saved with it) and the map ``z -> u``."""

    channels: int
    loc: Any
    scale: Any

    def set_standardization(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Set the per-channel mean ``m`` and standard deviation ``s`` (floored at ``MIN_STD``)
        of the network's view ``u = (z - m) / s``."""
        self.loc.assign(np.asarray(mean, dtype=np.float32).reshape(self.channels))
        self.scale.assign(np.maximum(np.asarray(std, dtype=np.float32).reshape(self.channels), MIN_STD))

    def standardize(self, z: Tensor) -> Tensor:
        """``u = (z - m) / s``: the network's view of a frame."""
        return (ops.convert_to_tensor(z, "float32") - self.loc) / self.scale


@keras.saving.register_keras_serializable(package="genrevae")
class LatentPrior(StandardisedLatents, keras.Model):
    """Autoregressive prior over latent sequences ``(T, C)``: a GRU (or a transformer) that corrects a linear VAR.

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

    With ``network="transformer"`` the GRUs are replaced by ``layers`` pre-norm causal
    transformer blocks of width ``hidden`` (:class:`~genrevae.prior.transformer.CausalTransformerBlock`)
    and a final layer norm: ``h_t`` then reads the inputs of the last ``context_frames``
    frames in every block, with a learned relative-position bias and no absolute positions,
    so any length is scored and sampled as the training segments were.  Inputs, head,
    log-density and sampler are the same; so is the start at the VAR.

    Args:
        channels: ``C``, latent channels per frame.
        hidden: GRU units (the transformer's width), and width of the input projection.
        layers: number of stacked GRUs (transformer blocks).
        mixtures: ``K``, mixture components per frame.
        order: ``p`` of the VAR (0: an i.i.d. Gaussian with full covariance).
        network: ``"gru"`` (what a saved prior without this setting is) or ``"transformer"``.
        heads: attention heads of the transformer (``hidden`` must be a multiple).
        context_frames: the transformer's attention window in frames.
        dropout: rate of the dropout on the network's input ``x_t`` and output ``h_t`` while
            fitting (0: none, and no dropout layers); scoring and sampling never drop.

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
        network: str = "gru",
        heads: int = 4,
        context_frames: int = 64,
        dropout: float = 0.0,
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
        self.network = str(network)
        self.heads = int(heads)
        self.context_frames = int(context_frames)
        self.dropout = float(dropout)
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
        if min(self.channels, self.hidden, self.num_layers, self.mixtures) < 1 or self.order < 0:
            raise ValueError("channels, hidden, layers and mixtures must all be >= 1 and order >= 0")
        if not self.log_scale_min < self.log_scale_max:
            raise ValueError("log_scale_min must be < log_scale_max")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")

        c, k = self.channels, self.mixtures
        self.loc = self.add_weight(shape=(c,), initializer="zeros", trainable=False, name="loc")
        self.scale = self.add_weight(shape=(c,), initializer="ones", trainable=False, name="scale")
        # rows: intercept, then A_1^T, ..., A_p^T (the layout of VarModel._weights)
        self.var_weights = self.add_weight(shape=(1 + self.order * c, c), initializer="zeros", trainable=False, name="var_weights")
        self.unwhiten = self.add_weight(shape=(c, c), initializer="identity", trainable=False, name="unwhiten")  # L
        self.whiten = self.add_weight(shape=(c, c), initializer="identity", trainable=False, name="whiten")  # L^-1
        self.input_projection = keras.layers.Dense(self.hidden, activation="tanh", name="input_projection")
        # Only the chosen network's layers exist (a GRU prior has exactly the layers, and so
        # the saved weights, of the priors saved before the setting).
        if self.network == "gru":
            self.grus = [
                keras.layers.GRU(self.hidden, return_sequences=True, return_state=True, name=f"gru_{i}")
                for i in range(self.num_layers)
            ]
        else:
            self.blocks = [
                CausalTransformerBlock(self.hidden, self.heads, self.context_frames, name=f"block_{i}")
                for i in range(self.num_layers)
            ]
            self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.head = keras.layers.Dense(k * (1 + 2 * c), kernel_initializer="zeros", name="head")
        # A prior without dropout has no dropout layer: no seed state among its weights, so it
        # saves exactly the weights of the priors saved before the setting.
        self.input_dropout = keras.layers.Dropout(self.dropout, name="input_dropout") if self.dropout else None
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout") if self.dropout else None
        # Build every weight now, so a freshly constructed (or deserialised) model owns
        # all its variables before the first call and load_model can fill them.
        self.input_projection.build((None, None, 2 * c))
        if self.network == "gru":
            for gru in self.grus:
                gru.build((None, None, self.hidden))
        else:
            for block in self.blocks:
                block.build((None, None, self.hidden))
            self.final_norm.build((None, None, self.hidden))
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
            "network": self.network,
            "heads": self.heads,
            "context_frames": self.context_frames,
            "dropout": self.dropout,
        }

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
        if self.input_dropout is not None:
            h = self.input_dropout(h, training=training)
        if self.network == "gru":
            for gru in self.grus:
                h, _ = gru(h, training=training)
        else:
            for block in self.blocks:
                h = block(h)
            h = self.final_norm(h)
        if self.output_dropout is not None:
            h = self.output_dropout(h, training=training)
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

    def _frame_log_probs(self, z: Tensor, training: bool = False, history: Tensor | None = None) -> Tensor:
        """``log p(z_t | h_<t)`` in original units, ``(batch, T)``, where the past ``h`` is
        ``history`` (same shape as ``z``; default ``z`` itself, the model's log-density)."""
        z = ops.convert_to_tensor(z, "float32")
        h = z if history is None else ops.convert_to_tensor(history, "float32")
        logits, means, log_scales = self.conditionals(h, training=training)
        u = ops.matmul(z - self.linear_prediction(h), ops.transpose(self.whiten))
        return self.mixture_log_prob(u, logits, means, log_scales) + self._log_det_whiten()

    def one_step_draws(self, z: Tensor, uniform: Tensor, noise: Tensor, training: bool = False) -> Tensor:
        """A draw of every frame from its conditional given the true past, ``z~_t ~ p(. | z_<t)``,
        all frames at once (teacher forced): ``(batch, T, C)`` in original units.

        ``uniform`` ``(batch, T, K)`` in ``[0, 1)`` picks each frame's component by Gumbel-max
        and ``noise`` ``(batch, T, C)`` ~ N(0, I) draws it, as :meth:`_sample_step` does frame
        by frame (temperature 1).  What parallel scheduled sampling feeds back as history.
        """
        z = ops.convert_to_tensor(z, "float32")
        logits, means, log_scales = self.conditionals(z, training=training)
        u = self.draw_innovation(
            logits, means, log_scales, ops.convert_to_tensor(uniform, "float32"), ops.convert_to_tensor(noise, "float32")
        )
        return self.linear_prediction(z) + ops.matmul(u, ops.transpose(self.unwhiten))

    @staticmethod
    def draw_innovation(
        logits: Tensor, means: Tensor, log_scales: Tensor, uniform: Tensor, noise: Tensor, temperature: Any = 1.0
    ) -> Tensor:
        """One draw of the whitened innovation from each mixture, ``(..., C)``: the component
        ``k = argmax_k (logits_k / tau + g_k)`` with ``g = -log(-log U)`` (Gumbel-max, a draw of
        ``softmax(logits / tau)``), then ``mu_k + tau sigma_k noise``.  ``logits``, ``uniform``:
        ``(..., K)``; ``means``, ``log_scales``: ``(..., K, C)``; ``noise``: ``(..., C)``."""
        gumbel = -ops.log(-ops.log(ops.maximum(uniform, _TINY)))
        k = ops.argmax(logits / temperature + gumbel, axis=-1)
        index = ops.expand_dims(ops.expand_dims(k, -1), -1)  # (..., 1, 1), broadcast over channels
        mu = ops.squeeze(ops.take_along_axis(means, index, axis=-2), axis=-2)
        log_sigma = ops.squeeze(ops.take_along_axis(log_scales, index, axis=-2), axis=-2)
        return mu + temperature * ops.exp(log_sigma) * noise

    def _sequence_log_prob(self, z: Tensor) -> Tensor:
        """``sum_t log p(z_t | z_<t)``, ``(batch,)``: what :meth:`log_prob` compiles."""
        return ops.sum(self._frame_log_probs(z), axis=1)

    def log_prob(self, z: Tensor | np.ndarray, training: bool = False, history: Tensor | None = None) -> Tensor:
        """Exact log-density (nats) of whole sequences ``z (batch, T, C)``; returns ``(batch,)``.

        ``sum_t log p(z_t | z_<t)`` including the whitening Jacobian ``T log|det L^{-1}|``,
        from one teacher-forced pass.  Outside training it runs compiled
        (:func:`genrevae.backend.compile_function`, built once per model, traced once per input
        shape): the op-by-op numbers up to float rounding (tested), several times faster, which
        the learned-prior ELBO of every importance sample needs.  In training it runs the ops
        directly, inside the compiled train step, so gradients flow through them.  Called inside
        another compiled function it nests (JAX then passes the enclosing values of the weights).

        ``history`` (training only): score ``z_t`` after a different past ``h_<t`` -- the mixed
        history of scheduled sampling (:func:`genrevae.prior.fit.fit_prior`).
        """
        if training:
            return ops.sum(self._frame_log_probs(z, training=True, history=history), axis=1)
        if history is not None:
            raise ValueError("log_prob: a history other than z itself is only scored in training")
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
        """The state before the first frame (``n`` an int or a traced size), fixed shapes.

        GRU: zero states, one ``(n, hidden)`` tensor per layer.  Transformer: the validity of
        the window's slots ``(n, context_frames)`` (all 0), then empty key and value caches
        ``(n, context_frames, heads, hidden / heads)`` of every block.
        """
        if self.network == "gru":
            return [ops.zeros((n, self.hidden), "float32") for _ in range(self.num_layers)]
        states = [ops.zeros((n, self.context_frames), "float32")]
        for block in self.blocks:
            states.extend(block.initial_cache(n))
        return states

    def step(self, prev: Tensor, states: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
        """One frame: ``([u_{t-1}, s_{t-1}], states) -> (logits, means, log_scales, states')``.

        ``prev``: ``(n, 2C)``, the previous frame's whitened innovation and standardised
        value (zeros at ``t = 1``); ``states`` as :meth:`initial_state` made them.  The GRU
        runs its cells; the transformer its blocks over the window of the last
        ``context_frames`` positions (:meth:`CausalTransformerBlock.step`).  Uses the same
        weights as :meth:`conditionals`, so stepping through a sequence reproduces the
        teacher-forced parameters (up to float rounding), at any length.
        """
        prev = ops.convert_to_tensor(prev, "float32")
        h = self.input_projection(prev)
        new_states = []
        if self.network == "gru":
            for gru, state in zip(self.grus, states, strict=True):
                h, new = gru.cell(h, [state])
                new_states.append(new[0] if isinstance(new, (list, tuple)) else new)
        else:
            valid = ops.concatenate([states[0][:, 1:], ops.ones_like(states[0][:, :1])], axis=1)
            new_states.append(valid)
            for i, block in enumerate(self.blocks):
                h, keys, values = block.step(h, states[1 + 2 * i], states[2 + 2 * i], valid)
                new_states.extend([keys, values])
            h = self.final_norm(h)
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
        eps = backend.normal(ops.shape(means[:, 0]), ops.stack([word, 2 * t + 1]))
        u = self.draw_innovation(logits, means, log_scales, uniform, eps, temperature)
        c, p = self.channels, self.order
        pred = ops.zeros_like(u) + self.var_weights[0]
        for i in range(1, p + 1):
            pred = pred + ops.matmul(history[:, -i, :], self.var_weights[1 + (i - 1) * c : 1 + i * c])
        z = pred + ops.matmul(u, ops.transpose(self.unwhiten))
        history = ops.concatenate([history[:, 1:], z[:, None, :]], axis=1)
        return history, ops.concatenate([u, self.standardize(z)], axis=-1), states

    def _sample_frames(self, word: Tensor, out: Tensor, temperature: Tensor) -> Tensor:
        """Fill ``out (frames, n, C)`` with frames ``t = 0, 1, ...`` of :meth:`_sample_step` from
        seed ``[word, t]``, starting from zero history, zero input and :meth:`initial_state`.

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
        noise is scaled; the VAR and network dynamics are not.)
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
