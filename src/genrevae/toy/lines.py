"""Melodic lines shared by several toy genres: a scale-aware melody and a walking bass.

Both return note events ``(beat, duration_beats, midi, velocity)`` for the whole
clip; the genre renderer decides which instrument plays them.
"""

from __future__ import annotations

import numpy as np

from genrevae.toy.song import _Song
from genrevae.toy.theory import _CHORD_SCALES, _Prog, _nearest_pc, _tones


def _melody(
    song: _Song,
    prog: _Prog,
    rng,
    scale: tuple[int, ...],
    key: int,
    lo: int,
    hi: int,
    rhythms: list[list[float]],
    rest_p: float = 0.15,
    repeat_p: float = 0.0,
    cycle_bars: int | None = None,
    chord_weight: float = 3.0,
    leap: float = 2.5,
    play_bar=None,
) -> list[tuple[float, float, int, float]]:
    """Generate a melodic line: (beat, dur, midi, vel) events.

    Pitches come from ``scale`` (relative to ``key``) with chord tones favoured
    on strong beats and mostly stepwise motion.  ``rhythms`` holds per-bar
    duration lists (negative = rest).  With ``repeat_p`` a phrase generated for
    the first progression cycle is repeated in later cycles (a "theme").
    """
    scale_pcs = {(key + s) % 12 for s in scale}
    cands = np.array([m for m in range(lo, hi + 1) if m % 12 in scale_pcs])
    center = 0.5 * (lo + hi)
    prev = float(rng.uniform(lo + 0.3 * (hi - lo), hi - 0.3 * (hi - lo)))
    cycle = cycle_bars or max(1, int(round(prog.length / 4)))
    theme: dict[int, list] = {}
    reuse: dict[int, bool] = {}
    events = []
    for bar in song.bars():
        if play_bar is not None and not play_bar(bar):
            continue
        slot, cyc = bar % cycle, bar // cycle
        if cyc not in reuse:
            reuse[cyc] = bool(rng.random() < repeat_p)
        if reuse[cyc] and slot in theme:
            local = theme[slot]
        else:
            local = []
            if rng.random() >= rest_p:
                pos = 0.0
                for d in rhythms[int(rng.integers(len(rhythms)))]:
                    if d < 0:
                        pos -= d
                        continue
                    root, qual, _, _ = prog.at(bar * 4 + pos + 0.01)
                    ct = _tones(root, qual)
                    strong = abs(pos - round(pos)) < 1e-6 and (d >= 1.0 or int(round(pos)) % 2 == 0)
                    w = np.exp(-np.abs(cands - prev) / leap)
                    w *= np.exp(-(((cands - center) / (hi - lo)) ** 2) * 3.0)
                    is_ct = np.array([c % 12 in ct for c in cands])
                    w *= np.where(is_ct, chord_weight if strong else 1.3, 1.0 if not strong else 0.35)
                    w *= np.where(cands == round(prev), 0.35, 1.0)
                    m = int(rng.choice(cands, p=w / w.sum()))
                    local.append((pos, d, m, 0.75 + 0.25 * strong))
                    prev = m
                    pos += d
            if slot not in theme:
                theme[slot] = local
        events.extend((bar * 4 + p, d, m, v) for p, d, m, v in local)
    return events


def _walking_bass(
    song: _Song, prog: _Prog, rng, lo: int = 28, hi: int = 50
) -> list[tuple[float, float, int, float]]:
    """Quarter-note walking bass: roots on chord changes, chromatic approaches."""
    events = []
    prev: float | None = None
    for b in range(song.first_bar * 4, song.last_bar * 4):
        root, qual, cs, ce = prog.at(b)
        if prev is None:
            m = _nearest_pc(root, lo + 7, lo, hi)
        elif abs(b - cs) < 1e-6:
            m = _nearest_pc(root, prev, lo, hi)
        elif abs(b - (ce - 1)) < 1e-6:
            nroot = prog.at(ce)[0]
            target = _nearest_pc(nroot, prev, lo + 1, hi - 1)
            r = rng.random()
            if r < 0.55:
                m = target + (1 if prev > target else -1)
            elif r < 0.8:
                m = target + (1 if rng.random() < 0.5 else -1)
            else:
                m = _nearest_pc(nroot + 7, prev, lo, hi)
        else:
            scale = {(root + s) % 12 for s in _CHORD_SCALES[qual]}
            ct = _tones(root, qual)
            cands = np.array([p for p in range(lo, hi + 1) if p % 12 in scale and 1 <= abs(p - prev) <= 5])
            if cands.size == 0:
                m = _nearest_pc(root, prev, lo, hi)
            else:
                w = np.exp(-np.abs(cands - prev) / 2.5) * np.array(
                    [2.5 if c % 12 in ct else 1.0 for c in cands]
                )
                m = int(rng.choice(cands, p=w / w.sum()))
        m = int(min(max(m, lo), hi))
        events.append((float(b), 0.95, m, 1.0 if b % 2 == 0 else 0.85))
        prev = m
    return events
