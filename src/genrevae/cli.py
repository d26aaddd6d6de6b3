"""The `genrevae` command: one subcommand per workflow stage, each a thin shell over the package.

Heavy modules (the Keras backend, librosa) are imported inside the subcommands that need them, so the
data stages start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from genrevae.artifacts import ArtifactError
from genrevae.audio import AudioError
from genrevae.config import STAGE_SECTIONS, ConfigError, section, stage_sections
from genrevae.prepare import DataError

if TYPE_CHECKING:
    from genrevae.artifacts.trained_genre import TrainedGenre

log = logging.getLogger("genrevae")
_LOADED_AT = time.monotonic()


def seconds_since_process_start() -> float:
    """Wall time since this process started: from the kernel on Linux, else since this module loaded."""
    try:
        # Field 22 of /proc/self/stat is the start time in clock ticks since boot (CLOCK_BOOTTIME).
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _LOADED_AT


#: Finds the start-up time a job logged (benchmarks/bench.py sums them over the model jobs).
STARTUP_LOG_PATTERN = re.compile(r"start-up took ([0-9.]+) s")


def _start_backend(threads: int) -> None:
    """Pin the Keras backend to `threads`, then log the job's start-up time (see STARTUP_LOG_PATTERN)."""
    from genrevae.backend import configure_threads

    configure_threads(threads)
    log.info("start-up took %.2f s (interpreter, imports, backend set-up)", seconds_since_process_start())


class _Terminated(BaseException):
    """Raised in the main thread when the process gets SIGTERM.  A BaseException, as
    KeyboardInterrupt is: library code that catches Exception (Keras wraps what a layer's call
    raises, ``inspect`` turns it into TypeError) must not swallow or rename it."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated()


def _positive_int(text: str) -> int:
    """An integer >= 1 (thread and clip counts): 0 or -2 is refused by argparse with one line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc


def cmd_toy(args: argparse.Namespace) -> None:
    from genrevae.toy import write_toy_genre

    defaults = section("toy")
    clips = defaults["clips_per_genre"] if args.clips is None else args.clips
    seed = defaults["seed"] if args.seed is None else args.seed
    sample_rate = defaults["sample_rate"] if args.sample_rate is None else args.sample_rate
    duration = defaults["duration"] if args.duration is None else args.duration
    for genre in args.genre:
        paths = write_toy_genre(args.out, genre, clips, seed, sample_rate, duration)
        log.info("wrote %d toy clips of genre %s under %s", len(paths), genre, args.out / genre)


def cmd_prepare(args: argparse.Namespace) -> None:
    from genrevae.artifacts.index import write_index
    from genrevae.artifacts.shard import write_shard
    from genrevae.artifacts.tracks import write_tracks
    from genrevae.prepare import prepare_genre

    index, shard, tracks = prepare_genre(
        args.files, args.genre, args.min_seconds, args.sample_rate, args.n_samples, args.offset_seconds, args.threads
    )
    write_index(index, args.out_index)
    write_shard(shard, args.out_shard)
    write_tracks(tracks, args.out_tracks)
    n_ok, padded = len(tracks), int((tracks["padded_samples"] > 0).sum())
    copies, flagged = int((index["duplicate_of"] != "").sum()), int((index["warning"] != "").sum())
    log.info(
        "genre %s: %d files, %d usable, %d rejected (%d byte-identical copies), %d flagged (index.csv column warning); "
        "shard %s of shape %s at %d Hz (%d clips zero-padded)",
        args.genre, len(index), n_ok, len(index) - n_ok, copies, flagged, args.out_shard, shard.shape, args.sample_rate,
        padded,
    )  # fmt: skip


