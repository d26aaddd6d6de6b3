"""Tiny trained genres for the tests that need a model and its learned prior on disk.

Everything is sized to take seconds on one shared CPU core: a 4-band conv VAE with one
stride and one residual unit per resolution, a few training steps on short windows, and an
8-unit GRU prior fitted for 20 steps.  Use these where a test needs *real* files from the
training and fit_prior stages (history.csv, epoch_samples.npy, prior.keras, prior.json);
tests of pure functions should keep building models in memory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

#: The smallest sensible conv preset: hop = bands * prod(strides) = 32 samples per latent frame.
#: With the amplitude head, not the default istft: after 4 steps an istft decoder still plays mostly its
#: biases (a pulse train at the frame rate, whatever z is), so tests that tell two latents apart by
#: ear (interpolate: "starts as A, ends as B") could not; the istft head has its own tests
#: (test_istft.py, the chunked decoder in test_genre_model.py) and runs in the workflow tests.
TINY_MODEL = {
    "preset": "conv",
    "conv": {"bands": 4, "width": 4, "max_width": 8, "strides": [8], "kernel_size": 5, "dilations": [1], "latent_channels": 2,
             "head": "amplitude"},
}  # fmt: skip
#: A few steps on short windows, checkpointed twice (two history rows, three epoch-sample frames).
TINY_TRAIN = {
    "steps": 4, "checkpoint_every": 2, "batch_size": 2, "window_samples": 512, "kl_warmup_steps": 2,
    "stft_sizes": [64, 128], "tensorboard_audio": 0,
}  # fmt: skip
#: Every key of the prior section (they are all required), tiny.
TINY_PRIOR = {
    "hidden": 8, "layers": 1, "mixtures": 2, "steps": 20, "batch_size": 4, "segment_frames": 16,
    "learning_rate": 3e-3, "var_order": 1, "temperature": 1.0, "max_seconds": None,
}  # fmt: skip

_log = logging.getLogger("test.genre_helpers")


def write_genre_data(folder: Path, clips: np.ndarray, subsets: Sequence[str], prefix: str = "jazz") -> tuple[Path, Path]:
    """``clips.npy`` and ``split.csv`` (tracks ``<prefix>.NNNNN.wav``) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "clips.npy", np.asarray(clips, dtype=np.float32))
    pd.DataFrame(
        {"clip": range(len(subsets)), "track": [f"{prefix}.{i:05d}.wav" for i in range(len(subsets))], "subset": list(subsets)}
    ).to_csv(folder / "split.csv", index=False)
    return folder / "clips.npy", folder / "split.csv"


def fit_tiny_prior(model_path: Path, shard: Path, split: Path, out_dir: Path, seed: int = 0, **prior: object) -> Path:
    """Fit the learned prior of ``model_path`` with :data:`TINY_PRIOR` (plus overrides); returns prior.keras."""
    from genrevae.prior import fit_prior_files

    fit_prior_files(model_path, shard, split, out_dir, {"seed": seed, "prior": {**TINY_PRIOR, **prior}}, _log)
    return Path(out_dir) / "prior.keras"


def train_tiny_genre(shard: Path, split: Path, out_dir: Path, seed: int = 0, model: dict | None = None) -> dict[str, Path]:
    """Train one genre as the train and prior stages do; returns its files by name
    (``model``, ``history``, ``epoch_samples``, ``config``, ``prior``, ``prior_json``, ``shard``, ``split``).

    Train with the thread count the test process's TensorFlow already has: a test module
    that calls this must pin it at import with ``conftest.backend_threads()``.
    """
    from conftest import backend_threads
    from genrevae.train import train_genre

    threads = backend_threads()
    out_dir = Path(out_dir)
    settings = {"seed": seed, "sample_rate": 3000, "model": model or TINY_MODEL, "train": TINY_TRAIN}
    train_genre(shard, split, out_dir, settings, threads, _log)
    prior = fit_tiny_prior(out_dir / "model.keras", shard, split, out_dir / "prior", seed)
    files = {
        "model": out_dir / "model.keras",
        "history": out_dir / "history.csv",
        "epoch_samples": out_dir / "epoch_samples.npy",
        "config": out_dir / "config.json",
        "prior": prior,
        "prior_json": prior.with_suffix(".json"),
        "shard": Path(shard),
        "split": Path(split),
    }
    assert all(p.exists() for p in files.values()), {k: p for k, p in files.items() if not p.exists()}
    json.loads(files["prior_json"].read_text())
    return files


def tiny_genre_folder(root: Path, threads: int, sample_rate: int = 3000) -> Path:
    """``root/jazz`` as the workflow leaves it: data/, model/ (trained) and prior/ (fitted at
    temperature 0.7), from six one-second tones."""
    from genrevae.train import train_genre

    rng = np.random.default_rng(0)
    t = np.arange(sample_rate + 1) / sample_rate
    clips = np.stack([0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * t)) for i in range(6)])
    clips += 0.01 * rng.standard_normal(clips.shape)
    shard, split = write_genre_data(root / "jazz" / "data", clips, ["train"] * 4 + ["test"] * 2)
    settings = {"seed": 0, "sample_rate": sample_rate, "model": TINY_MODEL, "train": TINY_TRAIN}
    train_genre(shard, split, root / "jazz" / "model", settings, threads, _log)
    fit_tiny_prior(root / "jazz" / "model" / "model.keras", shard, split, root / "jazz" / "prior", temperature=0.7)
    return root / "jazz"
