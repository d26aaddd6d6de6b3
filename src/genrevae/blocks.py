"""The layers the genre VAEs are built of (:mod:`genrevae.model`), one concept each, as in RAVE's ``blocks.py``.

* :class:`Resnet1DBlock`: the course report's residual block (the ``report`` preset).
* :class:`ResidualUnit`: a dilated residual unit over time without normalisation (the ``conv`` preset).
* :class:`UpsamplingConv1D`: ``Conv1DTranspose`` with "same" padding, computed in sub-pixel
  form (the ``conv`` decoder's upsampling).

Each is registered with Keras as ``genrevae>ClassName`` (the names they had in
:mod:`genrevae.model`, so models saved before they moved here still load); importing
:mod:`genrevae.model` imports this module.
"""

from __future__ import annotations

import keras
from keras import layers, ops

__all__ = ["Resnet1DBlock", "ResidualUnit", "UpsamplingConv1D"]


@keras.saving.register_keras_serializable(package="genrevae")
class Resnet1DBlock(layers.Layer):
    """The course report's residual block, ``Resnet1DBlock(kernel_size, filters, kind)``.

    ``encode``: ``relu -> Conv1D(filters, k, strides=2) -> InstanceNorm -> LeakyReLU(0.4)
    -> Conv1D(filters, k) -> InstanceNorm -> LeakyReLU(0.4)``; ``decode`` uses
    ``Conv1DTranspose(filters, k, 1)`` and BatchNormalization instead.  The
    ``filters``-channel result is added to the block input (broadcast when
    ``filters == 1``, as in the report) and passed through a final relu.

    Instance normalisation is ``GroupNormalization(groups=-1, epsilon=1e-3)``, which
    matches ``tensorflow_addons.layers.InstanceNormalization()`` (EOL, no Keras 3).
    """

    def __init__(self, kernel_size: int, filters: int, kind: str = "encode", **kwargs):
        super().__init__(**kwargs)
        if kind not in ("encode", "decode"):
            raise ValueError(f"kind must be 'encode' or 'decode', got {kind!r}")
        self.kernel_size = int(kernel_size)
        self.filters = int(filters)
        self.kind = kind
        if kind == "encode":
            self.conv1a = layers.Conv1D(self.filters, self.kernel_size, strides=2, padding="same", name="conv1")
            self.conv1b = layers.Conv1D(self.filters, self.kernel_size, strides=1, padding="same", name="conv2")
            self.norm1a = layers.GroupNormalization(groups=-1, epsilon=1e-3, name="norm1")
            self.norm1b = layers.GroupNormalization(groups=-1, epsilon=1e-3, name="norm2")
        else:
            self.conv1a = layers.Conv1DTranspose(self.filters, self.kernel_size, strides=1, padding="same", name="convt1")
            self.conv1b = layers.Conv1DTranspose(self.filters, self.kernel_size, strides=1, padding="same", name="convt2")
            self.norm1a = layers.BatchNormalization(name="norm1")
            self.norm1b = layers.BatchNormalization(name="norm2")
        self.act = layers.LeakyReLU(negative_slope=0.4)

    def call(self, inputs, training=None):
        x = ops.relu(inputs)
        x = self.conv1a(x)
        x = self.norm1a(x, training=training)
        x = self.act(x)
        x = self.conv1b(x)
        x = self.norm1b(x, training=training)
        x = self.act(x)
        x = x + inputs
        return ops.relu(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, filters=self.filters, kind=self.kind)
        return config


