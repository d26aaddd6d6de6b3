import json
import shlex
import sys
from pathlib import Path

SRC_DIR = Path(workflow.basedir) / "src"
# The rules run the workflow's own copy of the package, whatever else is installed.
sys.path.insert(0, str(SRC_DIR))

from genrevae.config import is_toy_data_dir, resolve_config
from genrevae.transfer import transfer_files
from genrevae.workflow_support import (
    discover_genres,
    genre_audio_files,
    prepare_job_environment,
    select_genres,
    split_arguments,
)

config.update(
    resolve_config(
        config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
)

DATA_DIR = Path(config["data_dir"])
USES_TOY_DATA = is_toy_data_dir(config["data_dir"])
AVAILABLE_GENRES = discover_genres(
    DATA_DIR, config["toy"]["genres"] if USES_TOY_DATA else None
)
GENRES = select_genres(config["genres"], AVAILABLE_GENRES, DATA_DIR)
prepare_job_environment(SRC_DIR)


def package_code(*modules):
    """The package modules a job runs, declared as inputs so that editing one re-runs its jobs.

    The command line (cli.py) and the config reader (config.py) are not listed: they only wire
    settings through, and a help-text edit must not retrain every genre. When a command's
    meaning changes, change its rule's params or code input with it."""
    return [str(SRC_DIR / "genrevae" / f"{module}.py") for module in modules]


def package_dir_code(subpackage):
    """Every module of a subpackage (genrevae/<subpackage>/ and its sub-folders), as package_code."""
    return sorted(
        str(path) for path in (SRC_DIR / "genrevae" / subpackage).rglob("*.py")
    )


def audio_files(wildcards):
    return genre_audio_files(
        DATA_DIR,
        wildcards.genre,
        AVAILABLE_GENRES,
        toy=config["toy"] if USES_TOY_DATA else None,
    )


def model_settings(*keys):
    """Config sections a model job needs, as one JSON string: a param, so changes re-run it."""
    return json.dumps({key: config[key] for key in keys}, sort_keys=True)


# --- Transfer sources: every file of transfer.dir, or else one test clip per genre ------------
TRANSFER_FILES = (
    transfer_files(Path(config["transfer"]["dir"])) if config["transfer"]["dir"] else {}
)


def transfer_sources(genre=None):
    """Source names transferred (into `genre`): the files of transfer.dir into every genre, or
    each genre's first test clip (source name = genre) into every other genre."""
    if TRANSFER_FILES:
        return sorted(TRANSFER_FILES)
    return [g for g in GENRES if g != genre] if len(GENRES) > 1 else []


def transfer_source_input(wildcards):
    if TRANSFER_FILES:
        return {"audio": str(TRANSFER_FILES[wildcards.source])}
    return {
        "shard": f"results/{wildcards.source}/data/clips.npy",
        "split": f"results/{wildcards.source}/data/split.csv",
    }


def transfer_source_arguments(wildcards, input):
    if TRANSFER_FILES:
        return f"--file {shlex.quote(input.audio)}"
    return (
        f"--genre {shlex.quote(wildcards.source)} --shard {shlex.quote(input.shard)}"
        f" --split {shlex.quote(input.split)}"
    )


def transfer_targets():
    genres = [g for g in GENRES if transfer_sources(g)]
    return expand("results/{genre}/transfer", genre=genres)


def all_targets():
    return (
        expand("results/{genre}/generated", genre=GENRES)
        + transfer_targets()
        + ["results/genre_fidelity.csv", "results/index.html"]
    )


# --- Resources ---------------------------------------------------------------------------------
# mem_mb and runtime of every job, from the `benchmark:` files in results/benchmarks/ of the
# default config on 2 CPU cores and from runs at other widths, batch sizes and clip lengths,
# scaled with the config. mem_mb: 1.25x a peak-RSS model, rounded up to 100 MB. runtime
# (minutes; SLURM's time limit, unused locally): 3x a CPU-time estimate, at least 5 (10 for
# TensorFlow jobs). Both grow with `attempt`: jobs of the TensorFlow rules (`retries` 1) run once
# more with twice the memory and time after any failure, SLURM's OUT_OF_MEMORY and TIMEOUT too.

import math


def _genre_clips(genre):
    """Files of one genre folder (an upper bound on its clips), known before any job ran."""
    toy = config["toy"] if USES_TOY_DATA else None
    return len(genre_audio_files(DATA_DIR, genre, AVAILABLE_GENRES, toy=toy))


def _shard_mb(n_clips):
    return n_clips * config["n_samples"] * 4 / 2**20


def _model_width():
    """Channels of the widest full-length activation (the seed preset's MLP behaves like ~8)."""
    model = config["model"]
    return model["conv"]["width"] if model["preset"] == "conv" else 8


def _band_rate_samples(n_samples):
    """Time steps the conv preset's first layers run on: n_samples / bands (PQMF)."""
    if config["model"]["preset"] != "conv":
        return n_samples
    return -(-n_samples // config["model"]["conv"]["bands"])


def _window_samples():
    window = config["train"]["window_samples"]
    if config["model"]["preset"] != "conv" or window is None:
        return config["n_samples"]
    return min(window, config["n_samples"])


def _activation_mb(batch, n_samples=None):
    """One float32 (batch, band-rate steps, width) tensor: TensorFlow's memory grows with it."""
    steps = _band_rate_samples(n_samples or config["n_samples"])
    return batch * steps * _model_width() * 4 / 2**20


def _pass_seconds(n_samples=None):
    """CPU seconds for one clip of n_samples through encoder and decoder with gradients on 2
    threads: measured 0.133 s per step of 16 windows of 8192 samples at width 32 (~width**1.5);
    inference takes ~1/3."""
    return 5.6e-9 * (n_samples or config["n_samples"]) * _model_width() ** 1.5


def _mem(estimate_mb, attempt):
    return math.ceil(1.25 * estimate_mb / 100) * 100 * attempt


def _minutes(estimate_s, attempt, floor=5):
    return max(floor, math.ceil(3 * estimate_s / 60)) * attempt


def light_mem_mb(wildcards, attempt):
    """toy_genre, index_genre, split_genre, listening_page: Python with numpy/pandas/soundfile
    (measured 80-190 MB; files are processed one at a time)."""
    return _mem(300, attempt)


def toy_runtime_min(wildcards, attempt):
    # Measured 4-8 s for 10 clips of 30 s.
    toy = config["toy"]
    return _minutes(5 + 0.02 * toy["clips_per_genre"] * toy["duration"], attempt)


def data_runtime_min(wildcards, attempt):
    # index/shard/split: ~1 s for 10 files (decoding and resampling take ~3 ms per file).
    return _minutes(5 + 0.05 * _genre_clips(wildcards.genre), attempt)


def shard_mem_mb(wildcards, attempt):
    # The shard is built in memory (measured 100 MB for 10 clips of 90,001 samples).
    return _mem(250 + 3 * _shard_mb(_genre_clips(wildcards.genre)), attempt)


def page_runtime_min(wildcards, attempt):
    return _minutes(5 + 0.1 * sum(map(_genre_clips, GENRES)), attempt)


def train_mem_mb(wildcards, attempt):
    # Measured peak 1.48 GB at the default config (30 toy clips, batch 16 x 8192 samples, width 32).
    batch = config["train"]["batch_size"]
    return _mem(
        1300
        + 40 * _activation_mb(batch, _window_samples())
        + 8 * _activation_mb(config["evaluate"]["batch_size"])
        + _shard_mb(_genre_clips(wildcards.genre)),
        attempt,
    )


def train_runtime_min(wildcards, attempt):
    # Per step: batch_size windows forward and backward (~3 passes); per checkpoint the test
    # ELBO over whole test clips and 16 prior draws (1 pass each, ~1/3 of the cost).
    train = config["train"]
    steps = train["steps"]
    checkpoints = -(-steps // train["checkpoint_every"])
    n_clips = _genre_clips(wildcards.genre)
    estimate_s = steps * 3 * train["batch_size"] * _pass_seconds(_window_samples())
    estimate_s += (
        checkpoints
        * (n_clips + 16 + 2 * train["tensorboard_audio"])
        * _pass_seconds()
        / 3
    )
    if train["max_seconds"] is not None:
        # The budget ends training at the first checkpoint after it: allow one more interval.
        estimate_s = min(estimate_s, train["max_seconds"] + estimate_s / checkpoints)
    return _minutes(60 + estimate_s, attempt, floor=10)


def prior_mem_mb(wildcards, attempt):
    # Encodes the genre's clips, then a small GRU on latent segments.
    clips = _genre_clips(wildcards.genre)
    return _inference_mem(4, 1000, 6, clips, attempt)


def prior_runtime_min(wildcards, attempt):
    # ~0.1 s per step at hidden 128, batch 16 x 128 frames; max_seconds caps it.
    prior = config["prior"]
    estimate_s = (
        0.1 * prior["steps"] * (prior["hidden"] / 128) ** 2 * prior["batch_size"] / 16
    )
    if prior["max_seconds"] is not None:
        estimate_s = min(estimate_s, prior["max_seconds"])
    return _minutes(30 + estimate_s, attempt, floor=10)


def _inference_mem(batch, base, factor, n_clips, attempt):
    return _mem(base + factor * _activation_mb(batch) + _shard_mb(n_clips), attempt)


def _inference_minutes(passes, attempt, base_s=30):
    return _minutes(base_s + passes * _pass_seconds() / 3, attempt, floor=10)


def evaluate_mem_mb(wildcards, attempt):
    # Measured 1.21 GB at the default config (30 clips, k = 32, the learned prior's GRU over
    # all k draws of a batch at once).
    clips = _genre_clips(wildcards.genre)
    return _inference_mem(config["evaluate"]["batch_size"], 1200, 4, clips, attempt)


def evaluate_runtime_min(wildcards, attempt):
    # Measured 57 s at the default config (30 clips, k = 32).
    passes = _genre_clips(wildcards.genre) * (config["evaluate"]["iw_samples"] + 2)
    return _inference_minutes(passes, attempt)


def figures_mem_mb(wildcards, attempt):
    # Measured peak 0.76 GB at the default config (30 clips, 16 learned-prior clips for the grid);
    # the GIF holds one frame per checkpoint.
    clips = _genre_clips(wildcards.genre)
    checkpoints = -(-config["train"]["steps"] // config["train"]["checkpoint_every"])
    base = 1050 + 2 * checkpoints
    return _inference_mem(config["render"]["batch_size"], base, 6, clips, attempt)


def export_mem_mb(wildcards, attempt):
    # Measured 0.93 GB at the default config (learned-prior and N(0, I) samples).
    clips = _genre_clips(wildcards.genre)
    return _inference_mem(config["render"]["batch_size"], 850, 6, clips, attempt)


def figures_runtime_min(wildcards, attempt):
    # Measured 37 s at the default config; ~1 s per GIF frame (one per checkpoint).
    render = config["render"]
    passes = 16 + 2 * render["n_reconstructions"] + 2 * _genre_clips(wildcards.genre)
    checkpoints = -(-config["train"]["steps"] // config["train"]["checkpoint_every"])
    return _inference_minutes(passes, attempt, base_s=40 + checkpoints)


def export_runtime_min(wildcards, attempt):
    # Measured 18 s at the default config.
    render = config["render"]
    passes = (
        render["n_generated"]
        + 2 * render["n_reconstructions"]
        + render["n_interpolations"] * (render["interpolation_steps"] + 2)
    )
    return _inference_minutes(passes, attempt)


def quality_mem_mb(wildcards, attempt):
    # Measured 0.78 GB at the default config.
    clips = _genre_clips(wildcards.genre)
    return _inference_mem(config["quality"]["batch_size"], 850, 6, clips, attempt)


def quality_runtime_min(wildcards, attempt):
    # Measured 33 s at the default config: decode the generated clips and three controls, features.
    clips = _genre_clips(wildcards.genre)
    passes = (config["quality"]["n_generated"] or clips) + clips
    return _inference_minutes(passes, attempt)


def transfer_mem_mb(wildcards, attempt):
    # Model, prior and one chunk of CHUNK_FRAMES latent frames (~44 s at 3 kHz) at a time.
    return _inference_mem(1, 900, 6, 0, attempt)


def transfer_runtime_min(wildcards, attempt):
    # One encoder and one decoder pass per source clip (30 s toy test clips; files of transfer.dir
    # may be longer: counted as 10 clip lengths each).
    per_source = 10 if TRANSFER_FILES else 1
    return _inference_minutes(
        2 * per_source * len(transfer_sources(wildcards.genre)), attempt
    )


def fidelity_mem_mb(wildcards, attempt):
    # Measured 1.0 GB with 4 genres; one model at a time, every genre's shard.
    clips = sum(map(_genre_clips, GENRES))
    return _inference_mem(config["quality"]["batch_size"], 900, 6, clips, attempt)


def fidelity_runtime_min(wildcards, attempt):
    # Decode fidelity_n_generated clips per genre, features (~0.06 s per 30 s clip), classifier.
    quality = config["quality"]
    passes = sum(quality["fidelity_n_generated"] + _genre_clips(g) for g in GENRES)
    return _inference_minutes(passes, attempt, base_s=30 + 0.2 * passes)
