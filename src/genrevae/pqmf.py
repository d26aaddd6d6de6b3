"""Pseudo-quadrature mirror filter bank (PQMF): a waveform as M critically sampled sub-bands.

The ``conv`` VAE works on sub-bands, as RAVE does: a 3 kHz waveform of ``n`` samples becomes
``M`` band signals of ``n / M`` samples each (8 bands of 187.5 Hz), so every convolution of
the network runs on an ``M`` times shorter sequence, and the decoder can shape each band
separately.  The bank is fixed (no weights), near-perfectly reconstructing, and works on
any length that is a multiple of ``M``.

Design (Lin & Vaidyanathan 1998, "A Kaiser window approach for the design of prototype
filters of cosine modulated filterbanks"): a linear-phase low-pass prototype ``h`` of
order ``N`` (``N + 1`` taps) is a Kaiser-windowed sinc whose cut-off ``w_c`` is chosen to
make the bank power complementary,

.. math::

    \\min_{w_c} \\max_\\omega \\big|\\, |H(\\omega)|^2 + |H(\\pi/M - \\omega)|^2 - 1 \\big|,
    \\quad 0 \\le \\omega \\le \\pi / M,

and the analysis and synthesis filters of band ``k`` are its cosine modulations

.. math::

    h_k[n] = 2 h[n] \\cos\\!\\Big(\\tfrac{(2k+1)\\pi}{2M}\\big(n - \\tfrac N2\\big) + (-1)^k \\tfrac\\pi4\\Big),
    \\qquad
    g_k[n] = 2 h[n] \\cos\\!\\Big(\\tfrac{(2k+1)\\pi}{2M}\\big(n - \\tfrac N2\\big) - (-1)^k \\tfrac\\pi4\\Big).

Analysis filters with ``h_k`` and keeps every ``M``-th sample; synthesis inserts ``M - 1``
zeros between samples, filters with ``g_k``, multiplies by ``M`` and sums the bands.  Both
filters are centred (``N / 2`` samples of delay removed), so ``synthesis(analysis(x)) ~ x``
sample-aligned; the residual aliasing is ~-40 dB or lower (tested).

Both directions are one ``keras.ops`` convolution each, so the bank runs on any Keras backend
with the same numbers (to float rounding): analysis is a strided correlation with the reversed
``h_k`` (that is, a convolution with ``h_k``), synthesis the transposed convolution with ``M g_k``,
which scatters input ``j`` of band ``k`` to outputs ``jM + i`` with weight ``M g_k[i]`` -- the
zero-insertion and filtering above in one step.  Every padding and crop is a Python int known
when the layer is built, so the layer traces the same way whether the time axis is static (JAX)
or unknown (a TensorFlow graph traced for any length).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

__all__ = ["prototype_filter", "pqmf_filters", "PQMF"]


def prototype_filter(bands: int, taps_per_band: int = 8, attenuation_db: float = 80.0) -> np.ndarray:
    """The Kaiser-window low-pass prototype ``h`` (order ``N = taps_per_band * bands``, ``N + 1`` taps).

    The cut-off is found by a bounded scalar search on the power-complementarity error
    (module docstring).  float64 ``(N + 1,)``.
    """
    from scipy import optimize, signal

    order = int(taps_per_band) * int(bands)
    beta = signal.kaiser_beta(float(attenuation_db))
    freqs = np.linspace(0.0, math.pi / bands, 256)

    def design(cutoff: float) -> np.ndarray:
        return signal.firwin(order + 1, cutoff, window=("kaiser", beta), fs=2 * math.pi)

    def error(cutoff: float) -> float:
        h = design(cutoff)
        _, a = signal.freqz(h, worN=freqs)
        _, b = signal.freqz(h, worN=math.pi / bands - freqs)
        return float(np.max(np.abs(np.abs(a) ** 2 + np.abs(b) ** 2 - 1.0)))

    best = optimize.minimize_scalar(error, bounds=(0.2 * math.pi / bands, 0.8 * math.pi / bands), method="bounded")
    return design(float(best.x))


def pqmf_filters(bands: int, taps_per_band: int = 8, attenuation_db: float = 80.0) -> tuple[np.ndarray, np.ndarray]:
    """Analysis and synthesis filters, each float64 ``(bands, N + 1)`` (module docstring)."""
    h = prototype_filter(bands, taps_per_band, attenuation_db)
    order = len(h) - 1
    n = np.arange(order + 1) - order / 2
    k = np.arange(bands)[:, None]
    phase = (2 * k + 1) * math.pi / (2 * bands) * n
    sign = np.where(k % 2 == 0, 1.0, -1.0) * math.pi / 4
    analysis = 2 * h * np.cos(phase + sign)
    synthesis = 2 * h * np.cos(phase - sign)
    return analysis, synthesis


@keras.saving.register_keras_serializable(package="genrevae")
class PQMF(layers.Layer):
    """The filter bank as a Keras layer without weights (the filters are rebuilt from ``bands``).

    ``analysis(x)``: ``(batch, n) -> (batch, n / M, M)``, ``n`` a multiple of ``M``.
    ``synthesis(y)``: ``(batch, t, M) -> (batch, t * M)``.
    ``call`` runs the direction given by ``mode`` (``"analysis"`` or ``"synthesis"``), so the
    layer can sit in a functional Keras model at either end.
    """

    def __init__(self, bands: int = 8, mode: str = "analysis", taps_per_band: int = 8, attenuation_db: float = 80.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("analysis", "synthesis"):
            raise ValueError(f"PQMF mode must be 'analysis' or 'synthesis', got {mode!r}")
        self.mode = mode
        self.bands = int(bands)
        self.taps_per_band = int(taps_per_band)
        self.attenuation_db = float(attenuation_db)
        if self.bands < 2:
            raise ValueError(f"PQMF needs at least 2 bands, got {self.bands}")
        analysis, synthesis = pqmf_filters(self.bands, self.taps_per_band, self.attenuation_db)
        self.order = analysis.shape[1] - 1
        # Kernels as numpy float32, made tensors where they are used (any backend, any device).
        # ops.conv correlates: reverse the analysis filters to convolve.  (taps, in 1, out M).
        self._analysis = np.ascontiguousarray(analysis[:, ::-1].T[:, None, :], dtype=np.float32)
        # ops.conv_transpose's kernel is (taps, out 1, in M): input j of band k adds w[i, 0, k] to output jM + i.
        self._synthesis = np.ascontiguousarray((self.bands * synthesis).T[:, None, :], dtype=np.float32)

    def analysis(self, x):
        x = ops.expand_dims(ops.convert_to_tensor(x, "float32"), -1)
        half = self.order // 2
        x = ops.pad(x, [[0, 0], [half, self.order - half], [0, 0]])
        # VALID over n + N samples with N + 1 taps and stride M: n / M frames for n a multiple of M.
        return ops.conv(x, ops.convert_to_tensor(self._analysis), strides=self.bands, padding="valid", data_format="channels_last")

    def synthesis(self, y):
        y = ops.convert_to_tensor(y, "float32")
        # VALID: (t - 1) M + N + 1 samples for t frames; keep t M of them, from N / 2 on.
        out = ops.conv_transpose(y, ops.convert_to_tensor(self._synthesis), strides=self.bands, padding="valid", data_format="channels_last")
        half = self.order // 2
        surplus = self.order + 1 - self.bands - half  # samples after the t M kept ones
        return out[:, half : -surplus if surplus > 0 else None, 0]

    def call(self, x):
        return self.analysis(x) if self.mode == "analysis" else self.synthesis(x)

    def compute_output_shape(self, input_shape):
        if self.mode == "analysis":
            frames = None if input_shape[1] is None else input_shape[1] // self.bands
            return (input_shape[0], frames, self.bands)
        samples = None if input_shape[1] is None else input_shape[1] * self.bands
        return (input_shape[0], samples)

    def get_config(self):
        config = super().get_config()
        config.update(bands=self.bands, mode=self.mode, taps_per_band=self.taps_per_band, attenuation_db=self.attenuation_db)
        return config
