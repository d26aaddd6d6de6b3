"""A toy clip's timeline: beats to samples, swing, humanisation and mixing buses."""

from __future__ import annotations

import numpy as np

from genrevae.toy.dsp import _add
from genrevae.toy.theory import _hz

# drum pattern characters: accent, normal, soft, ghost note, rest
_VEL = {"X": 1.0, "x": 0.75, "o": 0.45, "g": 0.22, ".": 0.0}


class _Song:
    """Timeline of one clip: beats -> samples (with swing and jitter) and buses."""

    def __init__(self, rng, sr, n, tempo, swing=0.5, swing_unit=0.5, jitter=0.004, vel_jitter=0.07):
        self.rng, self.sr, self.n = rng, sr, n
        self.tempo = float(tempo)
        self.spb = 60.0 / self.tempo
        self.swing, self.swing_unit = float(swing), float(swing_unit)
        self.jitter, self.vel_jitter = jitter, vel_jitter
        # the clip is an excerpt that starts somewhere inside the song
        start_bar = int(rng.integers(0, 16))
        self.origin = start_bar * 4 + float(rng.uniform(0.0, 4.0))
        total_beats = n / sr / self.spb
        self.first_bar = int(np.floor(self.origin / 4)) - 1
        self.last_bar = int(np.ceil((self.origin + total_beats) / 4))
        self.buses: dict[str, np.ndarray] = {}

    def bars(self) -> range:
        return range(self.first_bar, self.last_bar)

    def warp(self, beat: float) -> float:
        if self.swing == 0.5:
            return beat
        u2 = 2.0 * self.swing_unit
        pair = np.floor(beat / u2 + 1e-9)
        x = beat / u2 - pair
        x = x / 0.5 * self.swing if x < 0.5 else self.swing + (x - 0.5) / 0.5 * (1.0 - self.swing)
        return float((pair + x) * u2)

    def pos(self, beat: float, swing: bool = True) -> int:
        b = self.warp(beat) if swing else beat
        return int(round((b - self.origin) * self.spb * self.sr))

    def _jit(self, jitter: float | None) -> int:
        j = self.jitter if jitter is None else jitter
        return int(round(self.rng.normal(0.0, j) * self.sr)) if j > 0 else 0

    def _vel(self, v: float) -> float:
        return float(v * np.clip(1.0 + self.rng.normal(0.0, self.vel_jitter), 0.6, 1.4))

    def bus(self, name: str) -> np.ndarray:
        buf = self.buses.get(name)
        if buf is None:
            buf = self.buses[name] = np.zeros(self.n, np.float32)
        return buf

    def hit(
        self, bus: str, sample: np.ndarray, beat: float, vel: float, swing: bool = True, jitter=None
    ) -> None:
        start = self.pos(beat, swing) + self._jit(jitter)
        if start >= self.n or start + sample.shape[0] <= 0:
            return
        _add(self.bus(bus), start, sample * np.float32(self._vel(vel)))

    def note(self, bus, inst, beat, dur, midi, vel, swing=True, delay=0.0, jitter=None) -> None:
        p0 = self.pos(beat, swing)
        hold = max(1, self.pos(beat + dur, swing) - p0)
        start = p0 + self._jit(jitter) + int(round(delay * self.sr))
        if start >= self.n or start + hold + inst.tail <= 0:
            return
        _add(self.bus(bus), start, inst(_hz(midi), hold, self._vel(vel)))

    def chord(self, bus, inst, beat, dur, midis, vel, strum=0.0, swing=True, up=False) -> None:
        order = list(midis)[::-1] if up else list(midis)
        j = self._jit(None) / self.sr
        for k, m in enumerate(order):
            self.note(
                bus, inst, beat, dur, m, vel * (0.9 if k else 1.0), swing, delay=j + k * strum, jitter=0.0
            )

    def pattern(self, bus: str, kit: dict, bar: int, pats: dict[str, str], swing: bool = True) -> None:
        """Play drum patterns (one char per grid step: X x o g .) over one bar."""
        for name, pat in pats.items():
            sample, gain = kit[name]
            step = 4.0 / len(pat)
            for i, ch in enumerate(pat):
                v = _VEL[ch]
                if v > 0:
                    self.hit(bus, sample, bar * 4 + i * step, gain * v, swing)
