"""Deterministic toy music generator that writes a GTZAN-shaped dataset.

The real GTZAN corpus cannot be shipped with the pipeline, so tests, the smoke
workflow and the benchmark suite use this synthesiser instead.  It writes

    <out_dir>/<genre>/<genre>.00000.wav, <genre>.00001.wav, ...

as 22,050 Hz mono 16-bit PCM WAV files of 30 s each (by default), exactly like
GTZAN.  Every clip is a short excerpt of a little arranged "song": a chord
progression in a random key and tempo, played by a genre-typical band made of
simple vectorised synthesisers (wavetable oscillators, FM electric piano,
synthetic drum kit), mixed with a convolution reverb and mastered to a peak
of roughly 0.8-0.9.

All randomness of a clip comes from a ``numpy.random.SeedSequence`` built from
``(seed, crc32(genre), index)``, so a clip's samples depend only on those three
values (and on the sample rate and duration): not on how many clips are
generated, nor on which other genres are.  The same arguments always give
byte-identical files on the same platform and library versions.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from genrevae.files import atomic_path

__all__ = [
    "DEFAULT_TOY_GENRES",
    "TOY_GENRES",
    "clip_filename",
    "synthesize_clip",
    "write_toy_genre",
]

TOY_GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
"""All genre names the toy generator supports (the ten GTZAN genres), sorted."""

DEFAULT_TOY_GENRES: tuple[str, ...] = ("classical", "disco", "jazz", "rock")
"""The genres used by the default pipeline configuration."""

_TWO_PI = np.float32(2.0 * np.pi)
_TABLE_BITS = 12
_TABLE_SIZE = 1 << _TABLE_BITS
_TABLE_MASK = _TABLE_SIZE - 1
_PHASE_BITS = 32  # fixed-point phase accumulator: 32 fractional bits
_PHASE_SHIFT = _PHASE_BITS - _TABLE_BITS


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def clip_filename(genre: str, index: int) -> str:
    """Return the GTZAN-style file name of clip ``index`` of ``genre``.

    >>> clip_filename("jazz", 3)
    'jazz.00003.wav'
    """
    _check_genre(genre)
    index = _check_nonneg_int(index, "index")
    return f"{genre}.{index:05d}.wav"


def synthesize_clip(
    genre: str,
    index: int,
    seed: int,
    sample_rate: int = 22050,
    duration: float = 30.0,
) -> np.ndarray:
    """Synthesise one toy clip of ``genre`` and return it as float32 mono samples.

    The clip is ``round(duration * sample_rate)`` samples long, has no DC
    offset and a peak amplitude between 0.8 and 0.9 (never above 0.9).  Its
    content is a deterministic function of ``(genre, index, seed,
    sample_rate, duration)``; the random generator is seeded from
    ``SeedSequence([seed, crc32(genre), index])``.

    Raises ``ValueError`` for an unknown genre (the message lists the
    supported names), a negative index or seed, or a non-positive duration or
    sample rate.
    """
    audio, _info = _render_clip(genre, index, seed, sample_rate, duration)
    return audio


def write_toy_genre(
    out_dir: Path,
    genre: str,
    n_clips: int,
    seed: int,
    sample_rate: int = 22050,
    duration: float = 30.0,
) -> list[Path]:
    """Write clips ``0 .. n_clips-1`` of ``genre`` to ``out_dir/genre/``.

    Each clip is written as a mono 16-bit PCM WAV file named by
    :func:`clip_filename`.  Directories are created as needed and every file
    is written atomically (to a hidden temporary name in the same folder,
    then ``os.replace``), so an interrupted run never leaves a truncated WAV
    under a final name.  Existing files are overwritten.  Returns the paths in
    index order.
    """
    _check_genre(genre)
    n_clips = _check_nonneg_int(n_clips, "n_clips")
    genre_dir = Path(out_dir) / genre
    genre_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for index in range(n_clips):
        audio = synthesize_clip(genre, index, seed, sample_rate, duration)
        final = genre_dir / clip_filename(genre, index)
        _atomic_write_wav(final, audio, sample_rate)
        paths.append(final)
    return paths


# --------------------------------------------------------------------------
# validation, seeding, I/O
# --------------------------------------------------------------------------


def _check_genre(genre: str) -> None:
    if genre not in _GENRE_RENDERERS:
        raise ValueError(f"unknown toy genre {genre!r}; supported genres are: {', '.join(TOY_GENRES)}")


def _check_nonneg_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def _clip_rng(genre: str, index: int, seed: int) -> np.random.Generator:
    """Generator for one clip, stable across runs, processes and platforms."""
    genre_key = zlib.crc32(genre.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([seed, genre_key, index]))


def _render_clip(
    genre: str, index: int, seed: int, sample_rate: int, duration: float
) -> tuple[np.ndarray, dict]:
    """Render a clip; also return a dict describing it (tempo, key, ...)."""
    _check_genre(genre)
    index = _check_nonneg_int(index, "index")
    seed = _check_nonneg_int(seed, "seed")
    sample_rate = _check_nonneg_int(sample_rate, "sample_rate")
    if sample_rate < 4000:
        raise ValueError(f"sample_rate must be >= 4000 Hz, got {sample_rate}")
    duration = float(duration)
    n = int(round(duration * sample_rate))
    if not np.isfinite(duration) or n < 1:
        raise ValueError(f"duration must be positive, got {duration}")
    rng = _clip_rng(genre, index, seed)
    audio, info = _GENRE_RENDERERS[genre](rng, sample_rate, n)
    info["genre"] = genre
    return audio, info


def _atomic_write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    with atomic_path(path) as tmp:
        sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")


# --------------------------------------------------------------------------
# music theory helpers
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# DSP primitives
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# instruments: callables (freq, hold_samples, velocity) -> float32 segment
# --------------------------------------------------------------------------


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
        tf = 6.93 * freq
        if tf < 0.45 * sr:
            m = min(n, int(0.25 * sr))
            xt = _cycles(tf, t[:m])
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


# --------------------------------------------------------------------------
# drum kit (one set of samples per clip, slightly randomised)
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# song: timing, humanisation, buses
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# shared pattern generators
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# genres
# --------------------------------------------------------------------------


def _jazz(rng, sr, n):
    tempo = rng.uniform(104.0, 168.0)
    swing = rng.uniform(0.60, 0.68)
    song = _Song(rng, sr, n, tempo, swing=swing, jitter=0.005)
    key = int(rng.integers(12))
    progs = [
        [(2, "m7", 4), (7, "7", 4), (0, "maj7", 8)],
        [(0, "maj7", 4), (9, "7", 4), (2, "m7", 4), (7, "7", 4)],
        [(2, "m7b5", 4), (7, "7b9", 4), (0, "m9", 8)],
        [(4, "m7", 4), (9, "7", 4), (2, "m7", 4), (7, "7", 4), (0, "maj7", 8), (0, "6", 8)],
        [(0, "maj7", 4), (2, "m7", 2), (7, "7", 2), (4, "m7", 2), (9, "7", 2), (2, "m7", 2), (7, "7", 2)],
        [(0, "9", 4), (5, "9", 4), (0, "9", 8), (7, "m7", 4), (0, "9", 4), (2, "m7", 4), (7, "7", 4)],
    ]
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 55), decay=0.25, punch=1.5, click=0.05), 0.22),
        "snare": (_snare(sr, rng, tone=_vary(rng, 220), decay=_vary(rng, 0.13), snap=1.2, lo=1500), 0.5),
        "ride": (
            _cymbal(sr, rng, decay=_vary(rng, 1.0, 0.3), cut=4000.0, ping=0.8, wash=0.25, wash_decay=0.25),
            rng.uniform(0.45, 0.65),
        ),
        "hat": (_hat(sr, rng, decay=0.025, cut=5500.0), 0.45),
    }
    ep = _EPiano(
        sr, rng, index=rng.uniform(0.6, 2.0), decay=rng.uniform(0.8, 1.6), tine=rng.uniform(0.05, 0.3)
    )
    bass = _Synth(
        sr,
        rng,
        kind="upright",
        cap=8,
        attack=0.006,
        decay=rng.uniform(0.35, 0.7),
        sustain=0.1,
        release=0.04,
        keytrack=0.3,
    )
    lead_kind = int(rng.integers(3))  # 0: no soloist, 1: vibes, 2: muted horn
    if lead_kind == 1:
        lead = _Bell(sr, rng, decay=rng.uniform(0.9, 1.6), tremolo=rng.uniform(4.5, 6.5), depth=0.3)
    else:
        lead = _Synth(
            sr,
            rng,
            kind="reed",
            cap=14,
            detune=(0.0, 5.0),
            attack=0.03,
            release=0.08,
            vib_rate=5.5,
            vib_cents=15.0,
            vib_delay=0.2,
            decay=0.8,
            sustain=0.6,
        )
    ride_pat = ["x.Xox.Xo", "x.Xox.Xo", "x.XoX.Xo"][int(rng.integers(3))]
    comp_pats = [
        [(0.0, 1.5)],
        [(0.0, 1.0), (1.5, 0.5)],
        [(1.5, 1.0), (3.5, 0.5)],
        [(0.0, 2.0), (2.5, 1.0)],
        [(0.5, 1.0), (2.0, 1.0)],
        [(1.0, 0.5), (2.5, 1.5)],
        [(0.0, 0.5), (1.5, 0.5), (3.0, 1.0)],
    ]
    target = 64.0
    for bar in song.bars():
        song.pattern("drums", kit, bar, {"ride": ride_pat, "hat": "..x...x.", "kick": "g.g.g.g."})
        for k in range(4):
            if rng.random() < 0.25:
                song.hit(
                    "drums", kit["snare"][0], bar * 4 + k + 0.5, kit["snare"][1] * rng.uniform(0.2, 0.55)
                )
        for pos, dur in comp_pats[int(rng.integers(len(comp_pats)))]:
            beat = bar * 4 + pos
            look = beat + (0.5 if pos % 1 else 0.0)  # anticipations take the next chord
            root, qual, _, _ = prog.at(look)
            voice = _voicing(root, _ROOTLESS[qual], 50, 77, target + rng.normal(0, 1.5))
            target = 0.7 * target + 0.3 * float(np.mean(voice))
            song.chord("keys", ep, beat, dur, voice, rng.uniform(0.5, 0.85), strum=0.006)
    for beat, dur, m, v in _walking_bass(song, prog, rng, 28, 50):
        song.note("bass", bass, beat, dur, m, v)
        if rng.random() < 0.06:  # triplet skip note
            song.note("bass", bass, beat + 2.0 / 3.0, 1.0 / 3.0, m, 0.5 * v, swing=False)
    if lead_kind:
        rhythms = [
            [0.5] * 8,
            [1.0, 0.5, 0.5, 0.5, 0.5, 1.0],
            [-0.5, 0.5, 0.5, 0.5, 1.0, 1.0],
            [0.5, 0.5, 1.0, -1.0, 0.5, 0.5],
            [1.5, 0.5, 2.0],
            [-1.0, 0.5, 0.5, 0.5, 0.5, 1.0],
        ]
        scale = _MAJOR if progs[pi][-1][1] != "m9" else _DORIAN
        phrase = lambda bar: (bar // 2) % 2 == 0 or rng.random() < 0.3  # noqa: E731
        for beat, dur, m, v in _melody(
            song, prog, rng, scale, key, 62, 84, rhythms, rest_p=0.1, play_bar=phrase
        ):
            song.note("lead", lead, beat, dur * 0.95, m, v)
    levels = {"drums": 0.45, "bass": 0.65, "keys": 0.6, "lead": 0.45}
    audio = _finish(
        song,
        levels,
        sends={"keys": 0.3, "lead": 0.35, "drums": 0.15},
        rt60=1.3,
        proc={"keys": lambda x: _bfilt(x, sr, "lowpass", 5000.0)},
        limit=1.6,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi, swing=swing, lead=lead_kind)


def _power_guitar(song, rng, prog, bars, part, palm, openg, lo=40, hi=51, sixteenths=False, riff=None):
    """Rhythm guitar: palm-muted chugs ('verse') or open power chords ('chorus')."""
    for bar in bars:
        sec = part(bar)
        if sec == "chug":
            step = 0.25 if sixteenths else 0.5
            for i in range(int(4 / step)):
                beat = bar * 4 + i * step
                root, _, _, _ = prog.at(beat + 0.01)
                r = _nearest_pc(root, lo + 4, lo, hi)
                acc = 1.0 if (i * step) % 1 == 0 else 0.75
                song.chord("gtr", palm, beat, step * 0.9, [r, r + 7], acc)
        else:
            for pos, dur in riff or [(0.0, 1.5), (1.5, 1.0), (2.5, 1.5)]:
                beat = bar * 4 + pos
                root, _, _, _ = prog.at(beat + 0.01)
                r = _nearest_pc(root, lo + 4, lo, hi)
                song.chord("gtr", openg, beat, dur * 0.95, [r, r + 7, r + 12], 1.0, strum=0.004)


def _rock(rng, sr, n):
    tempo = rng.uniform(100.0, 150.0)
    song = _Song(rng, sr, n, tempo, jitter=0.004)
    key = int(rng.integers(12))
    progs = [
        [(0, "5", 8), (10, "5", 4), (5, "5", 4)],
        [(0, "5", 4), (5, "5", 4), (7, "5", 4), (5, "5", 4)],
        [(0, "5", 4), (8, "5", 4), (10, "5", 4), (0, "5", 4)],
        [(0, "5", 4), (7, "5", 4), (9, "5", 4), (5, "5", 4)],
        [(9, "5", 4), (5, "5", 4), (0, "5", 4), (7, "5", 4)],
        [(0, "5", 2), (3, "5", 2), (5, "5", 4), (0, "5", 2), (10, "5", 2), (5, "5", 4)],
    ]
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 55), decay=_vary(rng, 0.22), punch=3.0, click=0.5), 1.0),
        "snare": (_snare(sr, rng, tone=_vary(rng, 200), decay=_vary(rng, 0.16), snap=0.9), 0.85),
        "hat": (_hat(sr, rng, decay=_vary(rng, 0.05), cut=7000.0), 0.35),
        "ride": (_cymbal(sr, rng, decay=1.0, cut=4500.0, ping=0.5), 0.35),
        "crash": (_cymbal(sr, rng, decay=1.2, cut=3000.0, ping=0.0, length=2.4), 0.6),
        "tom": (_tom(sr, rng, f0=_vary(rng, 120)), 0.7),
    }
    palm = _Synth(
        sr,
        rng,
        kind="saw",
        cap=12,
        detune=(-4.0, 4.0),
        attack=0.002,
        decay=rng.uniform(0.07, 0.12),
        release=0.02,
    )
    openg = _Synth(
        sr, rng, kind="saw", cap=48, detune=(-4.0, 5.0), attack=0.003, decay=2.5, sustain=0.3, release=0.06
    )
    bass = _Synth(
        sr,
        rng,
        kind="saw",
        cap=14,
        attack=0.004,
        decay=0.5,
        sustain=0.4,
        release=0.03,
        fenv=0.08,
        dull_kind="soft",
        dull_cap=4,
    )
    section_len = int(rng.choice([4, 8]))
    part = lambda bar: "chug" if (bar // section_len) % 2 == 0 else "open"  # noqa: E731
    kicks = ["X.......X.......", "X.......X.x.....", "X......xX.......", "X.x.....X.x....."]
    kpat = kicks[int(rng.integers(len(kicks)))]
    riffs = [
        [(0.0, 1.5), (1.5, 1.0), (2.5, 1.5)],
        [(i * 0.5, 0.5) for i in range(8)],
        [(0.0, 0.75), (0.75, 0.75), (1.5, 1.0), (2.5, 0.5), (3.0, 1.0)],
        [(0.0, 1.0), (1.0, 1.5), (2.5, 0.5), (3.0, 1.0)],
    ]
    riff = riffs[int(rng.integers(len(riffs)))]
    for bar in song.bars():
        fill = bar % section_len == section_len - 1
        chorus = part(bar) == "open"
        pats = {"kick": kpat, "snare": "....X.......X..."}
        pats["ride" if chorus else "hat"] = "X.x.X.x.X.x.X.x." if chorus else "x.o.x.o.x.o.x.o."
        if fill:
            pats["snare"] = "....X.......xxxx" if rng.random() < 0.5 else "....X...XoxoXXXX"
            if rng.random() < 0.5:
                pats["tom"] = "........X.x.X..."
        if bar % section_len == 0:
            pats["crash"] = "X..............."
        song.pattern("drums", kit, bar, pats)
        for i in range(8):
            beat = bar * 4 + i * 0.5
            root, _, _, _ = prog.at(beat + 0.01)
            song.note("bass", bass, beat, 0.45, _nearest_pc(root, 35, 28, 40), 1.0 if i % 2 == 0 else 0.8)
    _power_guitar(song, rng, prog, song.bars(), part, palm, openg, riff=riff)
    drive = rng.uniform(4.0, 10.0)
    cab = rng.uniform(3500.0, 5500.0)
    levels = {"drums": 1.0, "bass": 0.55, "gtr": 0.4}
    audio = _finish(
        song,
        levels,
        sends={"drums": 0.12, "gtr": 0.12},
        rt60=0.9,
        proc={"gtr": lambda x: _distort(x, sr, drive, cab)},
        limit=1.1,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi, drive=drive)


def _metal(rng, sr, n):
    tempo = rng.uniform(120.0, 180.0)
    song = _Song(rng, sr, n, tempo, jitter=0.002)
    key = int(rng.choice([4, 2, 1, 11]))  # E, D, C#, B tunings
    lo = 35 + (key - 35) % 12
    riffs = [
        [(0, "5", 8), (1, "5", 4), (6, "5", 4)],
        [(0, "5", 8), (8, "5", 4), (10, "5", 2), (1, "5", 2)],
        [(0, "5", 4), (0, "5", 4), (3, "5", 4), (1, "5", 4)],
    ]
    pi = int(rng.integers(len(riffs)))
    prog = _Prog(key, riffs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 60), decay=0.12, punch=4.0, click=0.9), 0.9),
        "snare": (_snare(sr, rng, tone=_vary(rng, 230), decay=0.14, snap=1.0), 0.85),
        "hat": (_hat(sr, rng, decay=0.04, cut=7000.0), 0.3),
        "crash": (_cymbal(sr, rng, decay=0.9, cut=3000.0, ping=0.0, length=2.0), 0.4),
    }
    palm = _Synth(sr, rng, kind="saw", cap=10, detune=(-6.0, 6.0), attack=0.001, decay=0.07, release=0.015)
    openg = _Synth(
        sr, rng, kind="saw", cap=48, detune=(-10.0, 10.0), attack=0.002, decay=3.0, sustain=0.5, release=0.05
    )
    bass = _Synth(sr, rng, kind="saw", cap=10, attack=0.003, decay=0.3, sustain=0.5, release=0.02)
    gallop = rng.random() < 0.4
    part = lambda bar: "chug" if (bar // 4) % 2 == 0 else "open"  # noqa: E731
    for bar in song.bars():
        chorus = part(bar) == "open"
        pats = {"kick": "XxXxXxXxXxXxXxXx" if not gallop else "X.xxX.xxX.xxX.xx", "snare": "....X.......X..."}
        if chorus:
            pats["crash"] = "X.......x......."
        else:
            pats["hat"] = "x.x.x.x.x.x.x.x."
        song.pattern("drums", kit, bar, pats)
        for i in range(8):
            beat = bar * 4 + i * 0.5
            root, _, _, _ = prog.at(beat + 0.01)
            song.note("bass", bass, beat, 0.45, _nearest_pc(root, lo - 12, lo - 12, lo - 1), 1.0)
    riff = [(0.0, 0.75), (0.75, 0.75), (1.5, 0.5), (2.0, 1.0), (3.0, 1.0)]
    _power_guitar(
        song, rng, prog, song.bars(), part, palm, openg, lo=lo, hi=lo + 6, sixteenths=True, riff=riff
    )
    drive = rng.uniform(25.0, 60.0)
    levels = {"drums": 0.85, "bass": 0.5, "gtr": 0.7}
    audio = _finish(
        song,
        levels,
        sends={"drums": 0.08, "gtr": 0.08},
        rt60=0.8,
        proc={
            "gtr": lambda x: _distort(x, sr, drive, rng.uniform(4000.0, 5500.0), hp=110.0, pre=4500.0),
            "bass": lambda x: _distort(x, sr, 3.0, 2500.0, hp=35.0),
        },
        limit=1.0,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi, drive=drive)


def _classical(rng, sr, n):
    tempo = rng.uniform(60.0, 100.0)
    song = _Song(rng, sr, n, tempo, jitter=0.01, vel_jitter=0.04)
    key = int(rng.integers(12))
    minor = rng.random() < 0.4
    if minor:
        progs = [
            [(0, "min", 4), (5, "min", 4), (7, "maj", 4), (0, "min", 4)],
            [(0, "min", 4), (8, "maj", 4), (5, "min", 4), (7, "maj", 4)],
            [
                (0, "min", 4),
                (5, "min", 4),
                (10, "maj", 4),
                (3, "maj", 4),
                (8, "maj", 4),
                (2, "dim", 4),
                (7, "maj", 4),
                (0, "min", 4),
            ],
        ]
        scale = _HARMONIC_MINOR
    else:
        progs = [
            [(0, "maj", 4), (5, "maj", 4), (7, "maj", 4), (0, "maj", 4)],
            [(0, "maj", 4), (9, "min", 4), (5, "maj", 4), (7, "maj", 4)],
            [
                (0, "maj", 2),
                (7, "maj", 2),
                (9, "min", 2),
                (4, "min", 2),
                (5, "maj", 2),
                (0, "maj", 2),
                (5, "maj", 2),
                (7, "maj", 2),
            ],
            [(0, "maj", 4), (2, "min", 4), (7, "7", 4), (0, "maj", 4)],
        ]
        scale = _MAJOR
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    vib = rng.uniform(4.8, 6.0)
    strings = _Synth(
        sr,
        rng,
        kind="saw",
        cap=36,
        detune=(-7.0, 0.0, 6.0),
        attack=rng.uniform(0.25, 0.5),
        release=0.45,
        vib_rate=vib,
        vib_cents=10.0,
        vib_delay=0.4,
    )
    violin = _Synth(
        sr,
        rng,
        kind="saw",
        cap=40,
        detune=(0.0, 4.0),
        attack=rng.uniform(0.06, 0.14),
        release=0.2,
        vib_rate=vib + 0.4,
        vib_cents=rng.uniform(15.0, 28.0),
        vib_delay=0.15,
    )
    cello = _Synth(
        sr,
        rng,
        kind="saw",
        cap=24,
        detune=(-5.0, 5.0),
        attack=0.2,
        release=0.4,
        vib_rate=vib - 0.5,
        vib_cents=9.0,
        vib_delay=0.3,
    )
    arpeggio = rng.random() < 0.35
    harp = _Synth(
        sr, rng, kind="pluck", cap=16, attack=0.002, decay=1.2, keytrack=0.4, fenv=0.15, release=0.3
    )
    swell = lambda beat: 0.75 + 0.25 * np.sin(2 * np.pi * beat / 32.0 + 1.0)  # noqa: E731
    target = 66.0
    b0, b1 = song.first_bar * 4, song.last_bar * 4
    for start, end, root, qual in prog.spans(b0, b1):
        triad = _CHORDS[qual][:3]
        voice = _voicing(root, tuple(triad) + (12,), 55, 79, target)
        target = float(np.mean(voice))
        song.chord("strings", strings, start, end - start, voice, 0.7 * swell(start))
        bass_note = _nearest_pc(root, 40, 33, 48)
        song.note("cello", cello, start, end - start, bass_note, 0.8 * swell(start))
        if arpeggio:
            pattern = [0, 2, 1, 2] if rng.random() < 0.6 else [0, 1, 2, 1]
            low = sorted(_voicing(root, triad, 48, 67, 57.0))
            k = 0
            beat = start
            while beat < end - 1e-6:
                song.note("harp", harp, beat, 0.5, low[pattern[k % 4]], 0.6 * swell(beat))
                beat += 0.5
                k += 1
    rhythms = [
        [4.0],
        [2.0, 2.0],
        [3.0, 1.0],
        [2.0, 1.0, 1.0],
        [1.0, 1.0, 2.0],
        [1.5, 0.5, 2.0],
        [1.0, 1.0, 1.0, 1.0],
        [2.0, 1.5, 0.5],
        [1.5, 0.5, 1.0, 1.0],
    ]
    for beat, dur, m, v in _melody(
        song, prog, rng, scale, key, 67, 88, rhythms, rest_p=0.08, repeat_p=0.6, leap=2.0
    ):
        song.note("violin", violin, beat, dur + 0.05, m, v * swell(beat))
    cut = rng.uniform(1800.0, 3200.0)
    levels = {"strings": 0.5, "violin": 0.55, "cello": 0.45, "harp": 0.35}
    soft = lambda x: _bfilt(_bfilt(x, sr, "lowpass", cut, order=4), sr, "highpass", 60.0)  # noqa: E731
    audio = _finish(
        song,
        levels,
        sends={"strings": 0.45, "violin": 0.4, "cello": 0.35, "harp": 0.35},
        rt60=rng.uniform(1.8, 2.6),
        proc={"strings": soft, "violin": soft, "cello": soft},
        limit=2.5,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi, minor=minor, arpeggio=arpeggio)


def _disco(rng, sr, n):
    tempo = rng.uniform(112.0, 128.0)
    song = _Song(rng, sr, n, tempo, jitter=0.0015)
    key = int(rng.integers(12))
    progs = [
        [(0, "m7", 8), (5, "7", 8)],
        [(0, "m7", 4), (10, "maj", 4), (8, "maj7", 4), (10, "maj", 4)],
        [(0, "maj7", 4), (2, "m7", 4), (4, "m7", 4), (2, "m7", 4)],
        [(5, "maj7", 4), (4, "m7", 4), (2, "m7", 4), (0, "maj7", 4)],
        [(2, "m7", 4), (7, "9", 4), (0, "maj7", 8)],
    ]
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 52), decay=_vary(rng, 0.24), punch=2.5, click=0.4), 1.0),
        "clap": (_clap(sr, rng), 0.6),
        "snare": (_snare(sr, rng, tone=_vary(rng, 210), decay=0.12, snap=0.8), 0.45),
        "ohat": (_hat(sr, rng, decay=_vary(rng, 0.16), cut=6500.0), 0.5),
        "chat": (_hat(sr, rng, decay=0.025, cut=8000.0), 0.25),
    }
    bass = _Synth(
        sr,
        rng,
        kind="saw",
        cap=24,
        attack=0.003,
        decay=0.3,
        sustain=0.3,
        release=0.03,
        fenv=rng.uniform(0.04, 0.1),
        dull_kind="soft",
        dull_cap=3,
    )
    arp = _Synth(
        sr,
        rng,
        kind=str(rng.choice(["square", "saw"])),
        cap=30,
        attack=0.002,
        decay=0.14,
        release=0.02,
        fenv=rng.uniform(0.03, 0.08),
        dull_kind="sine",
        dull_cap=1,
    )
    pad = _Synth(
        sr,
        rng,
        kind="saw",
        cap=30,
        detune=(-9.0, 0.0, 8.0),
        attack=0.02,
        decay=0.6,
        sustain=0.5,
        release=0.15,
    )
    chats = rng.random() < 0.6
    bass_pats = [[0, 12] * 4, [0, 12, 0, 12, 0, 12, 10, 12], [0, 12, 12, 0, 12, 0, 7, 12]]
    bpat = bass_pats[int(rng.integers(len(bass_pats)))]
    arp_up = rng.random() < 0.5
    stab = rng.random() < 0.5
    for bar in song.bars():
        pats = {
            "kick": "X...X...X...X...",
            "ohat": "..x...x...x...x.",
            "clap": "....X.......X...",
            "snare": "....x.......x...",
        }
        if chats:
            pats["chat"] = "xo.ox..ox..ox..o"
        song.pattern("drums", kit, bar, pats)
        for i, off in enumerate(bpat):
            beat = bar * 4 + i * 0.5
            root, _, _, _ = prog.at(beat + 0.01)
            song.note("bass", bass, beat, 0.4, _nearest_pc(root, 36, 31, 42) + off, 1.0 if off == 0 else 0.85)
        for i in range(16):
            beat = bar * 4 + i * 0.25
            root, qual, _, _ = prog.at(beat + 0.01)
            tones = sorted(_voicing(root, _CHORDS[qual][:4], 60, 84, 70.0))
            seq = tones + tones[-2:0:-1] if not arp_up else tones
            song.note("arp", arp, beat, 0.2, seq[i % len(seq)], 0.9 if i % 4 == 0 else 0.7)
        root, qual, _, _ = prog.at(bar * 4 + 0.01)
        voice = _voicing(root, _CHORDS[qual][:4], 55, 76, 65.0)
        if stab:
            for pos in (1.5, 3.5):
                song.chord("pad", pad, bar * 4 + pos, 0.4, voice, 0.8)
        else:
            song.chord("pad", pad, bar * 4, 3.9, voice, 0.6)
    levels = {"drums": 0.9, "bass": 0.65, "arp": 0.3, "pad": 0.3}
    audio = _finish(
        song,
        levels,
        sends={"arp": 0.3, "pad": 0.35, "drums": 0.08},
        rt60=1.1,
        proc={
            "pad": lambda x: _bfilt(x, sr, "lowpass", 4500.0),
            "arp": lambda x: _bfilt(x, sr, "lowpass", 6000.0),
        },
        limit=1.2,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi)


def _blues(rng, sr, n):
    tempo = rng.uniform(66.0, 104.0)
    swing = rng.uniform(0.64, 0.7)
    song = _Song(rng, sr, n, tempo, swing=swing, jitter=0.006)
    key = int(rng.integers(12))
    quick = rng.random() < 0.5
    prog = _Prog(
        key,
        [
            (0, "7", 4),
            ((5 if quick else 0), "7", 4),
            (0, "7", 8),
            (5, "7", 8),
            (0, "7", 8),
            (7, "7", 4),
            (5, "7", 4),
            (0, "7", 4),
            (7, "7", 4),
        ],
    )
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 55), decay=0.25, punch=2.0, click=0.2), 0.8),
        "snare": (_snare(sr, rng, tone=_vary(rng, 190), decay=0.15), 0.7),
        "hat": (_hat(sr, rng, decay=0.045, cut=6500.0), 0.4),
        "ride": (_cymbal(sr, rng, decay=1.0, cut=4500.0, ping=0.6), 0.4),
    }
    use_ride = rng.random() < 0.4
    bass = _Synth(sr, rng, kind="upright", cap=8, attack=0.005, decay=0.5, sustain=0.2, release=0.04)
    gtr = _Synth(sr, rng, kind="pluck", cap=36, attack=0.002, decay=0.8, sustain=0.2, fenv=0.1, release=0.05)
    keys = _EPiano(sr, rng, index=rng.uniform(1.0, 2.2), decay=1.0, tine=0.15)
    lead = _Synth(
        sr,
        rng,
        kind="pluck",
        cap=40,
        attack=0.002,
        decay=1.0,
        sustain=0.3,
        fenv=0.2,
        vib_rate=5.0,
        vib_cents=25.0,
        vib_delay=0.25,
        release=0.08,
    )
    boogie = [0, 4, 7, 9, 10, 9, 7, 4]
    for bar in song.bars():
        cymb = "ride" if use_ride else "hat"
        song.pattern("drums", kit, bar, {cymb: "xoxoxoxo", "snare": "..X...X.", "kick": "X...X..."})
        for i in range(8):
            beat = bar * 4 + i * 0.5
            root, _, _, _ = prog.at(beat + 0.01)
            r = _nearest_pc(root, 36, 28, 43)
            song.note("bass", bass, beat, 0.45, r + boogie[i], 1.0 if i % 2 == 0 else 0.8)
            g = _nearest_pc(root, 45, 40, 52)
            song.chord("gtr", gtr, beat, 0.4, [g, g + (7 if i % 4 < 2 else 9)], 0.8 if i % 2 == 0 else 0.6)
        for pos in (1.5, 3.5):
            root, qual, _, _ = prog.at(bar * 4 + pos + 0.01)
            song.chord(
                "keys",
                keys,
                bar * 4 + pos,
                0.4,
                _voicing(root, _ROOTLESS["9"], 55, 76, 65.0),
                0.5,
                strum=0.005,
            )
    rhythms = [
        [-0.5, 0.5, 0.5, 0.5, 2.0],
        [1.0, 0.5, 0.5, 2.0],
        [-1.0, 0.5, 0.5, 1.0, 1.0],
        [0.5, 0.5, 0.5, 0.5, 2.0],
    ]
    for beat, dur, m, v in _melody(
        song, prog, rng, _BLUES_SCALE, key, 60, 79, rhythms, rest_p=0.45, chord_weight=2.0, leap=2.0
    ):
        song.note("lead", lead, beat, dur, m, v)
    drive = rng.uniform(2.0, 4.0)
    levels = {"drums": 0.7, "bass": 0.7, "gtr": 0.45, "keys": 0.3, "lead": 0.45}
    audio = _finish(
        song,
        levels,
        sends={"gtr": 0.2, "lead": 0.3, "keys": 0.25, "drums": 0.12},
        rt60=1.2,
        proc={
            "gtr": lambda x: _distort(x, sr, drive, 4000.0),
            "lead": lambda x: _distort(x, sr, 2.5, 4500.0),
        },
        limit=1.4,
    )
    return audio, dict(tempo=song.tempo, key=key, swing=swing)


def _hiphop(rng, sr, n):
    tempo = rng.uniform(80.0, 98.0)
    swing = rng.uniform(0.52, 0.62)
    song = _Song(rng, sr, n, tempo, swing=swing, swing_unit=0.25, jitter=0.003)
    key = int(rng.integers(12))
    progs = [
        [(0, "m9", 8), (8, "maj7", 8)],
        [(0, "m7", 4), (5, "m7", 4)],
        [(2, "m7", 4), (7, "9", 4), (0, "maj9", 8)],
        [(0, "m9", 4), (10, "9", 4), (8, "maj7", 4), (7, "7b9", 4)],
    ]
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 50), decay=_vary(rng, 0.4), punch=2.0, click=0.3), 1.0),
        "snare": (_snare(sr, rng, tone=_vary(rng, 180), decay=_vary(rng, 0.2), snap=1.0), 0.9),
        "clap": (_clap(sr, rng, decay=0.1), 0.4),
        "hat": (_hat(sr, rng, decay=0.03, cut=7500.0), 0.35),
    }
    kicks = [
        "X.........X..x..",
        "X......X..X.....",
        "X..x......X.....",
        "X.....X...X..x..",
        "X.x.......X.....",
    ]
    kpat = kicks[int(rng.integers(len(kicks)))]
    hats = ["x.x.x.x.x.x.x.x.", "xoxoxoxoxoxoxoxo", "x.xox.x.x.xox.x."]
    hpat = hats[int(rng.integers(len(hats)))]
    keys = _EPiano(sr, rng, index=rng.uniform(0.5, 1.5), decay=rng.uniform(1.5, 2.5), tine=0.1)
    sub = _Synth(sr, rng, kind="sub", cap=4, attack=0.004, decay=0.6, sustain=0.2, release=0.05)
    bell = _Bell(sr, rng, decay=rng.uniform(0.5, 1.0), depth=0.0, ratios=(1.0, 3.01, 7.1))
    motif_scale = _MINOR_PENTA
    for bar in song.bars():
        song.pattern(
            "drums",
            kit,
            bar,
            {"kick": kpat, "snare": "....X.......X...", "clap": "....x.......x...", "hat": hpat},
        )
        hits = [i for i, c in enumerate(kpat) if c != "."] + [16]
        for a, b in zip(hits[:-1], hits[1:]):
            beat = bar * 4 + a * 0.25
            root, _, _, _ = prog.at(beat + 0.01)
            song.note("sub", sub, beat, (b - a) * 0.25, _nearest_pc(root, 34, 28, 40), 1.0)
    for start, end, root, qual in prog.spans(song.first_bar * 4, song.last_bar * 4):
        voice = _voicing(root, _ROOTLESS[qual], 52, 74, 62.0)
        beat = start
        while beat < end - 1e-6:
            song.chord("keys", keys, beat, min(2.0, end - beat) - 0.1, voice, 0.6, strum=0.01)
            beat += 2.0
    rhythms = [[0.5, 0.5, -1.0, 0.5, 0.5, -1.0], [-1.0, 0.75, 0.25, -2.0], [0.5, 0.5, 0.5, -2.5]]
    for beat, dur, m, v in _melody(
        song, prog, rng, motif_scale, key, 72, 88, rhythms, rest_p=0.2, repeat_p=0.9, cycle_bars=1
    ):
        song.note("bell", bell, beat, dur, m, v)
    vinyl = song.bus("vinyl")
    clicks = rng.random(n) < 3.0 / sr
    vinyl += np.where(clicks, rng.uniform(-1.0, 1.0, n), 0.0).astype(np.float32)
    vinyl += 0.02 * _bfilt(_noise(rng, n), sr, "bandpass", (800.0, 6000.0))
    levels = {"drums": 0.9, "sub": 0.6, "keys": 0.45, "bell": 0.25, "vinyl": 0.05}
    dusty = rng.uniform(2200.0, 3500.0)
    audio = _finish(
        song,
        levels,
        sends={"keys": 0.25, "bell": 0.3, "drums": 0.08},
        rt60=1.0,
        proc={"keys": lambda x: _bfilt(x, sr, "lowpass", dusty)},
        limit=1.2,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi, swing=swing)


def _reggae(rng, sr, n):
    tempo = rng.uniform(66.0, 86.0)
    swing = rng.uniform(0.5, 0.6)
    song = _Song(rng, sr, n, tempo, swing=swing, jitter=0.004)
    key = int(rng.integers(12))
    progs = [
        [(0, "min", 8), (10, "maj", 8)],
        [(0, "maj", 4), (5, "maj", 4)],
        [(0, "maj", 4), (7, "maj", 4), (9, "min", 4), (5, "maj", 4)],
        [(0, "min", 4), (5, "min", 4)],
    ]
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 50), decay=0.35, punch=1.8, click=0.2), 1.0),
        "rim": (_rim(sr, rng), 0.6),
        "snare": (_snare(sr, rng, tone=_vary(rng, 230), decay=0.12), 0.6),
        "hat": (_hat(sr, rng, decay=0.035, cut=7000.0), 0.35),
    }
    skank = _Synth(sr, rng, kind="pluck", cap=40, attack=0.001, decay=0.12, release=0.02, fenv=0.03)
    organ = _Synth(sr, rng, kind="organ", cap=8, attack=0.004, release=0.02)
    bass = _Synth(sr, rng, kind="sub", cap=5, attack=0.01, decay=0.5, sustain=0.5, release=0.05)
    riffs = [
        [(0.0, 0.9, 0), (1.0, 0.5, 0), (1.5, 0.5, 7), (2.5, 0.5, 12), (3.0, 0.9, 10)],
        [(0.5, 0.5, 0), (1.0, 1.0, 3), (2.0, 0.5, 7), (3.0, 0.5, 5), (3.5, 0.5, 3)],
        [(0.0, 1.5, 0), (1.5, 0.5, 0), (2.0, 0.5, 7), (2.5, 1.0, 5), (3.5, 0.5, 4)],
    ]
    riff = riffs[int(rng.integers(len(riffs)))]
    one_drop = rng.random() < 0.7
    for bar in song.bars():
        pats = {"hat": "x.x.x.x.x.x.x.x."}
        if one_drop:
            pats.update(kick="........X.......", rim="........X.......")
        else:  # steppers
            pats.update(kick="X...X...X...X...", rim="........X.......")
        if bar % 8 == 7:
            pats["snare"] = "............xxXx"
        song.pattern("drums", kit, bar, pats)
        for pos in (1.0, 3.0):
            root, qual, _, _ = prog.at(bar * 4 + pos + 0.01)
            song.chord(
                "skank",
                skank,
                bar * 4 + pos,
                0.25,
                _voicing(root, _CHORDS[qual], 60, 76, 67.0),
                0.9,
                strum=0.003,
            )
        for k in range(4):
            beat = bar * 4 + k + 0.5
            root, qual, _, _ = prog.at(beat + 0.01)
            song.chord("organ", organ, beat, 0.3, _voicing(root, _CHORDS[qual], 55, 70, 62.0), 0.5)
        for pos, dur, iv in riff:
            beat = bar * 4 + pos
            root, qual, _, _ = prog.at(beat + 0.01)
            if qual == "min" and iv == 4:
                iv = 3
            song.note("bass", bass, beat, dur, _nearest_pc(root, 36, 28, 40) + iv, 1.0)
    d1 = int(round(0.75 * song.spb * sr))
    dub = lambda x: x + 0.4 * _shift(x, d1) + 0.16 * _shift(x, 2 * d1)  # noqa: E731
    levels = {"drums": 0.75, "bass": 0.85, "skank": 0.4, "organ": 0.25}
    audio = _finish(
        song,
        levels,
        sends={"skank": 0.25, "drums": 0.15, "organ": 0.2},
        rt60=1.2,
        proc={"skank": dub, "organ": lambda x: _bfilt(x, sr, "lowpass", 3000.0)},
        limit=1.3,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi, swing=swing)


def _pop(rng, sr, n):
    tempo = rng.uniform(96.0, 128.0)
    song = _Song(rng, sr, n, tempo, jitter=0.002)
    key = int(rng.integers(12))
    progs = [
        [(0, "maj", 4), (7, "maj", 4), (9, "min", 4), (5, "maj", 4)],
        [(9, "min", 4), (5, "maj", 4), (0, "maj", 4), (7, "maj", 4)],
        [(0, "maj", 4), (9, "min", 4), (5, "maj", 4), (7, "maj", 4)],
        [(5, "maj", 4), (0, "maj", 4), (7, "maj", 4), (9, "min", 4)],
    ]
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 52), decay=0.3, punch=2.5, click=0.4), 1.0),
        "snare": (_snare(sr, rng, tone=_vary(rng, 200), decay=0.15), 0.7),
        "clap": (_clap(sr, rng), 0.5),
        "hat": (_hat(sr, rng, decay=0.04, cut=7500.0), 0.35),
    }
    bass = _Synth(
        sr,
        rng,
        kind="saw",
        cap=16,
        attack=0.004,
        decay=0.4,
        sustain=0.5,
        release=0.03,
        fenv=0.1,
        dull_kind="soft",
        dull_cap=3,
    )
    piano = rng.random() < 0.5
    if piano:
        keys = _Synth(
            sr, rng, kind="piano", cap=30, attack=0.002, decay=1.5, keytrack=0.5, fenv=0.3, release=0.1
        )
    else:
        keys = _Synth(sr, rng, kind="saw", cap=30, detune=(-10.0, 0.0, 9.0), attack=0.08, release=0.3)
    lead = _Synth(
        sr,
        rng,
        kind=str(rng.choice(["square", "reed"])),
        cap=24,
        detune=(0.0, 6.0),
        attack=0.01,
        decay=0.6,
        sustain=0.6,
        release=0.08,
        vib_rate=5.5,
        vib_cents=12.0,
        vib_delay=0.2,
    )
    for bar in song.bars():
        song.pattern(
            "drums",
            kit,
            bar,
            {
                "kick": "X.......X.x.....",
                "snare": "....X.......X...",
                "clap": "....X.......X...",
                "hat": "x.x.x.x.x.x.x.x.",
            },
        )
        for i in range(8):
            beat = bar * 4 + i * 0.5
            root, _, _, _ = prog.at(beat + 0.01)
            song.note("bass", bass, beat, 0.45, _nearest_pc(root, 36, 31, 43), 1.0 if i % 2 == 0 else 0.8)
        root, qual, _, _ = prog.at(bar * 4 + 0.01)
        voice = _voicing(root, _CHORDS[qual] + (12,), 55, 76, 64.0)
        if piano:
            for k in range(4):
                song.chord("keys", keys, bar * 4 + k, 0.9, voice, 0.7 if k % 2 else 0.85, strum=0.004)
        else:
            song.chord("keys", keys, bar * 4, 3.95, voice, 0.6)
    rhythms = [[1.0, 0.5, 0.5, 1.0, 1.0], [0.5, 0.5, 1.0, 2.0], [-1.0, 0.5, 0.5, 1.0, 1.0], [1.5, 0.5, 2.0]]
    for beat, dur, m, v in _melody(
        song, prog, rng, _MAJOR_PENTA, key, 64, 81, rhythms, rest_p=0.1, repeat_p=0.85
    ):
        song.note("lead", lead, beat, dur * 0.9, m, v)
    levels = {"drums": 0.85, "bass": 0.6, "keys": 0.4, "lead": 0.45}
    audio = _finish(
        song,
        levels,
        sends={"keys": 0.25, "lead": 0.3, "drums": 0.1},
        rt60=1.1,
        proc={
            "keys": lambda x: _bfilt(x, sr, "lowpass", 5000.0),
            "lead": lambda x: _bfilt(x, sr, "lowpass", 5000.0),
        },
        limit=1.2,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi)


def _country(rng, sr, n):
    tempo = rng.uniform(100.0, 140.0)
    song = _Song(rng, sr, n, tempo, jitter=0.005)
    key = int(rng.integers(12))
    progs = [
        [(0, "maj", 4), (5, "maj", 4), (0, "maj", 4), (7, "maj", 4)],
        [(0, "maj", 8), (5, "maj", 8), (7, "maj", 8), (0, "maj", 8)],
        [(0, "maj", 4), (7, "maj", 4), (5, "maj", 4), (0, "maj", 4)],
        [(0, "maj", 4), (0, "7", 4), (5, "maj", 4), (7, "7", 4)],
    ]
    pi = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[pi])
    kit = {
        "kick": (_kick(sr, rng, f0=_vary(rng, 58), decay=0.2, punch=1.5, click=0.2), 0.7),
        "snare": (_snare(sr, rng, tone=_vary(rng, 220), decay=0.1, snap=1.0, lo=2000.0), 0.45),
        "shaker": (_shaker(sr, rng), 0.3),
    }
    bass = _Synth(sr, rng, kind="upright", cap=8, attack=0.005, decay=0.4, sustain=0.1, release=0.04)
    gtr = _Synth(
        sr,
        rng,
        kind="pluck",
        cap=60,
        attack=0.001,
        decay=rng.uniform(0.6, 1.2),
        keytrack=0.4,
        fenv=rng.uniform(0.08, 0.2),
        release=0.08,
    )
    fiddle_mode = rng.random() < 0.5
    if fiddle_mode:
        lead = _Synth(
            sr,
            rng,
            kind="saw",
            cap=40,
            detune=(0.0, 5.0),
            attack=0.04,
            release=0.12,
            vib_rate=6.0,
            vib_cents=25.0,
            vib_delay=0.12,
        )
    else:
        lead = _Synth(sr, rng, kind="pluck", cap=60, attack=0.001, decay=0.3, fenv=0.05, release=0.03)
    for bar in song.bars():
        song.pattern(
            "drums",
            kit,
            bar,
            {"kick": "X.......X.......", "snare": "g.o.X.o.g.o.X.o.", "shaker": "x.o.x.o.x.o.x.o."},
        )
        for k in range(4):
            beat = bar * 4 + k
            root, qual, _, _ = prog.at(beat + 0.01)
            if k % 2 == 0:  # boom: alternating root / fifth
                iv = 0 if (bar * 2 + k // 2) % 2 == 0 else 7
                song.note("bass", bass, beat, 0.9, _nearest_pc((root + iv) % 12, 38, 31, 45), 1.0)
            else:  # chick: bright strum
                shape = (0, 7, 12, 16, 19, 24) if qual == "maj" else (0, 7, 10, 16, 19, 24)
                voice = _voicing(root, shape, 47, 76, 60.0)
                song.chord("gtr", gtr, beat, 0.45, voice, 0.8, strum=0.012)
                if rng.random() < 0.5:
                    song.chord("gtr", gtr, beat + 0.5, 0.4, voice[-4:], 0.5, strum=0.008, up=True)
    if fiddle_mode:
        rhythms = [[1.0, 1.0, 2.0], [0.5, 0.5, 1.0, 2.0], [2.0, 1.0, 1.0], [1.0, 0.5, 0.5, 1.0, 1.0]]
        for beat, dur, m, v in _melody(
            song, prog, rng, _MAJOR_PENTA, key, 64, 86, rhythms, rest_p=0.2, repeat_p=0.5
        ):
            song.note("lead", lead, beat, dur, m, v)
    else:  # banjo forward roll
        roll = [0, 1, 2, 0, 1, 2, 0, 2]
        for bar in song.bars():
            if (bar // 2) % 2:
                continue
            for i in range(16):
                beat = bar * 4 + i * 0.25
                root, qual, _, _ = prog.at(beat + 0.01)
                tones = sorted(_voicing(root, _CHORDS[qual][:3], 67, 81, 74.0))
                song.note("lead", lead, beat, 0.3, tones[roll[i % 8]], 0.8 if i % 3 == 0 else 0.6)
    levels = {"drums": 0.6, "bass": 0.75, "gtr": 0.55, "lead": 0.4}
    audio = _finish(
        song,
        levels,
        sends={"gtr": 0.2, "lead": 0.3, "drums": 0.1},
        rt60=1.0,
        proc={"gtr": lambda x: _bfilt(x, sr, "highpass", 120.0)},
        limit=1.4,
    )
    return audio, dict(tempo=song.tempo, key=key, progression=pi, fiddle=fiddle_mode)


_GENRE_RENDERERS = {
    "blues": _blues,
    "classical": _classical,
    "country": _country,
    "disco": _disco,
    "hiphop": _hiphop,
    "jazz": _jazz,
    "metal": _metal,
    "pop": _pop,
    "reggae": _reggae,
    "rock": _rock,
}
assert tuple(sorted(_GENRE_RENDERERS)) == TOY_GENRES
