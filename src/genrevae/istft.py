"""An inverse-STFT output head: the decoder predicts a spectrogram, a fixed iSTFT makes the waveform.

Vocos (Siuzdak 2023) and iSTFTNet (Kaneko et al. 2022) replace a vocoder's last upsampling
stages by a short-time spectrum: per frame ``f`` the network predicts a log-magnitude ``m_f``
and a phase ``p_f`` for the ``n_fft / 2 + 1`` bins, and the waveform is their windowed
overlap-add.  Harmonics are then one bin each, not a pattern the convolutions must learn to
draw sample by sample, and the decoder runs at the frame rate (``hop`` samples per step).

With ``X_f[k] = exp(m_f[k]) e^{i p_f[k]}`` and the periodic Hann window ``w`` of ``n_fft``
taps, frame ``f`` covers samples ``f hop - c, ..., f hop - c + n_fft - 1`` with
``c = (n_fft - hop) / 2`` (so it is centred on its own ``hop`` samples), and

.. math::

    x[n] = \\frac{\\sum_f w[n - f\\,hop + c]\\; \\mathrm{irfft}(X_f)[n - f\\,hop + c]}
                {\\sum_f w^2[n - f\\,hop + c]}

is the least-squares inverse of the STFT (Griffin & Lim 1984): dividing by the summed squared
window instead of assuming a constant overlap makes the edges exact too, so ``F`` frames give
exactly ``F hop`` samples, ``hop`` per frame, like a transposed convolution.  ``n_fft = 4 hop``
as in Vocos.  The layer has no weights.

The overlap-add is written with ``keras.ops`` so it runs on any backend, in two forms:

* the windowed frames, ``sum_f w[i] irfft(X_f)[i]`` at sample ``f hop + i``, are one transposed
  convolution of stride ``hop`` over the frames' ``n_fft`` channels whose kernel is the window
  on the diagonal (``K[i, k] = w[i]`` if ``i = k``, else 0): products and sums inside one
  convolution, which a compiler cannot fuse into its neighbours.  (Multiplying by the window
  and then adding shifted frames lets XLA contract ``w y + s`` into fused multiply-adds in
  compiled code but not eagerly, so a JAX-compiled decoder would miss the eager numbers by an ulp.)
* the envelope ``sum_f w^2[n - f hop + c]`` is a sum of shifted copies only: with
  ``R = ceil(n_fft / hop)``, each row of ``w^2`` is zero-padded to ``R hop`` samples and cut
  into ``R`` blocks of ``hop``; block ``r`` of frame ``f`` lands on output block ``f + r``,

  .. math::

      e[b\\,hop + j] = \\sum_{r=0}^{R-1} w^2[r\\,hop + j]\\,[0 \\le b - r < F].

Every shift and crop is a Python int fixed by ``hop`` and ``n_fft``; the frame count never has
to be known, so the layer traces alike on JAX (static shapes) and in a TensorFlow graph of
unknown length.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

__all__ = ["InverseSTFT", "MAX_LOG_MAGNITUDE", "FFT_PER_HOP", "fft_size"]

#: ``n_fft = FFT_PER_HOP * hop`` unless given: four overlapping frames per sample, as in Vocos.
FFT_PER_HOP = 4

#: Log-magnitudes are clipped here before ``exp`` (Vocos clips magnitudes at 1e2): a bin of a sine
#: of amplitude A is A n_fft / 4 (Hann), 64 for a full-scale sine at the default 256 points, so
#: there this only stops an overflow early in training. From 512 points on it also caps one
#: partial at 400 / n_fft of full scale (0.78 at 512).
MAX_LOG_MAGNITUDE = math.log(1e2)


def fft_size(hop: int, n_fft: int | None) -> int:
    """The FFT size of an inverse STFT of ``hop`` samples per frame: ``n_fft``, checked, or
    ``FFT_PER_HOP * hop`` when None; a size that does not fit raises ValueError saying why."""
    hop = int(hop)
    if hop < 1:
        raise ValueError(f"an inverse STFT needs a hop of at least 1 sample, got {hop}")
    if n_fft is None:
        return FFT_PER_HOP * hop
    n_fft = int(n_fft)
    # n_fft >= 2 hop: the Hann window is 0 at its first tap, so without overlap that sample is
    # lost; n_fft - hop even: each frame is centred on its own hop samples.
    if n_fft < 2 * hop or (n_fft - hop) % 2:
        raise ValueError(
            f"{n_fft} does not fit istft_hop {hop}: it must be at least 2 x {hop} = {2 * hop} "
            f"and differ from it by an even number, e.g. {4 * hop} or {8 * hop}"
        )
    return n_fft


@keras.saving.register_keras_serializable(package="genrevae")
class InverseSTFT(layers.Layer):
    """``(batch, frames, 2 (n_fft / 2 + 1))`` -> ``(batch, frames * hop)`` (module docstring).

    The last axis holds the log-magnitudes of the ``n_fft / 2 + 1`` bins, then their phases
    (radians, unbounded: ``cos`` and ``sin`` wrap them).
    """

    def __init__(self, hop: int, n_fft: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.hop = int(hop)
        try:
            self.n_fft = fft_size(self.hop, n_fft)
        except ValueError as exc:
            raise ValueError(f"InverseSTFT: {exc}") from exc
        self.bins = self.n_fft // 2 + 1
        from scipy.signal import get_window

        window = get_window("hann", self.n_fft).astype(np.float32)  # periodic, as the STFT's
        self._window = window
        # (taps i, out 1, in k): input channel k of frame f adds w[k] y_f[k] to sample f hop + k.
        self._window_kernel = np.ascontiguousarray((np.eye(self.n_fft, dtype=np.float32) * window[:, None])[:, None, :])
        # Squared here, in numpy, not in call: a constant-folded pow in a traced graph can differ
        # from the eager one in the last bit, and the compiled decoders promise the eager numbers.
        self._window_squared = window * window
        self._blocks = -(-self.n_fft // self.hop)  # R: hop-sized blocks per frame

    def _overlap_add(self, frames):
        """``(batch, F, n_fft) -> (batch, (F + R - 1) hop)``: frame ``f`` added in at sample ``f hop``."""
        blocks, hop = self._blocks, self.hop
        frames = ops.pad(frames, [[0, 0], [0, 0], [0, blocks * hop - self.n_fft]])
        total = None
        for r in range(blocks):
            # block r of every frame, (batch, F, hop), shifted r blocks later
            shifted = ops.pad(frames[:, :, r * hop : (r + 1) * hop], [[0, 0], [r, blocks - 1 - r], [0, 0]])
            total = shifted if total is None else total + shifted
        return ops.reshape(total, (ops.shape(total)[0], -1))

    def call(self, inputs):
        log_magnitude, phase = ops.split(inputs, 2, axis=-1)
        magnitude = ops.exp(ops.minimum(log_magnitude, MAX_LOG_MAGNITUDE))
        frames = ops.irfft((magnitude * ops.cos(phase), magnitude * ops.sin(phase)), fft_length=self.n_fft)
        start = (self.n_fft - self.hop) // 2  # >= 1: n_fft - hop is even and >= hop
        # (F - 1) hop + n_fft samples, frame f's window from sample f hop; keep F hop from start,
        # which leaves n_fft - hop - start = start samples at the end.
        kernel = ops.convert_to_tensor(self._window_kernel)
        numerator = ops.conv_transpose(frames, kernel, strides=self.hop, padding="valid", data_format="channels_last")
        numerator = numerator[:, start:-start, 0]
        # sum_f w^2[n - f hop + c]: the squared window in every frame, added up (no products)
        ones = ops.ones_like(log_magnitude[:1, :, :1])
        envelope = self._overlap_add(ones * ops.convert_to_tensor(self._window_squared))
        end = (self._blocks - 1) * self.hop - start  # samples after the F hop kept ones
        envelope = envelope[:, start : -end if end > 0 else None]
        # divide_no_nan, not "/" (the envelope is >= 1e-6, so the numbers are a division's): the
        # envelope depends on shapes only, and TensorFlow's graph optimiser rewrites "/" by a
        # constant-folded envelope into a multiplication by its reciprocal (and "* (1 / e)" back
        # into "/" when it is not folded), so a graph's last bits would depend on which shapes were
        # static.  DivNoNan is left alone: graphs give the eager numbers, as the decoders promise.
        return ops.divide_no_nan(numerator, ops.maximum(envelope, 1e-6))

    def compute_output_shape(self, input_shape):
        samples = None if input_shape[1] is None else input_shape[1] * self.hop
        return (input_shape[0], samples)

    def get_config(self):
        config = super().get_config()
        config.update(hop=self.hop, n_fft=self.n_fft)
        return config
