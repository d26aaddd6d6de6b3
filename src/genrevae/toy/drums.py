"""Synthetic drum kit of the toy generator.

Each function renders one one-shot sample (float32, peak 1).  A genre renders
its kit once per clip with slightly randomised parameters (``_vary``), so the
kit differs from clip to clip but stays the same within one.
"""

from __future__ import annotations

import numpy as np

from genrevae.toy.dsp import _bfilt, _noise


def _sample_out(x: np.ndarray, sr: int, fade: float = 0.01) -> np.ndarray:
    """Normalise a one-shot sample to peak 1 and fade its end (no click at cut-off)."""
    x = np.asarray(x, dtype=np.float64)
    m = min(x.shape[0], max(1, int(fade * sr)))
    x[-m:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, m))
    return (x / np.max(np.abs(x))).astype(np.float32)


def _kick(sr, rng, f0=52.0, decay=0.3, punch=2.5, click=0.3):
    n = int(sr * min(1.0, 4 * decay + 0.05))
    t = np.arange(n) / sr
    f = f0 * (1.0 + punch * np.exp(-t / 0.03))
    body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / decay)
    cl = _bfilt(_noise(rng, n) * np.exp(-t / 0.002).astype(np.float32), sr, "highpass", 1500.0)
    x = np.tanh(1.5 * (body + click * cl))
    return _sample_out(x, sr)


def _snare(sr, rng, tone=190.0, decay=0.15, snap=0.8, lo=1200.0, hi=9000.0):
    n = int(sr * min(1.0, 5 * decay + 0.05))
    t = np.arange(n) / sr
    body = (np.sin(2 * np.pi * tone * t) + 0.5 * np.sin(2 * np.pi * 1.62 * tone * t)) * np.exp(-t / 0.045)
    nz = _bfilt(_noise(rng, n), sr, "bandpass", (lo, hi)) * np.exp(-t / decay).astype(np.float32)
    x = 0.6 * body + snap * nz / (np.std(nz[: int(0.02 * sr)]) + 1e-9) * 0.35
    return _sample_out(x, sr)


def _clap(sr, rng, decay=0.12):
    n = int(sr * 0.4)
    t = np.arange(n) / sr
    env = np.zeros(n)
    for k, d in enumerate((0.0, 0.009, 0.018, 0.027)):
        s = int(d * sr)
        env[s:] += np.exp(-(t[: n - s]) / (0.006 if k < 3 else decay))
    x = _bfilt(_noise(rng, n), sr, "bandpass", (900.0, 3500.0)) * env.astype(np.float32)
    return _sample_out(x, sr)


def _hat(sr, rng, decay=0.04, cut=7000.0):
    n = int(sr * min(1.2, 6 * decay + 0.02))
    t = np.arange(n) / sr
    x = _bfilt(_noise(rng, n), sr, "highpass", min(cut, 0.38 * sr))
    # a little metallic ring from inharmonic square-ish partials
    ring = np.zeros(n)
    for r in (1.0, 1.48, 1.72, 2.53, 2.66, 3.9):
        f = 0.16 * cut * r * 2.0
        if f < 0.45 * sr:
            ring += np.sign(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)))
    ring = _bfilt(ring.astype(np.float32), sr, "highpass", min(cut, 0.38 * sr))
    x = (x / (np.std(x) + 1e-9) + 0.15 * ring / (np.std(ring) + 1e-9)) * np.exp(-t / decay)
    return _sample_out(x, sr)


def _cymbal(sr, rng, decay=1.0, cut=4000.0, ping=0.6, base=None, length=1.6, wash_decay=None, wash=0.5):
    """Ride (ping + wash) or crash (``ping=0``, longer, lower cut-off)."""
    n = int(sr * length)
    t = np.arange(n) / sr
    nz = _bfilt(_noise(rng, n), sr, "bandpass", (min(cut, 0.38 * sr), 11000.0))
    x = wash * nz / (np.std(nz) + 1e-9) * np.exp(-t / (wash_decay or decay))
    if ping > 0:
        base = base or rng.uniform(420.0, 520.0)
        for r in (1.0, 1.59, 2.14, 2.76, 3.53, 4.22, 5.40, 6.27, 7.33, 8.93, 11.34, 13.1):
            f = base * r * rng.uniform(0.98, 1.02)
            if f < 0.45 * sr:
                x += (
                    ping
                    * rng.uniform(0.3, 1.0)
                    / r
                    * np.sin(2 * np.pi * f * t)
                    * np.exp(-t / (decay * rng.uniform(0.3, 0.8)))
                )
    x *= np.minimum(t / 0.001, 1.0)
    return _sample_out(x, sr, fade=0.35 * length)


def _rim(sr, rng):
    n = int(sr * 0.12)
    t = np.arange(n) / sr
    x = np.sin(2 * np.pi * 480 * t) * np.exp(-t / 0.012) + 0.6 * np.sin(2 * np.pi * 1650 * t) * np.exp(
        -t / 0.006
    )
    x += 0.4 * _bfilt(_noise(rng, n), sr, "bandpass", (1500.0, 5000.0)) * np.exp(-t / 0.005)
    return _sample_out(x, sr)


def _shaker(sr, rng, decay=0.05):
    n = int(sr * (decay * 5 + 0.02))
    t = np.arange(n) / sr
    x = _bfilt(_noise(rng, n), sr, "highpass", min(5000.0, 0.38 * sr)) * (
        np.minimum(t / 0.012, 1.0) * np.exp(-t / decay)
    ).astype(np.float32)
    return _sample_out(x, sr)


def _tom(sr, rng, f0=110.0, decay=0.25):
    return _kick(sr, rng, f0=f0, decay=decay, punch=0.6, click=0.15)


def _vary(rng, x, rel=0.08):
    return float(x * (1.0 + rng.uniform(-rel, rel)))
