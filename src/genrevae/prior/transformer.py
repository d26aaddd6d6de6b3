"""A pre-norm causal transformer block with sliding-window attention, for the learned prior.

:class:`CausalTransformerBlock` is the building block of the ``transformer`` network of
:class:`~genrevae.prior.model.LatentPrior` (``prior.network: transformer``), the alternative to
its GRU.  Written like a keras-hub layer: ``keras.ops`` only (any backend), every sublayer built
in ``__init__``/``build``, ``get_config`` for saving, registered as ``genrevae>CausalTransformerBlock``.

Attention is *sliding-window* and *relative*: position ``i`` attends to positions ``j`` with
``0 <= i - j < context`` (itself and the ``context - 1`` before it), and every head adds a
learned bias ``b_h[i - j]`` (zeros at the start) to its scores.  No absolute positions, so the
block is the same function at every time step: a sequence of any length is scored, and sampled,
exactly as the training segments were, and stepping one frame at a time with a cache of the last
``context`` keys and values (:meth:`CausalTransformerBlock.step`, fixed shapes, so it runs inside
a compiled loop) reproduces the whole-sequence pass (:meth:`CausalTransformerBlock.call`) up to
float rounding.  A stack of ``L`` blocks sees ``L (context - 1)`` frames back.

The whole-sequence pass forms the ``T x T`` score matrix with the band mask: memory grows as
``T^2`` (a 30 s clip, 704 frames, is ~2 MB per head and sequence), compute is small beside the
dense layers at these lengths.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

#: Width of the feed-forward layer, as a multiple of the block's width.
MLP_RATIO = 4

#: Added to the scores outside the window: exp() of it is exactly 0 in float32.
_MASKED = -1e9


@keras.saving.register_keras_serializable(package="genrevae")
class CausalTransformerBlock(keras.layers.Layer):
    """``x + Attn(LN(x))``, then ``x + MLP(LN(x))``: one pre-norm block over ``(batch, T, width)``.

    Args:
        width: model width (the residual stream), a multiple of ``heads``.
        heads: attention heads, each of width ``width / heads``.
        context: the attention window in frames (``>= 1``; 1 = each frame sees only itself).
    """

    def __init__(self, width: int, heads: int, context: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width, self.heads, self.context = int(width), int(heads), int(context)
        if min(self.width, self.heads, self.context) < 1 or self.width % self.heads:
            raise ValueError(f"width ({width}) must be a positive multiple of heads ({heads}), and context ({context}) >= 1")
        self.head_width = self.width // self.heads
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.qkv = keras.layers.Dense(3 * self.width, name="qkv")
        self.attention_output = keras.layers.Dense(self.width, name="attention_output")
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="mlp_norm")
        self.mlp_in = keras.layers.Dense(MLP_RATIO * self.width, activation="gelu", name="mlp_in")
        self.mlp_out = keras.layers.Dense(self.width, name="mlp_out")

    def build(self, input_shape: Any = None) -> None:
        shape = (None, None, self.width)
        self.attention_norm.build(shape)
        self.qkv.build(shape)
        self.attention_output.build(shape)
        self.mlp_norm.build(shape)
        self.mlp_in.build(shape)
        self.mlp_out.build((None, None, MLP_RATIO * self.width))
        # b_h[d], d = i - j = 0 .. context - 1: the learned relative-position bias of every head.
        self.position_bias = self.add_weight(shape=(self.heads, self.context), initializer="zeros", name="position_bias")
        self.built = True

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width, "heads": self.heads, "context": self.context}

    # -- pieces shared by the whole-sequence pass and the step -------------------------

    def _split_heads(self, x: Any) -> tuple[Any, Any, Any]:
        """``(..., width)`` -> queries, keys, values ``(..., heads, head_width)``."""
        lead = tuple(ops.shape(x)[:-1])
        qkv = self.qkv(self.attention_norm(x))
        q, k, v = (ops.reshape(qkv[..., i * self.width : (i + 1) * self.width], (*lead, self.heads, self.head_width)) for i in range(3))
        return q * (1.0 / math.sqrt(self.head_width)), k, v

    def _finish(self, x: Any, attended: Any) -> Any:
        """Residual around the attention (``attended``: ``(..., heads, head_width)``), then the MLP's."""
        lead = tuple(ops.shape(attended)[:-2])
        x = x + self.attention_output(ops.reshape(attended, (*lead, self.width)))
        return x + self.mlp_out(self.mlp_in(self.mlp_norm(x)))

    # -- the whole sequence -------------------------------------------------------------

    def call(self, x: Any) -> Any:
        """``(batch, T, width)`` -> ``(batch, T, width)``; position ``i`` reads positions ``i - context + 1 .. i``."""
        q, k, v = self._split_heads(x)
        frames = ops.shape(x)[1]
        position = ops.arange(frames, dtype="int32")
        distance = position[:, None] - position[None, :]  # (T, T): i - j
        inside = ops.logical_and(distance >= 0, distance < self.context)
        bias = ops.take(self.position_bias, ops.clip(distance, 0, self.context - 1), axis=1)  # (heads, T, T)
        bias = ops.where(inside[None], bias, _MASKED)
        scores = ops.einsum("bihd,bjhd->bhij", q, k) + bias[None]
        weights = ops.softmax(scores, axis=-1)
        return self._finish(x, ops.einsum("bhij,bjhd->bihd", weights, v))

    # -- one frame at a time --------------------------------------------------------

    def initial_cache(self, n: Any) -> tuple[Any, Any]:
        """Empty key and value caches ``(n, context, heads, head_width)`` (validity is tracked by the caller)."""
        shape = (n, self.context, self.heads, self.head_width)
        return ops.zeros(shape, "float32"), ops.zeros(shape, "float32")

    def step(self, x: Any, keys: Any, values: Any, valid: Any) -> tuple[Any, Any, Any]:
        """The next position: ``x (n, width)``, caches of the ``context - 1`` positions before it.

        ``keys``, ``values``: ``(n, context, heads, head_width)``, oldest first; slot ``j``
        holds the position ``context - 1 - j`` frames back (the last slot is dropped and
        replaced by this position's own).  ``valid``: ``(n, context)``, 1 where a slot holds a
        real position AFTER this one is shifted in (its last entry is 1), 0 before the start.
        Returns ``(x', keys', values')``: the same numbers as :meth:`call` at that position.
        """
        q, k, v = self._split_heads(x)  # (n, heads, head_width)
        keys = ops.concatenate([keys[:, 1:], k[:, None]], axis=1)
        values = ops.concatenate([values[:, 1:], v[:, None]], axis=1)
        bias = ops.flip(self.position_bias, axis=1)  # slot j is context - 1 - j frames back
        bias = ops.where(valid[:, None, :] > 0, bias[None], _MASKED)  # (n, heads, context)
        scores = ops.einsum("nhd,njhd->nhj", q, keys) + bias
        weights = ops.softmax(scores, axis=-1)
        return self._finish(x, ops.einsum("nhj,njhd->nhd", weights, values)), keys, values
