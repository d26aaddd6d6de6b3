"""How much memory and time every job of the workflow asks for: one tested place.

The numbers come from the ``benchmark:`` files in ``results/benchmarks/`` of the default config on
2 CPU cores and from runs at other widths, batch sizes and clip lengths, scaled with the config:

* ``mem_mb``: 1.25 x a peak-RSS model, rounded up to 100 MB.
* ``runtime`` (minutes; SLURM's time limit, unused locally): 3 x a CPU-time estimate, at least
  5 (10 for TensorFlow jobs).

Both grow with ``attempt``: jobs of the TensorFlow rules (``retries: 1``) run once more with twice
the memory and time after any failure, SLURM's OUT_OF_MEMORY and TIMEOUT too.

Every function is pure: it takes the resolved config and the counts a rule knows before any job
ran (clips per genre: the files of its folder, an upper bound), so ``tests/test_resources.py``
checks the numbers at the default and the GTZAN configs.  ``workflow/rules/common.smk`` binds
them to wildcards.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from genrevae.sizes import N_EPOCH_SAMPLES, window_length

Config = Mapping[str, Any]


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------
def mem(estimate_mb: float, attempt: int) -> int:
    """1.25 x the estimate, rounded up to 100 MB, times the attempt."""
    return math.ceil(1.25 * estimate_mb / 100) * 100 * attempt


def minutes(estimate_s: float, attempt: int, floor: int = 5) -> int:
    """3 x the estimate in whole minutes, at least ``floor``, times the attempt."""
    return max(floor, math.ceil(3 * estimate_s / 60)) * attempt


def shard_mb(config: Config, n_clips: int) -> float:
    return n_clips * config["n_samples"] * 4 / 2**20


def model_width(config: Config) -> int:
    """Channels of the widest full-length activation (the report preset's MLP behaves like ~8)."""
    model = config["model"]
    return model["conv"]["width"] if model["preset"] == "conv" else 8


def band_rate_samples(config: Config, n_samples: int) -> int:
    """Time steps the conv preset's first layers run on: n_samples / bands (PQMF)."""
    if config["model"]["preset"] != "conv":
        return n_samples
    return -(-n_samples // config["model"]["conv"]["bands"])


def window_samples(config: Config) -> int:
    return window_length(config["train"], config["n_samples"], fixed_length=config["model"]["preset"] == "report")


def activation_mb(config: Config, batch: int, n_samples: int | None = None) -> float:
    """One float32 (batch, band-rate steps, width) tensor: TensorFlow's memory grows with it."""
    steps = band_rate_samples(config, n_samples or config["n_samples"])
    return batch * steps * model_width(config) * 4 / 2**20


def pass_seconds(config: Config, n_samples: int | None = None) -> float:
    """CPU seconds for one clip of n_samples through encoder and decoder with gradients on 2
    threads: measured 0.133 s per step of 16 windows of 8192 samples at width 32 (~width**1.5);
    inference takes ~1/3."""
    return 5.6e-9 * (n_samples or config["n_samples"]) * model_width(config) ** 1.5


def inference_mem(config: Config, batch: int, base: float, factor: float, n_clips: int, attempt: int) -> int:
    return mem(base + factor * activation_mb(config, batch) + shard_mb(config, n_clips), attempt)


def inference_minutes(config: Config, passes: float, attempt: int, base_s: float = 30) -> int:
    return minutes(base_s + passes * pass_seconds(config) / 3, attempt, floor=10)


def checkpoints(config: Config) -> int:
    train = config["train"]
    return -(-train["steps"] // train["checkpoint_every"])


# ---------------------------------------------------------------------------------------------
# Data and page jobs (no TensorFlow)
# ---------------------------------------------------------------------------------------------
def light_mem_mb(attempt: int) -> int:
    """toy, split, transfer_source, page: Python with numpy/pandas/soundfile (measured
    80-190 MB; files are processed one at a time)."""
    return mem(300, attempt)


def toy_runtime_min(config: Config, attempt: int) -> int:
    # Measured 4-8 s for 10 clips of 30 s.
    toy = config["toy"]
    return minutes(5 + 0.02 * toy["clips_per_genre"] * toy["duration"], attempt)


def data_runtime_min(n_clips: int, attempt: int) -> int:
    # prepare/split: ~1 s for 10 files (decoding and resampling take ~3 ms per file).
    return minutes(5 + 0.05 * n_clips, attempt)


def prepare_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # The shard is built in memory (measured 100 MB for 10 clips of 90,001 samples), plus one
    # file's bytes and decoded audio per thread (~15 MB for 30 s of 44.1 kHz stereo).
    return mem(250 + 15 * config["resources"]["data_threads"] + 3 * shard_mb(config, n_clips), attempt)


def page_runtime_min(clips_per_genre: Sequence[int], attempt: int) -> int:
    return minutes(5 + 0.1 * sum(clips_per_genre), attempt)


# ---------------------------------------------------------------------------------------------
# Model jobs
# ---------------------------------------------------------------------------------------------
def train_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # Measured peak 1.48 GB at the default config (30 toy clips, batch 16 x 8192 samples, width 32).
    batch = config["train"]["batch_size"]
    return mem(
        1300
        + 40 * activation_mb(config, batch, window_samples(config))
        + 8 * activation_mb(config, config["evaluate"]["batch_size"])
        + shard_mb(config, n_clips),
        attempt,
    )


def train_runtime_min(config: Config, n_clips: int, attempt: int) -> int:
    # Per step: batch_size windows forward and backward (~3 passes); per checkpoint the test
    # ELBO over whole test clips and 16 prior draws (1 pass each, ~1/3 of the cost).
    train = config["train"]
    n_checkpoints = checkpoints(config)
    estimate_s = train["steps"] * 3 * train["batch_size"] * pass_seconds(config, window_samples(config))
    estimate_s += n_checkpoints * (n_clips + N_EPOCH_SAMPLES + 2 * train["tensorboard_audio"]) * pass_seconds(config) / 3
    if train["max_seconds"] is not None:
        # The budget ends training at the first checkpoint after it: allow one more interval.
        estimate_s = min(estimate_s, train["max_seconds"] + estimate_s / n_checkpoints)
    return minutes(60 + estimate_s, attempt, floor=10)


def prior_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # Encodes the genre's clips, then a small GRU on latent segments.
    return inference_mem(config, 4, 1000, 6, n_clips, attempt)


def prior_runtime_min(config: Config, attempt: int) -> int:
    # ~0.1 s per step at hidden 128, batch 16 x 128 frames; max_seconds caps it.
    prior = config["prior"]
    estimate_s = 0.1 * prior["steps"] * (prior["hidden"] / 128) ** 2 * prior["batch_size"] / 16
    if prior["max_seconds"] is not None:
        estimate_s = min(estimate_s, prior["max_seconds"])
    return minutes(30 + estimate_s, attempt, floor=10)


def evaluate_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 1.21 GB at the default config (30 clips, k = 32, the learned prior's GRU over
    # all k draws of a batch at once).
    return inference_mem(config, config["evaluate"]["batch_size"], 1200, 4, n_clips, attempt)


def evaluate_runtime_min(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 57 s at the default config (30 clips, k = 32).
    return inference_minutes(config, n_clips * (config["evaluate"]["iw_samples"] + 2), attempt)


# ---------------------------------------------------------------------------------------------
# Render jobs
# ---------------------------------------------------------------------------------------------
def figures_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # Measured peak 0.76 GB at the default config (30 clips, 16 learned-prior clips for the grid);
    # the GIF holds one frame per checkpoint.
    return inference_mem(config, config["figures"]["batch_size"], 1050 + 2 * checkpoints(config), 6, n_clips, attempt)


def figures_runtime_min(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 37 s at the default config; ~1 s per GIF frame (one per checkpoint).
    passes = N_EPOCH_SAMPLES + 2 * config["figures"]["n_reconstructions"] + 2 * n_clips
    return inference_minutes(config, passes, attempt, base_s=40 + checkpoints(config))


def export_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 0.93 GB at the default config (learned-prior and N(0, I) samples).
    return inference_mem(config, config["export"]["batch_size"], 850, 6, n_clips, attempt)


def export_runtime_min(config: Config, attempt: int) -> int:
    # Measured 18 s at the default config.
    export = config["export"]
    passes = (
        export["n_generated"]
        + 2 * export["n_reconstructions"]
        + export["n_interpolations"] * (export["interpolation_steps"] + 2)
    )
    return inference_minutes(config, passes, attempt)


def quality_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 0.78 GB at the default config.
    return inference_mem(config, config["quality"]["batch_size"], 850, 6, n_clips, attempt)


def quality_runtime_min(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 33 s at the default config: decode the generated clips and three controls, features.
    passes = (config["quality"]["n_generated"] or n_clips) + n_clips
    return inference_minutes(config, passes, attempt)


def judge_mem_mb(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 2.27 GB at the default config: the quality stage's clip sets and decoding (1.0 GB)
    # and the two musicnn ports with a batch of 16 patches (~1.3 GB).
    return inference_mem(config, config["quality"]["batch_size"], 2150, 6, n_clips, attempt)


def judge_runtime_min(config: Config, n_clips: int, attempt: int) -> int:
    # Measured 163 s at the default config on a loaded 2-core machine. The quality stage's
    # decoding, then musicnn at ~0.05 s per 3 s patch and model on 2 cores
    # over every set: generated, both priors' controls, train (twice: itself and phase-randomised), test (twice).
    n_generated = config["quality"]["n_generated"] or n_clips
    patches = (2 * n_generated + 4 * n_clips) * config["n_samples"] / config["sample_rate"] / 3
    models = len({config["judge"]["embedding_model"], *config["judge"]["tag_models"]})
    return minutes(30 + (n_generated + n_clips) * pass_seconds(config) / 3 + 0.05 * patches * models, attempt, floor=10)


def transfer_mem_mb(config: Config, attempt: int) -> int:
    # Model, prior and one chunk of CHUNK_FRAMES latent frames (~44 s at 3 kHz) at a time.
    return inference_mem(config, 1, 900, 6, 0, attempt)


def transfer_runtime_min(config: Config, n_sources: int, from_files: bool, attempt: int) -> int:
    # One encoder and one decoder pass per source clip (30 s toy test clips; files of transfer.dir
    # may be longer: counted as 10 clip lengths each).
    per_source = 10 if from_files else 1
    return inference_minutes(config, 2 * per_source * n_sources, attempt)


def fidelity_mem_mb(config: Config, clips_per_genre: Sequence[int], attempt: int) -> int:
    # Measured 1.0 GB with 4 genres; one model at a time, every genre's shard.
    return inference_mem(config, config["fidelity"]["batch_size"], 900, 6, sum(clips_per_genre), attempt)


def fidelity_runtime_min(config: Config, clips_per_genre: Sequence[int], attempt: int) -> int:
    # Decode fidelity.n_generated clips per genre, features (~0.06 s per 30 s clip), classifier.
    passes = sum(config["fidelity"]["n_generated"] + n for n in clips_per_genre)
    return inference_minutes(config, passes, attempt, base_s=30 + 0.2 * passes)
