#!/usr/bin/env python
"""How many of a genre's notes can the decoder's spectral head carry at all?  An oracle, no training.

    python benchmarks/istft_ceiling.py --genre-dir results/jazz
    python benchmarks/istft_ceiling.py --genre-dir results/jazz --genre-dir results/classical --n-ffts 128,256,512

The iSTFT head (`genrevae.istft`, `model.conv.istft_n_fft`) predicts a log-magnitude and a phase
per bin of an `n_fft`-point STFT every `hop` samples.  With bins wider than a semitone (at 3 kHz
and 128 points they are 23 Hz apart: every semitone below ~400 Hz), a note's exact pitch is not
in the magnitudes but in how the phase turns from frame to frame, which a decoder trained without
an adversary predicts only roughly.  This script puts the genre's real *test* clips through that
head's own representation, perfect magnitudes and degraded phases, and measures the result with
the quality stage's measures (`genrevae.quality.generation_quality`: Frechet-MFCC, segment and note
ratios against the same floors, 1 = as close to the test clips as the real train clips are):

- `exact`: magnitudes and phases kept (the STFT/iSTFT pair is exact: every ratio ~0);
- `phase noise s`: every bin's phase moved by Gaussian noise of `s` radians, independently per
  frame: a decoder whose phases are right to within `s`;
- `griffin-lim`: the phases forgotten and re-estimated from the magnitudes alone (librosa's
  `griffinlim`, 32 iterations): the best a decoder does whose magnitudes are perfect and whose
  phases are merely consistent with them.

A size whose `griffin-lim` and `phase noise` rows keep the note ratio near 0 carries notes in its
magnitudes; a size where they rise towards the trained decoder's own reconstruction ratio
(`generation_quality.json`, `controls.reconstructions`) limits it.  A script, not a test: it
prints a table (and writes `--json`), and never fails for a result.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def through_stft(clips: np.ndarray, n_fft: int, hop: int, phase_noise: float | None, seed: int) -> np.ndarray:
    """``clips`` through an ``n_fft``-point Hann STFT and back; ``phase_noise`` None = Griffin-Lim
    from the magnitudes alone, else that many radians of Gaussian phase noise (0 = exact)."""
    import librosa

    rng = np.random.default_rng(seed)
    out = []
    for x in np.asarray(clips, np.float32):
        spectrum = librosa.stft(x, n_fft=n_fft, hop_length=hop, window="hann", center=True)
        magnitude = np.abs(spectrum)
        if phase_noise is None:
            y = librosa.griffinlim(magnitude, n_iter=32, hop_length=hop, n_fft=n_fft, window="hann", length=len(x), random_state=seed)
        else:
            phase = np.angle(spectrum) + phase_noise * rng.standard_normal(spectrum.shape)
            y = librosa.istft(magnitude * np.exp(1j * phase), hop_length=hop, n_fft=n_fft, window="hann", length=len(x))
        out.append(y.astype(np.float32))
    return np.stack(out)


def variants(n_ffts: list[int], phase_noises: list[float]) -> list[tuple[int, str, float | None]]:
    """``(n_fft, label, phase_noise)`` rows: exact, each noise level, Griffin-Lim, per size."""
    rows = []
    for n_fft in n_ffts:
        rows.append((n_fft, "exact", 0.0))
        rows += [(n_fft, f"phase noise {s:g}", float(s)) for s in phase_noises if s > 0]
        rows.append((n_fft, "griffin-lim", None))
    return rows


def measure_genre(genre_dir: Path, n_ffts: list[int], hop: int, phase_noises: list[float], sample_rate: int, seed: int) -> list[dict[str, Any]]:
    from genrevae.artifacts.shard import read_shard
    from genrevae.artifacts.split import read_split
    from genrevae.quality import generation_quality

    clips = read_shard(genre_dir / "data" / "clips.npy")
    split = read_split(genre_dir / "data" / "split.csv", len(clips))
    train, test = clips[split.train], clips[split.test]
    rows = variants(n_ffts, phase_noises)
    controls = {f"{n_fft} {label}": through_stft(test, n_fft, hop, noise, seed) for n_fft, label, noise in rows}
    quality = generation_quality(test, train, test, sample_rate, None, controls)
    measured = []
    for (n_fft, label, noise), name in zip(rows, controls):
        c = quality["controls"][name]
        measured.append({"genre_dir": str(genre_dir), "n_fft": n_fft, "hop": hop, "bin_hz": sample_rate / n_fft, "variant": label,
                         "phase_noise": noise, "ratio": c["ratio"], "segment_ratio": c["segment_ratio"], "note_ratio": c["note_ratio"]})  # fmt: skip
    return measured


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| genre | n_fft (bin) | phases | MFCC ratio | segment ratio | note ratio |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {Path(r['genre_dir']).name} | {r['n_fft']} ({r['bin_hz']:.1f} Hz) | {r['variant']} | "
                     f"{r['ratio']:.2f} | {r['segment_ratio']:.2f} | {r['note_ratio']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genre-dir", type=Path, action="append", required=True, help="a genre folder with data/clips.npy and data/split.csv (repeatable)")
    parser.add_argument("--n-ffts", default="128,256,512", help="comma-separated FFT sizes (default: %(default)s)")
    parser.add_argument("--hop", type=int, default=32, help="samples per frame, the head's istft_hop (default: %(default)s)")
    parser.add_argument("--phase-noises", default="0.3,1.0", help="comma-separated radians (default: %(default)s)")
    parser.add_argument("--sample-rate", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    n_ffts = [int(v) for v in args.n_ffts.split(",")]
    noises = [float(v) for v in args.phase_noises.split(",") if v.strip()]
    for genre_dir in args.genre_dir:
        for name in ("clips.npy", "split.csv"):
            if not (genre_dir / "data" / name).is_file():
                parser.error(f"--genre-dir {genre_dir}: no data/{name}; build it first, e.g. snakemake --cores 2 results/<genre>/data/split.csv")
    rows = [r for genre_dir in args.genre_dir for r in measure_genre(genre_dir, n_ffts, args.hop, noises, args.sample_rate, args.seed)]
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"argv": sys.argv[1:], "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
