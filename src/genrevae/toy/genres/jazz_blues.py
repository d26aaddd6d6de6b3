"""Toy renderers for jazz and blues: swung, 7th-chord harmony and a bass that walks or boogies."""

from __future__ import annotations

import numpy as np

from genrevae.toy.drums import _cymbal, _hat, _kick, _snare, _vary
from genrevae.toy.dsp import _bfilt
from genrevae.toy.instruments import _Bell, _EPiano, _Synth
from genrevae.toy.lines import _melody, _walking_bass
from genrevae.toy.mixing import _distort, _finish
from genrevae.toy.song import _Song
from genrevae.toy.theory import _BLUES_SCALE, _DORIAN, _MAJOR, _ROOTLESS, _Prog, _nearest_pc, _voicing


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
        scale = _MAJOR if progs[prog_index][-1][1] != "m9" else _DORIAN
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index, swing=swing, lead=lead_kind)


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
