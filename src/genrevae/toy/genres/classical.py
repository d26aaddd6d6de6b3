"""Toy renderer for classical music: bowed strings, sometimes a harp, no drums, long reverb."""

from __future__ import annotations

import numpy as np

from genrevae.toy.dsp import _bfilt
from genrevae.toy.instruments import _Synth
from genrevae.toy.lines import _melody
from genrevae.toy.mixing import _finish
from genrevae.toy.song import _Song
from genrevae.toy.theory import _CHORDS, _HARMONIC_MINOR, _MAJOR, _Prog, _nearest_pc, _voicing


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index, minor=minor, arpeggio=arpeggio)
