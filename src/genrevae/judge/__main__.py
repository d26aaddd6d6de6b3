"""``python -m genrevae.judge [GENRE ...]``: what musicnn hears in toy clips, full band and at 3 kHz.

For each toy genre, a few clips are synthesised at 22,050 Hz (as ``genrevae toy`` writes
them) and band-limited to the project's 3 kHz the way the pipeline prepares them (soxr HQ);
both versions go through :func:`genrevae.judge.judge` (which resamples to musicnn's 16 kHz),
and the top tags of each model are printed with their mean probabilities.  The band-limited
line is what the judge can hear of a real clip of the genre in this project: if it has lost
the genre, the judge's verdict on generated clips of that genre means little.
"""

from __future__ import annotations

import argparse

import numpy as np

from genrevae.judge.tags import TAGS
from genrevae.judge.verdict import judge
from genrevae.toy import DEFAULT_TOY_GENRES, TOY_GENRES, synthesize_clip

_TOY_RATE = 22050


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m genrevae.judge", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "genres", nargs="*", metavar="GENRE",
        help=f"toy genres, of {', '.join(TOY_GENRES)} (default: {', '.join(DEFAULT_TOY_GENRES)})",
    )  # fmt: skip
    parser.add_argument("--clips", type=int, default=3, help="toy clips per genre (default 3)")
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length (default 30 s, 10 patches)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=int, default=3000, help="the band-limited version's sample rate (default 3000)")
    parser.add_argument("--top", type=int, default=5, help="tags printed per line (default 5)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.genres) - set(TOY_GENRES))
    if unknown:
        parser.error(f"unknown toy genres {unknown}")

    import soxr

    for genre in args.genres or DEFAULT_TOY_GENRES:
        full = [synthesize_clip(genre, i, args.seed, _TOY_RATE, args.seconds) for i in range(args.clips)]
        band = [np.asarray(soxr.resample(x, _TOY_RATE, args.rate, quality="HQ"), np.float32) for x in full]
        versions = (("full band", full, _TOY_RATE), (f"{args.rate / 1000:g} kHz", band, args.rate))
        for model in TAGS:
            for label, clips, rate in versions:
                top = ", ".join(f"{tag} {p:.2f}" for tag, p in judge(clips, rate, model).top_tags(args.top))
                print(f"{genre:<10} {model:<12} {label:<9} {top}", flush=True)


if __name__ == "__main__":
    main()
