"""Effects and mastering of the toy generator: reverb, amp distortion, final mix."""

from __future__ import annotations

import numpy as np
from scipy import signal

from genrevae.toy.dsp import _bfilt, _noise
from genrevae.toy.song import _Song


def _reverb(
    x: np.ndarray, sr: int, rt60: float, rng: np.random.Generator, damp: float = 5000.0
) -> np.ndarray:
    length = int(min(rt60, 1.6) * sr)
    t = np.arange(length, dtype=np.float32) / np.float32(sr)
    ir = _noise(rng, length) * np.exp(np.float32(-6.9 / rt60) * t)
    ir = _bfilt(ir, sr, "lowpass", damp, order=1)
    pre = int(0.012 * sr)
    ir = np.concatenate([np.zeros(pre, np.float32), ir])
    ir /= np.float32(np.sqrt(np.sum(ir.astype(np.float64) ** 2)) + 1e-12)
    return signal.fftconvolve(x, ir)[: x.shape[0]].astype(np.float32, copy=False)


def _distort(
    x: np.ndarray, sr: int, drive: float, cab: float = 4500.0, hp: float = 90.0, pre: float = 3000.0
) -> np.ndarray:
    """Amp simulation: band-limit, drive into tanh, 4th-order low-pass 'cabinet'."""
    x = _bfilt(_bfilt(x, sr, "highpass", hp), sr, "lowpass", pre)
    peak = float(np.max(np.abs(x))) + 1e-9
    y = np.tanh(x * np.float32(drive / peak))
    return _bfilt(y, sr, "lowpass", cab, order=4)


def _finish(
    song: _Song,
    levels: dict,
    sends: dict | None = None,
    rt60: float = 1.0,
    proc: dict | None = None,
    limit: float = 1.3,
) -> np.ndarray:
    """Mix the buses, add reverb, master (high-pass, soft limit, DC, fades, peak)."""
    sr, n, rng = song.sr, song.n, song.rng
    sends = sends or {}
    proc = proc or {}
    mix = np.zeros(n, np.float32)
    wet = np.zeros(n, np.float32)
    for name in sorted(song.buses):
        x = song.buses[name]
        if name in proc:
            x = proc[name](x)
        peak = float(np.max(np.abs(x)))
        if peak <= 0:
            continue
        # levels are relative to each bus's own peak so that balance is stable;
        # a random +-20 % per clip varies the mix
        x = x * np.float32(levels[name] * rng.uniform(0.8, 1.2) / peak)
        mix += x
        if sends.get(name):
            wet += np.float32(sends[name]) * x
    if sends and np.any(wet):
        mix += _reverb(wet, sr, rt60 * rng.uniform(0.8, 1.25), rng)
    mix = _bfilt(mix, sr, "highpass", 30.0)
    scale = float(np.quantile(np.abs(mix), 0.999)) if n >= 1000 else float(np.max(np.abs(mix)))
    if scale > 0:
        mix = np.tanh(mix * np.float32(1.0 / (limit * scale)))
    fade = min(n // 4, int(0.005 * sr))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        mix[:fade] *= ramp
        mix[-fade:] *= ramp[::-1]
    mix -= np.float32(np.mean(mix, dtype=np.float64))
    peak = float(np.max(np.abs(mix)))
    target = float(rng.uniform(0.8, 0.88))
    if peak > 0:
        mix *= np.float32(target / peak)
    return mix.astype(np.float32, copy=False)
