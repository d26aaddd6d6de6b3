import json
import sys
from pathlib import Path

SRC_DIR = Path(workflow.basedir) / "src"
# The rules run the workflow's own copy of the package, whatever else is installed.
sys.path.insert(0, str(SRC_DIR))

from genrevae.config import is_toy_data_dir, resolve_config
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
    """The package modules a job runs, declared as inputs so that editing one re-runs its jobs."""
    return [
        str(SRC_DIR / "genrevae" / f"{module}.py")
        for module in ("cli", "config") + modules
    ]


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


def all_targets():
    return expand("results/{genre}/generated", genre=GENRES) + [
        "results/genre_fidelity.csv",
        "results/index.html",
    ]


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


def _padded_samples():
    hop = (
        math.prod(config["model"]["conv"]["strides"])
        if config["model"]["preset"] == "conv"
        else 1
    )
    return -(-config["n_samples"] // hop) * hop


def _activation_mb(batch):
    """One float32 (batch, samples, width) tensor: TensorFlow's memory grows with it (measured
    peak RSS ~1.1 GB + 14x this in training, + 4-6x in inference)."""
    return batch * _padded_samples() * _model_width() * 4 / 2**20


def _pass_seconds():
    """CPU seconds for one clip through encoder and decoder with gradients on 2 threads
    (measured 0.075 s at width 16 and 90,001 samples; ~width**1.5); inference takes ~1/3.
    """
    return 1.3e-8 * _padded_samples() * _model_width() ** 1.5


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
    # Measured 1.4-1.6 GB at the default config (width 16, batch 10, 90,001 samples).
    batch = config["train"]["batch_size"]
    return _mem(
        1100 + 14 * _activation_mb(batch) + _shard_mb(_genre_clips(wildcards.genre)),
        attempt,
    )


def train_runtime_min(wildcards, attempt):
    # Per epoch: every train clip forward and backward (~3 passes), the test ELBO and 16 prior
    # samples (1 pass each); measured 50-60 s at the default config.
    train = config["train"]
    n_clips = _genre_clips(wildcards.genre)
    if train["steps_per_epoch"]:
        n_train = train["steps_per_epoch"] * train["batch_size"]
    else:
        n_train = n_clips
    passes = train["epochs"] * (3 * n_train + n_clips + 16)
    estimate_s = passes * _pass_seconds()
    if train["max_seconds"] is not None:
        # A wall-clock budget ends training after the epoch that spends it: allow one more epoch.
        epoch_s = estimate_s / train["epochs"]
        estimate_s = min(estimate_s, train["max_seconds"] / 3 + epoch_s)
    return _minutes(60 + estimate_s, attempt, floor=10)


def _inference_mem(batch, base, factor, n_clips, attempt):
    return _mem(base + factor * _activation_mb(batch) + _shard_mb(n_clips), attempt)


def _inference_minutes(passes, attempt, base_s=30):
    return _minutes(base_s + passes * _pass_seconds() / 3, attempt, floor=10)


def evaluate_mem_mb(wildcards, attempt):
    # Measured 0.76-0.86 GB at the default config; the k draws are taken one after another.
    clips = _genre_clips(wildcards.genre)
    return _inference_mem(config["evaluate"]["batch_size"], 800, 4, clips, attempt)


def evaluate_runtime_min(wildcards, attempt):
    # Measured 28-42 s at the default config (k = 64).
    passes = _genre_clips(wildcards.genre) * (config["evaluate"]["iw_samples"] + 2)
    return _inference_minutes(passes, attempt)


def figures_mem_mb(wildcards, attempt):
    # Measured peak 1.15 GB at the default config (/usr/bin/time; the benchmark's 30-s samples
    # saw 0.97 GB); the GIF holds one frame per epoch.
    clips = _genre_clips(wildcards.genre)
    base = 1050 + 2 * config["train"]["epochs"]
    return _inference_mem(config["render"]["batch_size"], base, 6, clips, attempt)


def export_mem_mb(wildcards, attempt):
    # Measured 0.89-0.91 GB at the default config.
    clips = _genre_clips(wildcards.genre)
    return _inference_mem(config["render"]["batch_size"], 850, 6, clips, attempt)


def figures_runtime_min(wildcards, attempt):
    # Measured 38-57 s at the default config; ~1 s per GIF frame (one per epoch).
    render = config["render"]
    passes = 16 + 2 * render["n_reconstructions"] + 2 * _genre_clips(wildcards.genre)
    return _inference_minutes(passes, attempt, base_s=40 + config["train"]["epochs"])


def export_runtime_min(wildcards, attempt):
    # Measured 8-12 s at the default config.
    render = config["render"]
    passes = (
        render["n_generated"]
        + 2 * render["n_reconstructions"]
        + render["n_interpolations"] * (render["interpolation_steps"] + 2)
    )
    return _inference_minutes(passes, attempt)


def quality_mem_mb(wildcards, attempt):
    # Measured 0.96-0.98 GB at the default config.
    clips = _genre_clips(wildcards.genre)
    return _inference_mem(config["quality"]["batch_size"], 850, 6, clips, attempt)


def quality_runtime_min(wildcards, attempt):
    # Measured 9-12 s at the default config: decode n_generated clips, MFCCs of all clips.
    clips = _genre_clips(wildcards.genre)
    passes = (config["quality"]["n_generated"] or clips) + clips
    return _inference_minutes(passes, attempt)


def fidelity_mem_mb(wildcards, attempt):
    # Measured 1.0 GB with 4 genres; one model at a time, every genre's shard.
    clips = sum(map(_genre_clips, GENRES))
    return _inference_mem(config["quality"]["batch_size"], 900, 6, clips, attempt)


def fidelity_runtime_min(wildcards, attempt):
    # Measured 18 s with 4 genres: decode fidelity_n_generated clips per genre, MFCCs, classifier.
    quality = config["quality"]
    passes = sum(quality["fidelity_n_generated"] + _genre_clips(g) for g in GENRES)
    return _inference_minutes(
        passes, attempt, base_s=30 + 0.01 * quality["classifier_steps"]
    )
