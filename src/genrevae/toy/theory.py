"""Music theory for the toy generator: chord qualities, scales, voicings, progressions.

Pitches are MIDI note numbers; pitch classes are 0-11 with C = 0.  Nothing here
draws random numbers: the genre renderers choose, these helpers place notes.
"""

from __future__ import annotations

import numpy as np

# chord qualities: semitone intervals above the root
_CHORDS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "5": (0, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "7b9": (0, 4, 7, 10, 13),
    "dim": (0, 3, 6),
    "6": (0, 4, 7, 9),
    "m9": (0, 3, 7, 10, 14),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
}

# chord scale used for passing tones
_CHORD_SCALES: dict[str, tuple[int, ...]] = {
    "maj": (0, 2, 4, 5, 7, 9, 11),
    "min": (0, 2, 3, 5, 7, 8, 10),
    "5": (0, 2, 3, 5, 7, 8, 10),
    "7": (0, 2, 4, 5, 7, 9, 10),
    "maj7": (0, 2, 4, 5, 7, 9, 11),
    "m7": (0, 2, 3, 5, 7, 9, 10),
    "m7b5": (0, 1, 3, 5, 6, 8, 10),
    "7b9": (0, 1, 3, 4, 7, 8, 10),
    "dim": (0, 2, 3, 5, 6, 8, 9, 11),
    "6": (0, 2, 4, 5, 7, 9, 11),
    "m9": (0, 2, 3, 5, 7, 9, 10),
    "9": (0, 2, 4, 5, 7, 9, 10),
    "maj9": (0, 2, 4, 5, 7, 9, 11),
}

# rootless jazz piano voicings (3rd/7th based, with 9ths and 13ths)
_ROOTLESS: dict[str, tuple[int, ...]] = {
    "maj7": (4, 7, 11, 14),
    "maj9": (4, 7, 11, 14),
    "6": (4, 9, 14),
    "m7": (3, 7, 10, 14),
    "m9": (3, 7, 10, 14),
    "7": (4, 9, 10, 14),
    "9": (4, 9, 10, 14),
    "7b9": (4, 10, 13, 20),
    "m7b5": (3, 6, 10, 12),
    "maj": (4, 7, 12),
    "min": (3, 7, 12),
    "dim": (3, 6, 9),
    "5": (7, 12),
}

_MAJOR_PENTA = (0, 2, 4, 7, 9)
_MINOR_PENTA = (0, 3, 5, 7, 10)
_BLUES_SCALE = (0, 3, 5, 6, 7, 10)
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_DORIAN = (0, 2, 3, 5, 7, 9, 10)
_HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((float(midi) - 69.0) / 12.0)


def _nearest_pc(pc: int, ref: float, lo: int, hi: int) -> int:
    """MIDI note of pitch class ``pc`` inside [lo, hi] closest to ``ref``."""
    cands = [m for m in range(lo, hi + 1) if m % 12 == pc % 12]
    if not cands:
        return lo + (pc - lo) % 12
    return min(cands, key=lambda m: (abs(m - ref), m))


def _voicing(root_pc: int, shape: tuple[int, ...], lo: int, hi: int, target: float) -> list[int]:
    """Place a chord shape (intervals above the root) within [lo, hi].

    All inversions in all octaves are candidates; the one whose mean pitch is
    closest to ``target`` wins (gives smooth voice leading when ``target`` is
    the previous chord's mean).
    """
    shape = tuple(sorted(shape))
    best: list[int] | None = None
    best_cost = np.inf
    for base in range(lo - 36, hi + 1):
        if base % 12 != root_pc % 12:
            continue
        notes = [base + s for s in shape]
        for _inv in range(len(shape)):
            if notes[0] >= lo and notes[-1] <= hi:
                cost = abs(float(np.mean(notes)) - target) + 0.05 * (notes[-1] - notes[0])
                if cost < best_cost:
                    best, best_cost = list(notes), cost
            notes = sorted(notes[1:] + [notes[0] + 12])
    if best is None:
        base = lo + (root_pc - lo) % 12
        best = [base + s for s in shape]
    return best


class _Prog:
    """A looping chord progression: list of (degree, quality, beats)."""

    def __init__(self, key: int, chords: list[tuple[int, str, float]]):
        self.key = key
        self.items = chords
        self.starts = np.cumsum([0.0] + [c[2] for c in chords])
        self.length = float(self.starts[-1])

    def at(self, beat: float) -> tuple[int, str, float, float]:
        """(root pitch class, quality, chord start beat, chord end beat)."""
        cycle = np.floor(beat / self.length)
        rem = beat - cycle * self.length
        i = int(np.searchsorted(self.starts, rem + 1e-9, side="right") - 1)
        i = min(max(i, 0), len(self.items) - 1)
        deg, qual, beats = self.items[i]
        start = cycle * self.length + self.starts[i]
        return (self.key + deg) % 12, qual, float(start), float(start + beats)

    def spans(self, b0: float, b1: float):
        """Yield (start, end, root_pc, quality) of chords overlapping [b0, b1)."""
        beat = b0
        while beat < b1:
            root, qual, start, end = self.at(beat)
            yield start, end, root, qual
            beat = end


def _tones(root: int, qual: str) -> set[int]:
    return {(root + i) % 12 for i in _CHORDS[qual]}
