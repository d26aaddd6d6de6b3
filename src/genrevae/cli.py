"""The `genrevae` command: one subcommand per workflow stage, each a thin shell over the package.

Heavy modules (TensorFlow, librosa) are imported inside the subcommands that need them, so the
data stages start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from genrevae.config import ConfigError
from genrevae.data import DataError

log = logging.getLogger("genrevae")


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc


def cmd_toy(args: argparse.Namespace) -> None:
    from genrevae.toy import write_toy_genre

    for genre in args.genre:
        paths = write_toy_genre(
            args.out, genre, args.clips, args.seed, args.sample_rate, args.duration
        )
        log.info("wrote %d toy clips of genre %s under %s", len(paths), genre, args.out / genre)


def cmd_index(args: argparse.Namespace) -> None:
    from genrevae.data import index_genre
    from genrevae.files import write_csv

    table = index_genre(args.files, args.min_seconds, args.threads)
    write_csv(table, args.out)
    n_ok = int((table["status"] == "ok").sum())
    log.info("genre %s: %d files, %d usable, %d rejected", args.genre, len(table), n_ok, len(table) - n_ok)


def cmd_shard(args: argparse.Namespace) -> None:
    from genrevae.data import build_shard
    from genrevae.files import write_csv, write_npy

    index = pd.read_csv(args.index, keep_default_na=False)
    shard, tracks = build_shard(
        index, args.genre, args.sample_rate, args.n_samples, args.offset_seconds, args.threads
    )
    write_npy(shard, args.out_shard)
    write_csv(tracks, args.out_tracks)
    padded = int((tracks["padded_samples"] > 0).sum())
    log.info(
        "genre %s: shard %s of shape %s at %d Hz (%d clips zero-padded)",
        args.genre, args.out_shard, shard.shape, args.sample_rate, padded,
    )  # fmt: skip


def cmd_split(args: argparse.Namespace) -> None:
    from genrevae.data import split_table, split_tracks
    from genrevae.files import write_csv

    tracks = pd.read_csv(args.tracks, keep_default_na=False)
    assignment = split_tracks(
        tracks["track"].tolist(),
        seed=args.seed,
        test_fraction=args.test_fraction,
        test_count=args.test_count,
        lists=args.lists,
        genre=args.genre,
    )
    table = split_table(tracks, assignment)
    write_csv(table, args.out)
    counts = table["subset"].value_counts().to_dict()
    log.info("genre %s: split %s", args.genre, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


def cmd_train(args: argparse.Namespace) -> None:
    from genrevae.training import configure_threads, train_genre

    configure_threads(args.threads)
    train_genre(args.shard, args.split, args.out_dir, args.settings, args.threads, log)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genrevae.files import write_text
    from genrevae.evaluation import evaluate_genre
    from genrevae.training import configure_threads

    configure_threads(args.threads)
    metrics = evaluate_genre(args.model, args.shard, args.split, args.settings, args.threads)
    write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", args.out)
    test = metrics["test"]
    log.info(
        "test ELBO %.1f nats per clip (%.4f bits/sample), IWAE %.1f, SNR %.2f dB",
        test["elbo_nats"], test["elbo_bits_per_sample"], test["iwae_nats"], test["snr_db"],
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrevae", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    toy = commands.add_parser("toy", help="synthesise the embedded toy dataset")
    toy.add_argument("--out", type=Path, required=True, help="dataset folder (genre subfolders)")
    toy.add_argument("--genre", nargs="+", required=True)
    toy.add_argument("--clips", type=int, default=10)
    toy.add_argument("--seed", type=int, default=0)
    toy.add_argument("--sample-rate", type=int, default=22050)
    toy.add_argument("--duration", type=float, default=30.0)
    toy.set_defaults(func=cmd_toy)

    index = commands.add_parser("index", help="stage 1: index one genre's files")
    index.add_argument("--genre", required=True)
    index.add_argument("--min-seconds", type=float, required=True)
    index.add_argument("--threads", type=int, default=1)
    index.add_argument("--out", type=Path, required=True)
    index.add_argument("files", type=Path, nargs="*")
    index.set_defaults(func=cmd_index)

    shard = commands.add_parser("shard", help="stage 2: resample one genre into an NPY shard")
    shard.add_argument("--genre", required=True)
    shard.add_argument("--index", type=Path, required=True)
    shard.add_argument("--sample-rate", type=int, required=True)
    shard.add_argument("--n-samples", type=int, required=True)
    shard.add_argument("--offset-seconds", type=float, default=0.0)
    shard.add_argument("--threads", type=int, default=1)
    shard.add_argument("--out-shard", type=Path, required=True)
    shard.add_argument("--out-tracks", type=Path, required=True)
    shard.set_defaults(func=cmd_shard)

    split = commands.add_parser("split", help="stage 3: train/test split of one genre")
    split.add_argument("--genre", required=True)
    split.add_argument("--tracks", type=Path, required=True)
    split.add_argument("--seed", type=int, required=True)
    split.add_argument("--test-fraction", type=float)
    split.add_argument("--test-count", type=int)
    split.add_argument("--lists", type=_json_arg, help='JSON {"train": [...], "test": [...]}')
    split.add_argument("--out", type=Path, required=True)
    split.set_defaults(func=cmd_split)

    train = commands.add_parser("train", help="train one genre's VAE (resumes from checkpoints)")
    train.add_argument("--shard", type=Path, required=True)
    train.add_argument("--split", type=Path, required=True)
    train.add_argument("--out-dir", type=Path, required=True)
    train.add_argument("--settings", type=_json_arg, required=True, help="JSON: seed, sample_rate, model, train")
    train.add_argument("--threads", type=int, default=1)
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser("evaluate", help="ELBO, IWAE, KL and reconstruction metrics")
    evaluate.add_argument("--model", type=Path, required=True)
    evaluate.add_argument("--shard", type=Path, required=True)
    evaluate.add_argument("--split", type=Path, required=True)
    evaluate.add_argument("--settings", type=_json_arg, required=True)
    evaluate.add_argument("--threads", type=int, default=1)
    evaluate.add_argument("--out", type=Path, required=True)
    evaluate.set_defaults(func=cmd_evaluate)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except (ConfigError, DataError) as exc:
        log.error("%s", exc)
        return 1
    return 0
