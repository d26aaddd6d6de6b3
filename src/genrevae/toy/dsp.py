"""DSP primitives for the toy generator: wavetables, phase accumulators, filters, buffers.

Oscillators read band-limited single-cycle tables with a 32-bit fixed-point
phase, so a note's phase never drifts however long it is, and every result is
float32 to keep the renderers fast.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

_TWO_PI = np.float32(2.0 * np.pi)
# one waveform cycle per table, 4096 samples: the top 12 bits of the phase index it
_TABLE_BITS = 12
_TABLE_SIZE = 1 << _TABLE_BITS
_TABLE_MASK = _TABLE_SIZE - 1
_PHASE_BITS = 32  # fixed-point phase accumulator: 32 fractional bits
_PHASE_SHIFT = _PHASE_BITS - _TABLE_BITS


@functools.lru_cache(maxsize=1024)
def _table(kind: str, n_harm: int) -> np.ndarray:
    """One band-limited cycle (``_TABLE_SIZE`` samples, peak 1) of a waveform."""
    k = np.arange(1, n_harm + 1, dtype=np.float64)
    if kind == "sine":
        amps = (k == 1).astype(np.float64)
    elif kind == "saw":
        amps = 1.0 / k
    elif kind == "square":
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0)
    elif kind == "soft":
        amps = 1.0 / k**2
    elif kind == "sub":
        amps = np.array([1.0, 0.3, 0.12, 0.04, 0.02, 0.01][:n_harm])
        amps = np.pad(amps, (0, n_harm - len(amps)))
    elif kind == "pluck":  # plucked string, plucked ~1/7 along its length
        amps = (np.abs(np.sin(np.pi * k * 0.14)) + 0.05) / k
    elif kind == "upright":
        amps = np.array([1.0, 0.75, 0.35, 0.22, 0.12, 0.07, 0.04, 0.02][:n_harm])
        amps = np.pad(amps, (0, n_harm - len(amps)))
    elif kind == "organ":  # drawbars 8', 4', 2 2/3', 2', 1 3/5'... plus a touch of 1'
        amps = np.zeros(n_harm)
        for h, a in ((1, 1.0), (2, 0.8), (3, 0.6), (4, 0.45), (6, 0.25), (8, 0.2)):
            if h <= n_harm:
                amps[h - 1] = a
    elif kind == "reed":
        amps = np.where(k % 2 == 1, 1.0 / k, 0.35 / k)
    elif kind == "piano":
        amps = 1.0 / k**1.4 * (1.0 + 0.3 * np.cos(0.7 * k))
    else:  # pragma: no cover - programming error
        raise KeyError(kind)
    spec = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spec[1 : n_harm + 1] = -0.5j * _TABLE_SIZE * amps
    tab = np.fft.irfft(spec, _TABLE_SIZE)
    tab /= np.max(np.abs(tab))
    tab = tab.astype(np.float32)
    tab.flags.writeable = False
    return tab


def _n_harm(freq: float, sr: int, cap: int) -> int:
    return int(max(1, min(cap, (0.45 * sr) // max(freq, 1.0))))


def _phase_int(freq: float, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """Fixed-point phase (32 fractional bits) of a constant-frequency oscillator."""
    inc = int(round(freq / sr * 2.0**_PHASE_BITS))
    p0 = int(phase0 * 2.0**_PHASE_BITS) & 0xFFFFFFFF
    return np.arange(n, dtype=np.int64) * inc + p0


def _read(tab: np.ndarray, phase: np.ndarray) -> np.ndarray:
    return tab[(phase >> _PHASE_SHIFT) & _TABLE_MASK]


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) / np.float32(sr)


def _cycles(freq: float, t: np.ndarray, phase0: float = 0.0) -> np.ndarray:
    """Phase in radians, wrapped to [0, 2*pi), of a sinusoid over float32 time ``t``.

    float32 is precise enough for note-length segments (a few seconds).
    """
    p = np.float32(freq) * t + np.float32(phase0)
    p -= np.floor(p)
    return p * _TWO_PI


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n, dtype=np.float32)


def _bfilt(x: np.ndarray, sr: int, btype: str, freq, order: int = 2) -> np.ndarray:
    """Butterworth filter (cut-offs clamped below Nyquist), float32 output."""
    nyq = 0.5 * sr
    if btype == "bandpass":
        lo, hi = freq
        lo = max(20.0, float(lo))
        hi = min(float(hi), 0.92 * nyq)
        if hi <= lo * 1.1:
            return _bfilt(x, sr, "highpass", min(lo, 0.8 * nyq), order)
        wn = (lo, hi)
    else:
        f = float(freq)
        if btype == "lowpass" and f >= 0.92 * nyq:
            return x.astype(np.float32, copy=False)
        wn = min(max(f, 10.0), 0.92 * nyq)
    sos = signal.butter(order, wn, btype=btype, fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32, copy=False)


def _add(buf: np.ndarray, start: int, seg: np.ndarray) -> None:
    n = buf.shape[0]
    if start >= n or start + seg.shape[0] <= 0:
        return
    if start < 0:
        seg = seg[-start:]
        start = 0
    end = min(n, start + seg.shape[0])
    buf[start:end] += seg[: end - start]


def _shift(x: np.ndarray, d: int) -> np.ndarray:
    y = np.zeros_like(x)
    if 0 < d < x.shape[0]:
        y[d:] = x[:-d]
    return y


def _release_env(env: np.ndarray, hold: int) -> None:
    """In place: from sample ``hold`` on, fade from the held level to zero."""
    rel = env.shape[0] - hold
    if rel > 0:
        level = env[hold - 1] if hold > 0 else env[0]
        env[hold:] = level * np.linspace(1.0, 0.0, rel, dtype=np.float32) ** 2
