"""Toy renderers for disco, hip-hop and reggae: a repeating drum groove locked to a bass riff."""

from __future__ import annotations

import numpy as np

from genrevae.toy.drums import _clap, _hat, _kick, _rim, _snare, _vary
from genrevae.toy.dsp import _bfilt, _noise, _shift
from genrevae.toy.instruments import _Bell, _EPiano, _Synth
from genrevae.toy.lines import _melody
from genrevae.toy.mixing import _finish
from genrevae.toy.song import _Song
from genrevae.toy.theory import _CHORDS, _MINOR_PENTA, _ROOTLESS, _Prog, _nearest_pc, _voicing


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index)


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index, swing=swing)


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
    prog_index = int(rng.integers(len(progs)))
    prog = _Prog(key, progs[prog_index])
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
    return audio, dict(tempo=song.tempo, key=key, progression=prog_index, swing=swing)
