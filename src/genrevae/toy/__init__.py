"""Deterministic toy music generator that writes a GTZAN-shaped dataset.

The real GTZAN corpus cannot be shipped with the pipeline, so tests, the smoke
workflow and the benchmark suite use this synthesiser instead.  It writes

    <out_dir>/<genre>/<genre>.00000.wav, <genre>.00001.wav, ...

as 22,050 Hz mono 16-bit PCM WAV files of 30 s each (by default: the config
schema's ``toy.sample_rate`` and ``toy.duration``), exactly like GTZAN.  Every clip is a short excerpt of a little arranged "song": a chord
progression in a random key and tempo, played by a genre-typical band made of
simple vectorised synthesisers (wavetable oscillators, FM electric piano,
synthetic drum kit), mixed with a convolution reverb and mastered to a peak
of roughly 0.8-0.9.

All randomness of a clip comes from a ``numpy.random.SeedSequence`` built from
``(seed, crc32(genre), index)``, so a clip's samples depend only on those three
values (and on the sample rate and duration): not on how many clips are
generated, nor on which other genres are.  The same arguments always give
byte-identical files on the same platform and library versions.

This module is the public API (file names, synthesis, writing, argument checks
and seeding).  The synthesiser behind it is split by concern, each module
building on the ones above it:

- ``theory``: chords, scales, voicings and looping chord progressions;
- ``dsp``: wavetables, fixed-point phase accumulators, filters, buffer helpers;
- ``instruments``: the pitched voices (wavetable synth, FM electric piano, bell);
- ``drums``: one-shot drum samples (kick, snare, hats, cymbals, ...);
- ``song``: a clip's timeline (beats to samples, swing, humanisation) and buses;
- ``mixing``: reverb, amp distortion and the final mix and master;
- ``lines``: melody and walking-bass generators shared by several genres;
- ``genres``: one renderer per genre, grouped by family, and the table of them.

Everything below this module is private: only the names in ``__all__`` are API.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from genrevae.config import section
from genrevae.files import atomic_path
from genrevae.toy.genres import GENRE_RENDERERS

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

_TOY = section("toy")  # the schema's defaults of the `toy` config section, read once

DEFAULT_TOY_GENRES: tuple[str, ...] = tuple(_TOY["genres"])
"""The genres used by the default pipeline configuration (the schema's ``toy.genres``)."""


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
    sample_rate: int = _TOY["sample_rate"],
    duration: float = _TOY["duration"],
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
    sample_rate: int = _TOY["sample_rate"],
    duration: float = _TOY["duration"],
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


def _check_genre(genre: str) -> None:
    if genre not in GENRE_RENDERERS:
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
    audio, info = GENRE_RENDERERS[genre](rng, sample_rate, n)
    info["genre"] = genre
    return audio, info


def _atomic_write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    with atomic_path(path) as tmp:
        sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")


# every supported genre has a renderer and vice versa
assert tuple(sorted(GENRE_RENDERERS)) == TOY_GENRES
