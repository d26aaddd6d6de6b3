"""Toy renderers for rock, metal, pop and country: straight-eighths bands led by guitars or keys.

Rock and metal share ``_power_guitar`` (palm-muted chugs against open power
chords) and run it through amp distortion; pop and country keep it clean.
"""

from __future__ import annotations

from genrevae.toy.drums import _clap, _cymbal, _hat, _kick, _shaker, _snare, _tom, _vary
from genrevae.toy.dsp import _bfilt
from genrevae.toy.instruments import _Synth
from genrevae.toy.lines import _melody
from genrevae.toy.mixing import _distort, _finish
from genrevae.toy.song import _Song
from genrevae.toy.theory import _CHORDS, _MAJOR_PENTA, _Prog, _nearest_pc, _voicing


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index, drive=drive)


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
    prog_index = int(rng.integers(len(riffs)))
    prog = _Prog(key, riffs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index, drive=drive)


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index)


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index, fiddle=fiddle_mode)