def cmd_split(args: argparse.Namespace) -> None:
    from genrevae.artifacts.split import write_split
    from genrevae.artifacts.tracks import read_tracks
    from genrevae.split import split_table, split_tracks

    tracks = read_tracks(args.tracks)
    assignment = split_tracks(
        tracks["track"].tolist(),
        seed=args.seed,
        test_fraction=args.test_fraction,
        test_count=args.test_count,
        lists=args.lists,
        genre=args.genre,
        sha256=tracks["sha256"].astype(str).tolist(),
    )
    table = split_table(tracks, assignment)
    write_split(table, args.out)
    counts = table["subset"].value_counts().to_dict()
    log.info("genre %s: split %s", args.genre, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


def cmd_train(args: argparse.Namespace) -> None:
    from genrevae.train import train_genre

    _start_backend(args.threads)
    train_genre(args.shard, args.split, args.out_dir, args.settings, args.threads, log)


def _trained_genre(folder: Path, need_prior: bool) -> TrainedGenre:
    """The :class:`~genrevae.artifacts.trained_genre.TrainedGenre` a model job was given
    (``--genre-dir``), checked before the backend starts: its model is there and, with
    ``need_prior``, its learned prior.  A missing file is named with what writes it, and a
    ``model/`` or ``prior/`` subfolder given for the genre folder says so."""
    from genrevae.artifacts.trained_genre import TrainedGenre

    genre = TrainedGenre(folder)
    parent = genre.enclosing_genre()
    if parent is not None:
        raise ConfigError(f"{folder}: give the genre folder {parent.path}, not its {genre.name}/ subfolder")
    if not genre.model_file.is_file():
        raise ConfigError(
            f"{folder}: no trained model ({genre.model_file} is missing); give a genre folder (results/<genre>) "
            f"and train it first (snakemake --cores 4 {genre.model_file})"
        )
    if need_prior and not genre.prior_file.is_file():
        raise ConfigError(
            f"{folder}: no learned prior ({genre.prior_file} is missing); fit it first (snakemake --cores 4 {genre.prior_file})"
        )
    return genre


def _fitted_prior(genre: TrainedGenre) -> Path | None:
    """The genre's ``prior.keras`` if it has been fitted (evaluate and export then report on it
    too), else None (N(0, I) only); logged either way, so a log says which was used."""
    if genre.prior_file.is_file():
        log.info("learned prior: %s", genre.prior_file)
        return genre.prior_file
    log.info("no learned prior (%s is missing): N(0, I) only", genre.prior_file)
    return None


def cmd_prior(args: argparse.Namespace) -> None:
    from genrevae.prior import fit_prior_files

    genre = _trained_genre(args.genre_dir, need_prior=False)
    out_dir = genre.prior_dir if args.out_dir is None else args.out_dir
    _start_backend(args.threads)
    result = fit_prior_files(genre.model_file, args.shard, args.split, out_dir, args.settings, log)
    test = result["report"]["test"]
    log.info(
        "prior fitted in %.1f s; test NLL per latent frame: N(0, I) %.2f, VAR(%d) %.2f, learned %.2f nats",
        result["fit_seconds"], test["standard_normal"]["nll_per_frame"], result["var_order"],
        test["var"]["nll_per_frame"], test["learned"]["nll_per_frame"],
    )  # fmt: skip


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genrevae.artifacts.reports import write_report
    from genrevae.evaluate import evaluate_genre

    genre = _trained_genre(args.genre_dir, need_prior=False)
    prior = _fitted_prior(genre)
    _start_backend(args.threads)
    metrics = evaluate_genre(genre.model_file, args.shard, args.split, args.settings, args.threads, prior)
    write_report(metrics, genre.metrics_file if args.out is None else args.out)
    test = metrics["test"]
    log.info(
        "test ELBO %.1f nats per clip (%.4f bits/sample), IWAE %.1f, SNR %.2f dB",
        test["elbo_nats"], test["elbo_bits_per_sample"], test["iwae_nats"], test["snr_db"],
    )  # fmt: skip


def cmd_figures(args: argparse.Namespace) -> None:
    from genrevae.figures import make_figures

    genre = _trained_genre(args.genre_dir, need_prior=True)
    _start_backend(args.threads)
    paths = make_figures(genre, args.shard, args.split, args.genre, args.settings)
    log.info("genre %s: wrote %s", args.genre, ", ".join(str(p) for p in paths.values()))


def cmd_quality(args: argparse.Namespace) -> None:
    from genrevae.artifacts.reports import write_report
    from genrevae.quality import quality_genre_files

    genre = _trained_genre(args.genre_dir, need_prior=True)
    _start_backend(args.threads)
    measured = quality_genre_files(genre.model_file, genre.prior_file, args.shard, args.split, args.settings)
    result = {"genre": args.genre, **measured}
    write_report(result, genre.quality_file if args.out is None else args.out)
    log.info(
        "genre %s: Frechet MFCC distance generated-test %.4g, train-test (floor) %.4g, ratio %.3g",
        args.genre, result["frechet_generated_test"], result["frechet_train_test"], result["ratio"],
    )  # fmt: skip


def cmd_judge(args: argparse.Namespace) -> None:
    from genrevae.artifacts.reports import write_report
    from genrevae.judge.genre_report import judge_genre_files
    from genrevae.judge.weights import checkpoint_prefix

    judge = args.settings["judge"]
    for model in {judge["embedding_model"], *judge["tag_models"]}:
        checkpoint_prefix(model)  # the weights are installed: one line naming the pip command, before any work
    genre = _trained_genre(args.genre_dir, need_prior=True)
    _start_backend(args.threads)
    result = judge_genre_files(args.genre, genre.model_file, genre.prior_file, args.shard, args.split, args.settings)
    write_report(result, genre.judge_file if args.out is None else args.out)
    embedding, verdict = result["embedding"], result["verdict"]
    log.info(
        "genre %s: musicnn embedding Frechet generated-test %.4g, train-test (floor) %.4g, ratio %.3g; "
        "real test clips judged %s: %s; generated clips judged %s: %s",
        args.genre, embedding["frechet_generated_test"], embedding["frechet_train_test"], embedding["ratio"],
        verdict["judged_as"], verdict["real_test_accuracy"], verdict["judged_as"], verdict["generated_share"],
    )  # fmt: skip


def cmd_export(args: argparse.Namespace) -> None:
    from genrevae.export import export_genre_files

    genre = _trained_genre(args.genre_dir, need_prior=False)
    prior = _fitted_prior(genre)
    out_dir = genre.generated_dir if args.out_dir is None else args.out_dir
    _start_backend(args.threads)
    manifest = export_genre_files(genre.model_file, prior, args.shard, args.split, out_dir, args.settings)
    counts = manifest["kind"].value_counts().to_dict()
    log.info(
        "wrote %d WAVs (%s) and their playback copies under %s",
        len(manifest), ", ".join(f"{k}={v}" for k, v in sorted(counts.items())), out_dir,
    )  # fmt: skip


def cmd_fidelity(args: argparse.Namespace) -> None:
    from genrevae.files import write_csv
    from genrevae.fidelity import genre_fidelity_files

    if not len(args.genre) == len(args.genre_dir) == len(args.shard) == len(args.split):
        raise ConfigError("fidelity: give one --genre-dir, --shard and --split per --genre, in the same order")
    genres = [_trained_genre(folder, need_prior=True) for folder in args.genre_dir]
    _start_backend(args.threads)
    models, priors = [g.model_file for g in genres], [g.prior_file for g in genres]
    table = genre_fidelity_files(args.genre, models, priors, args.shard, args.split, args.settings)
    write_csv(table, args.out)
    for row in table.itertuples(index=False):
        log.info(
            "genre %s: fidelity %.2f of %d generated clips (classifier test recall %.2f, accuracy %.2f)",
            row.genre, row.fidelity, row.n_generated, row.test_recall, row.test_accuracy,
        )  # fmt: skip


def cmd_page(args: argparse.Namespace) -> None:
    from genrevae.page import write_listening_page

    write_listening_page(
        args.results_dir, args.genre, args.out, args.fidelity, args.out_report, thumbnails_dir=args.thumbnails_dir,
        transfer_sources=args.transfer_source,
    )  # fmt: skip
    log.info("wrote %s (%d genres)%s", args.out, len(args.genre), f" and {args.out_report}" if args.out_report else "")


def cmd_generate(args: argparse.Namespace) -> None:
    from genrevae.clip_jobs import GenerateJob
    from genrevae.genre_model import GenreFolder, GenreModel

    folder = GenreFolder.open(args.model_dir, need_prior=args.prior == "learned")
    job = GenerateJob.check(
        folder, args.out, args.n, args.seconds, args.seed, args.prior, args.temperature, _rendering(args), args.force
    )
    _start_backend(args.threads)
    manifest = job.run(GenreModel.load(folder))
    log.info("wrote %d clips of %.1f s (%s prior) and manifest.json under %s", args.n, args.seconds, args.prior, args.out)
    for clip in manifest["clips"]:
        log.info("  %s: seed %d, peak %.3f, rms %.4f", clip["file"], clip["seed"], clip["peak"], clip["rms"])


def cmd_transfer(args: argparse.Namespace) -> None:
    from genrevae.clip_files import clip_files
    from genrevae.clip_jobs import TransferJob
    from genrevae.genre_model import GenreFolder, GenreModel
    from genrevae.transfer import source_names

    if (args.out is None) == (args.out_dir is None):
        raise ConfigError("transfer: give --out FILE.wav (one input) or --out-dir FOLDER (any number of inputs)")
    if args.out is not None and len(args.inputs) != 1:
        raise ConfigError(f"transfer: --out takes one input, got {len(args.inputs)}; use --out-dir for several")
    if args.out_dir is not None and args.playback_out is not None:
        raise ConfigError("transfer: --playback-out goes with --out; --out-dir writes playback/<name>.wav itself")
    if args.out is not None:
        jobs = [(args.inputs[0], args.out, args.playback_out)]
    else:
        if args.out_dir.exists() and not args.out_dir.is_dir():
            raise ConfigError(f"{args.out_dir}: --out-dir exists and is not a folder; give a folder")
        named = source_names(args.inputs, "transfer --out-dir")
        files = {n: clip_files(args.out_dir, n) for n in named}
        jobs = [(p, files[n].wav, files[n].playback) for n, p in named.items()]
    learned = args.strength > 0 and args.prior == "learned"
    folder = GenreFolder.open(args.model_dir, need_prior=learned)
    job = TransferJob.check(
        folder, jobs, args.strength, args.seed, args.prior, args.temperature, _rendering(args), args.force,
        in_genre_folder=args.in_genre_folder,
    )  # fmt: skip
    _start_backend(args.threads)
    records = job.run(GenreModel.load(folder, need_prior=learned))
    for (source, out, _), record in zip(job.jobs, records):
        log.info("%s as %s: %s (%.1f s, strength %.2f)", source, folder.path.name, out, record["seconds"], args.strength)


def cmd_interpolate(args: argparse.Namespace) -> None:
    from genrevae.clip_jobs import InterpolateJob
    from genrevae.genre_model import GenreFolder, GenreModel

    folder = GenreFolder.open(args.model_dir)
    job = InterpolateJob.check(folder, args.a, args.b, args.out, args.playback_out, args.seconds, _rendering(args), args.force)
    _start_backend(args.threads)
    record = job.run(GenreModel.load(folder))
    log.info("wrote %s: %.1f s morphing from %s into %s", args.out, record["seconds"], args.a, args.b)


def cmd_transfer_source(args: argparse.Namespace) -> None:
    from genrevae.transfer import write_transfer_source

    audio = section("audio", _audio_arguments(args))
    record = write_transfer_source(
        args.name, args.out_dir, args.sample_rate, audio["playback_rate"], audio["peak_dbfs"], file=args.file,
        genre=args.genre, shard=args.shard, split=args.split,
    )  # fmt: skip
    log.info("transfer source %s: %s", args.name, record["description"])


def _audio_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """--playback-rate and --peak-dbfs as given; what is left out takes the schema's audio section."""
    given = {"playback_rate": args.playback_rate, "peak_dbfs": args.peak_dbfs}
    return {k: v for k, v in given.items() if v is not None}


def _rendering(args: argparse.Namespace):
    from genrevae.genre_model import Rendering

    return Rendering.from_settings(_audio_arguments(args))


def _add_rendering_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--playback-rate", type=int, help="rate of the playback copies in Hz (default: audio.playback_rate)")
    command.add_argument("--peak-dbfs", type=float, help="louder output is scaled down to this (default: audio.peak_dbfs)")


def _add_use_arguments(command: argparse.ArgumentParser) -> None:
    """What every command that uses a trained genre folder takes besides its own arguments."""
    _add_rendering_arguments(command)
    command.add_argument("--threads", type=_positive_int, default=2, help="CPU threads for the Keras backend")
    command.add_argument("--force", action="store_true", help="replace output files that exist (never an input, never a genre folder's file)")


def _settings_help(stage: str) -> str:
    return f"JSON with the config sections {', '.join(STAGE_SECTIONS[stage])} (missing ones: the schema's defaults)"


def _add_model_job_arguments(command: argparse.ArgumentParser, reads: str) -> None:
    """The arguments of every job that loads one genre's trained model: the genre folder (its
    model and learned prior, ``reads`` says which, are opened through
    :class:`~genrevae.artifacts.trained_genre.TrainedGenre`), the genre's shard and split, the
    settings (JSON) and the thread count."""
    command.add_argument(
        "--genre-dir", type=Path, required=True, help=f"the trained genre folder (results/<genre>): {reads}"
    )  # fmt: skip
    command.add_argument("--shard", type=Path, required=True)
    command.add_argument("--split", type=Path, required=True)
    command.add_argument("--settings", type=_json_arg, required=True, help=_settings_help(command.prog.split()[-1]))
    command.add_argument("--threads", type=_positive_int, default=1)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (its usage block buries the line that says what is wrong)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genrevae", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    toy = commands.add_parser("toy", help="synthesise the embedded toy dataset")
    toy.add_argument("--out", type=Path, required=True, help="dataset folder (genre subfolders)")
    toy.add_argument("--genre", nargs="+", required=True)
    # Defaults (None here): the config schema's `toy` section, filled in by cmd_toy.
    toy.add_argument("--clips", type=int, help="clips per genre (default: toy.clips_per_genre)")
    toy.add_argument("--seed", type=int, help="default: toy.seed")
    toy.add_argument("--sample-rate", type=int, help="default: toy.sample_rate")
    toy.add_argument("--duration", type=float, help="seconds per clip (default: toy.duration)")
    toy.set_defaults(func=cmd_toy)

    prepare = commands.add_parser(
        "prepare", help="stage 1: index one genre's files and resample the usable ones into an NPY shard (one pass)"
    )
    prepare.add_argument("--genre", required=True)
    prepare.add_argument("--min-seconds", type=float, required=True)
    prepare.add_argument("--sample-rate", type=int, required=True)
    prepare.add_argument("--n-samples", type=int, required=True)
    prepare.add_argument("--offset-seconds", type=float, default=0.0)
    prepare.add_argument("--threads", type=_positive_int, default=1, help="files read, decoded and resampled at once")
    prepare.add_argument("--out-index", type=Path, required=True)
    prepare.add_argument("--out-shard", type=Path, required=True)
    prepare.add_argument("--out-tracks", type=Path, required=True)
    prepare.add_argument("files", type=Path, nargs="*")
    prepare.set_defaults(func=cmd_prepare)

    split = commands.add_parser("split", help="stage 2: train/test split of one genre")
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
    train.add_argument("--settings", type=_json_arg, required=True, help=_settings_help("train"))
    train.add_argument("--threads", type=_positive_int, default=1)
    train.set_defaults(func=cmd_train)

    prior = commands.add_parser("prior", help="fit the genre's learned prior over latent sequences")
    _add_model_job_arguments(prior, "its model/model.keras")
    prior.add_argument("--out-dir", type=Path, help="where prior.keras and prior.json go (default: the genre folder's prior/)")
    prior.set_defaults(func=cmd_prior)

    evaluate = commands.add_parser("evaluate", help="ELBO, IWAE, KL and reconstruction metrics (under N(0, I) and the learned prior)")
    _add_model_job_arguments(evaluate, "its model and, once fitted, its prior")
    evaluate.add_argument("--out", type=Path, help="default: the genre folder's metrics.json")
    evaluate.set_defaults(func=cmd_evaluate)

    figures = commands.add_parser(
        "figures", help="samples grid and GIF, reconstructions, loss curves, latent space (into <genre folder>/figures)"
    )
    figures.add_argument("--genre", required=True, help="the genre's name, as the titles show it")
    _add_model_job_arguments(
        figures, "model, prior, history and epoch samples in, figures/ out"
    )  # fmt: skip
    figures.set_defaults(func=cmd_figures)

    quality = commands.add_parser("quality", help="Frechet distances (MFCC frames, 3 s segments, notes) of generated vs real clips, with controls")
    quality.add_argument("--genre", required=True)
    _add_model_job_arguments(quality, "its model and prior")
    quality.add_argument("--out", type=Path, help="default: the genre folder's generation_quality.json")
    quality.set_defaults(func=cmd_quality)

    judge = commands.add_parser("judge", help="musicnn's embedding distance and genre verdict, with real-clip controls")
    judge.add_argument("--genre", required=True)
    _add_model_job_arguments(judge, "its model and prior")
    judge.add_argument("--out", type=Path, help="default: the genre folder's judge.json")
    judge.set_defaults(func=cmd_judge)

    export = commands.add_parser("export", help="generated, reconstructed and interpolated WAVs + manifest")
    _add_model_job_arguments(export, "its model and, once fitted, its prior")
    export.add_argument("--out-dir", type=Path, help="default: the genre folder's generated/ (replaced whole)")
    export.set_defaults(func=cmd_export)

    fidelity = commands.add_parser("fidelity", help="genre classifier on real clips applied to generated clips")
    fidelity.add_argument("--genre", nargs="+", required=True)
    fidelity.add_argument(
        "--genre-dir", type=Path, nargs="+", required=True, help="one trained genre folder (model and prior) per genre, same order"
    )  # fmt: skip
    fidelity.add_argument("--shard", type=Path, nargs="+", required=True, help="one per genre, same order")
    fidelity.add_argument("--split", type=Path, nargs="+", required=True, help="one per genre, same order")
    fidelity.add_argument("--settings", type=_json_arg, required=True, help=_settings_help("fidelity"))
    fidelity.add_argument("--threads", type=_positive_int, default=1)
    fidelity.add_argument("--out", type=Path, required=True)
    fidelity.set_defaults(func=cmd_fidelity)

    generate = commands.add_parser("generate", help="new clips of any length from a trained genre folder")
    generate.add_argument("model_dir", type=Path, help="the genre folder, e.g. results/jazz")
    generate.add_argument("--n", type=_positive_int, default=4, help="number of clips (clip i uses seed + i)")
    generate.add_argument("--seconds", type=float, default=30.0, help="duration of each clip")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--temperature", type=float, help="learned prior's temperature (default: the one it was fitted with)")
    generate.add_argument("--prior", choices=["learned", "gaussian"], default="learned")
    generate.add_argument("--out", type=Path, required=True, help="output folder (WAVs, playback/, manifest.json)")
    _add_use_arguments(generate)
    generate.set_defaults(func=cmd_generate)

    transfer = commands.add_parser("transfer", help="re-synthesise audio files through a genre's VAE")
    transfer.add_argument("model_dir", type=Path, help="the genre folder, e.g. results/jazz")
    transfer.add_argument("inputs", type=Path, nargs="+", help="audio files: any format libsndfile reads, any rate and length")
    transfer.add_argument("--out", type=Path, help="output WAV (one input); a JSON of the settings is written beside it")
    transfer.add_argument("--playback-out", type=Path, help="with --out: also write a playback copy here")
    transfer.add_argument("--out-dir", type=Path, help="output folder: <name>.wav, playback/<name>.wav, <name>.json")
    transfer.add_argument("--strength", type=float, default=0.0, help="0: the recording's own latents; 1: a prior draw")
    transfer.add_argument("--seed", type=int, default=0, help="seed of the prior draw (strength > 0)")
    transfer.add_argument("--temperature", type=float)
    transfer.add_argument("--prior", choices=["learned", "gaussian"], default="learned")
    transfer.add_argument(
        "--in-genre-folder", action="store_true",
        help="let the outputs lie inside a trained genre folder: only for the workflow's transfer rule, whose "
        "output is results/<genre>/transfer",
    )  # fmt: skip
    _add_use_arguments(transfer)
    transfer.set_defaults(func=cmd_transfer)

    interpolate = commands.add_parser("interpolate", help="one clip morphing from recording A into recording B")
    interpolate.add_argument("model_dir", type=Path, help="the genre folder, e.g. results/jazz")
    interpolate.add_argument("a", type=Path)
    interpolate.add_argument("b", type=Path)
    interpolate.add_argument("--out", type=Path, required=True, help="output WAV; a JSON of the settings is written beside it")
    interpolate.add_argument("--playback-out", type=Path)
    interpolate.add_argument("--seconds", type=float, help="at most this long (default: the shorter recording)")
    _add_use_arguments(interpolate)
    interpolate.set_defaults(func=cmd_interpolate)

    source = commands.add_parser("transfer-source", help="workflow: prepare one clip to transfer (a test clip or a file)")
    source.add_argument("--name", required=True)
    source.add_argument("--out-dir", type=Path, required=True)
    source.add_argument("--sample-rate", type=int, required=True)
    _add_rendering_arguments(source)
    source.add_argument("--file", type=Path, help="an audio file to transfer")
    source.add_argument("--genre", help="or the first test clip of this genre ...")
    source.add_argument("--shard", type=Path, help="... from its shard")
    source.add_argument("--split", type=Path, help="... and split")
    source.set_defaults(func=cmd_transfer_source)

    page = commands.add_parser("page", help="the static listening page (and its report excerpt)")
    page.add_argument("--results-dir", type=Path, required=True)
    page.add_argument("--genre", nargs="+", required=True)
    page.add_argument("--fidelity", type=Path, help="genre_fidelity.csv")
    page.add_argument("--out", type=Path, required=True)
    page.add_argument("--out-report", type=Path, help="self-contained excerpt for snakemake --report")
    page.add_argument(
        "--transfer-source", nargs="*",
        help="the transfer sources to show, by name: the workflow passes the ones it built (default: every one found on disk)",
    )  # fmt: skip
    page.add_argument("--thumbnails-dir", type=Path, help="folder for the players' spectrogram thumbnails (rewritten)")
    page.set_defaults(func=cmd_page)

    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], None] = args.func
    if args.command in STAGE_SECTIONS:
        try:  # resolved here, once: the stage functions receive exactly their sections, defaults filled
            args.settings = stage_sections(args.command, args.settings)
        except ConfigError as exc:
            log.error("%s", exc)
            return 1
    # SIGTERM (a scheduler's cancel, `kill`) unwinds like Ctrl-C, so that every command's
    # clean-up runs: temporary files and spools go, as on any other failure.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        func(args)
    except (ConfigError, DataError, AudioError, ArtifactError, OSError) as exc:
        log.error("%s", exc)
        return 1
    except _Terminated:
        log.error("terminated by SIGTERM; nothing of this call's output was kept")
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