@keras.saving.register_keras_serializable(package="genrevae")
class ResidualUnit(layers.Layer):
    """Dilated residual unit over time, without normalisation (as in RAVE's ``blocks.py``).

    ``x + Conv1D(c, 1)(LeakyReLU(Conv1D(c, kernel_size, dilation)(LeakyReLU(x))))``: "same"
    padding keeps the length, the dilation widens the receptive field without pooling.  No
    normalisation over time: instance norm would divide out each window's level, which on
    short training windows makes the decoder depend on the window it happens to see.
    """

    def __init__(self, filters: int, kernel_size: int = 3, dilation: int = 1, negative_slope: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.negative_slope = float(negative_slope)
        self.conv1 = layers.Conv1D(self.filters, self.kernel_size, dilation_rate=self.dilation, padding="same", name="dilated")
        self.conv2 = layers.Conv1D(self.filters, 1, name="mix")
        self.act = layers.LeakyReLU(negative_slope=self.negative_slope)

    def call(self, inputs):
        return inputs + self.conv2(self.act(self.conv1(self.act(inputs))))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, dilation=self.dilation, negative_slope=self.negative_slope)
        return config


@keras.saving.register_keras_serializable(package="genrevae")
class UpsamplingConv1D(layers.Conv1DTranspose):
    r"""``Conv1DTranspose(filters, kernel_size, strides, padding="same")``, the same weights and the
    same function, computed in sub-pixel form: one matrix product per input frame.

    Why: XLA's CPU backend runs a transposed convolution as a convolution of the zero-stuffed
    input on one thread, which made the decoder's step 2.8x slower under JAX than under
    TensorFlow on 2 cores; a matrix product is fast on every backend and device.

    With stride :math:`s`, kernel :math:`K[t]` (``(kernel_size, filters, in)``, zero-padded to
    :math:`Q s` taps, :math:`Q = \lceil k / s \rceil`), the transposed convolution is
    :math:`z[m s + p] = \sum_{j < Q} K[j s + p]\, x[m - j]` for each phase :math:`p < s`: the
    :math:`Q` frames :math:`x[m], \dots, x[m - Q + 1]` side by side times one
    ``(Q in, s filters)`` matrix give the :math:`s` output samples of frame :math:`m`.  "same"
    then keeps :math:`y[n] = z[n + a]`, :math:`a = \lfloor (k - s) / 2 \rfloor`, for
    :math:`n < L s` (TensorFlow's and Keras' convention; tested against the stock layer).
    """

    def __init__(self, filters: int, kernel_size: int, strides: int, **kwargs):
        if kwargs.setdefault("padding", "same") != "same":
            raise ValueError(f"UpsamplingConv1D takes padding='same' only, got {kwargs['padding']!r}")
        for key in ("dilation_rate", "output_padding"):
            if kwargs.get(key) not in (None, 1, (1,)):
                raise ValueError(f"UpsamplingConv1D takes no {key}")
        super().__init__(filters, kernel_size, strides=strides, **kwargs)
        if self.kernel_size[0] < self.strides[0]:
            raise ValueError(f"UpsamplingConv1D needs kernel_size >= strides, got {self.kernel_size[0]} < {self.strides[0]}")

    def call(self, inputs):
        s, k, out = self.strides[0], self.kernel_size[0], self.filters
        q = -(-k // s)
        channels = self.kernel.shape[-1]
        kernel = ops.pad(self.kernel, [[0, q * s - k], [0, 0], [0, 0]])  # (q s, out, in)
        weights = ops.reshape(ops.transpose(ops.reshape(kernel, (q, s, out, channels)), (0, 3, 1, 2)), (q * channels, s * out))
        padded = ops.pad(inputs, [[0, 0], [q - 1, q - 1], [0, 0]])
        # frame m of tap j is x[m - j]: the padded input shifted right by j, L + q - 1 frames each
        taps = [padded[:, q - 1 - j : (-j if j else None), :] for j in range(q)]
        frames = ops.matmul(ops.concatenate(taps, axis=-1), weights)  # (batch, L + q - 1, s out)
        z = ops.reshape(frames, (ops.shape(frames)[0], -1, out))  # (batch, (L + q - 1) s, out)
        a = (k - s) // 2
        b = (q - 1) * s - a
        y = z[:, a : (-b if b else None), :]
        return y + self.bias if self.use_bias else y
