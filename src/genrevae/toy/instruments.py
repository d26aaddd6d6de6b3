"""Pitched instruments of the toy generator.

An instrument is a callable ``(freq, hold_samples, velocity) -> float32 segment``
whose ``tail`` attribute says how many samples the release adds after ``hold``
(the song timeline needs it to skip notes that end before the clip starts).
"""

from __future__ import annotations

import numpy as np

from genrevae.toy.dsp import (
    _PHASE_BITS,
    _TWO_PI,
    _cycles,
    _n_harm,
    _phase_int,
    _read,
    _release_env,
    _table,
    _time,
)


class _Synth:
    """Wavetable synth voice: detuned oscillators, AD(S)R, vibrato, filter sweep.

    ``fenv`` (seconds) cross-fades from the bright table to a dull one, which
    sounds like a decaying low-pass filter envelope (plucks, synth bass).
    """

    def __init__(
        self,
        sr: int,
        rng: np.random.Generator,
        kind: str = "saw",
        cap: int = 64,
        detune: tuple[float, ...] = (0.0,),
        attack: float = 0.005,
        decay: float | None = None,
        sustain: float = 0.0,
        release: float = 0.05,
        keytrack: float = 0.0,
        vib_rate: float = 0.0,
        vib_cents: float = 0.0,
        vib_delay: float = 0.0,
        fenv: float | None = None,
        dull_kind: str = "soft",
        dull_cap: int = 3,
        gain: float = 1.0,
    ):
        self.sr, self.rng = sr, rng
        self.kind, self.cap, self.detune = kind, cap, tuple(detune)
        self.attack, self.decay, self.sustain = attack, decay, sustain
        self.keytrack = keytrack
        self.vib_rate, self.vib_cents, self.vib_delay = vib_rate, vib_cents, vib_delay
        self.fenv, self.dull_kind, self.dull_cap = fenv, dull_kind, dull_cap
        self.gain = gain
        self.tail = max(1, int(release * sr))

    def __call__(self, freq: float, hold: int, vel: float) -> np.ndarray:
        sr = self.sr
        n = hold + self.tail
        t = _time(n, sr)
        env = (
            np.minimum(t / np.float32(self.attack), np.float32(1.0))
            if self.attack > 0
            else np.ones(n, np.float32)
        )
        if self.decay:
            tau = self.decay * (220.0 / freq) ** self.keytrack
            env *= self.sustain + (1.0 - self.sustain) * np.exp(-t / np.float32(tau))
        _release_env(env, hold)
        pm = None
        if self.vib_cents > 0 and self.vib_rate > 0:
            beta = freq * (2.0 ** (self.vib_cents / 1200.0) - 1.0) / (2.0 * np.pi * self.vib_rate)
            lfo = -np.cos(_TWO_PI * np.float32(self.vib_rate) * t + np.float32(self.rng.uniform(0, 6.28)))
            if self.vib_delay > 0:
                lfo *= np.minimum(t / np.float32(self.vib_delay), np.float32(1.0))
            pm = (lfo * np.float32(beta * 2.0**_PHASE_BITS)).astype(np.int64)
        w = np.exp(-t / np.float32(self.fenv)) if self.fenv else None
        out = np.zeros(n, np.float32)
        for cents in self.detune:
            f = freq * 2.0 ** (cents / 1200.0)
            ph = _phase_int(f, n, sr, self.rng.random())
            if pm is not None:
                ph += pm
            bright = _read(_table(self.kind, _n_harm(f, sr, self.cap)), ph)
            if w is None:
                out += bright
            else:
                dull = _read(_table(self.dull_kind, _n_harm(f, sr, self.dull_cap)), ph)
                out += dull + w * (bright - dull)
        return out * (env * np.float32(vel * self.gain / len(self.detune)))


class _EPiano:
    """FM electric piano: 1:1 FM with a decaying index plus a short tine partial."""

    def __init__(self, sr, rng, index=1.5, decay=1.2, tine=0.2, release=0.08, gain=1.0):
        self.sr, self.rng = sr, rng
        self.index, self.decay, self.tine, self.gain = index, decay, tine, gain
        self.tail = max(1, int(release * sr))

    def __call__(self, freq: float, hold: int, vel: float) -> np.ndarray:
        sr = self.sr
        n = hold + self.tail
        t = _time(n, sr)
        x = _cycles(freq, t, self.rng.random())
        idx = np.float32(self.index * (0.3 + 0.7 * vel)) * (0.25 + 0.75 * np.exp(-t / np.float32(0.35)))
        out = np.sin(x + idx * np.sin(x))
        tine_freq = 6.93 * freq
        if tine_freq < 0.45 * sr:
            m = min(n, int(0.25 * sr))
            xt = _cycles(tine_freq, t[:m])
            out[:m] += np.float32(self.tine * vel) * np.exp(-t[:m] / np.float32(0.03)) * np.sin(xt)
        tau = np.float32(self.decay * (261.6 / freq) ** 0.5)
        env = np.minimum(t / np.float32(0.002), np.float32(1.0)) * np.exp(-t / tau)
        _release_env(env, hold)
        return out * (env * np.float32(vel * self.gain))


class _Bell:
    """Vibraphone / bell: a few inharmonic decaying partials with tremolo."""

    def __init__(
        self, sr, rng, decay=1.2, tremolo=5.5, depth=0.25, ratios=(1.0, 4.0, 9.2), release=0.1, gain=1.0
    ):
        self.sr, self.rng = sr, rng
        self.decay, self.tremolo, self.depth, self.ratios, self.gain = decay, tremolo, depth, ratios, gain
        self.tail = max(1, int(release * sr))

    def __call__(self, freq: float, hold: int, vel: float) -> np.ndarray:
        sr = self.sr
        n = hold + self.tail
        t = _time(n, sr)
        out = np.zeros(n, np.float32)
        for j, r in enumerate(self.ratios):
            f = freq * r
            if f >= 0.45 * sr:
                continue
            x = _cycles(f, t)
            a = np.float32((0.25 * vel if j else 1.0) / (1 + 2 * j))
            out += a * np.exp(-t / np.float32(self.decay / (1 + 3 * j))) * np.sin(x)
        env = np.minimum(t / np.float32(0.002), np.float32(1.0))
        if self.depth:
            env = env * (
                1.0 - np.float32(self.depth) * (0.5 + 0.5 * np.sin(_TWO_PI * np.float32(self.tremolo) * t))
            )
        _release_env(env, hold)
        return out * (env * np.float32(vel * self.gain))
