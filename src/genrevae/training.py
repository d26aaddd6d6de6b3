"""Train one genre's VAE: reproducible, resumable, and loud about divergence.

:func:`train_genre` reads a memory-mapped shard (``clips.npy``, float32 ``(n_clips,
n_samples)``) and its ``split.csv`` (``clip``, ``track``, ``subset``), trains the model
described by ``settings["model"]`` on the ``train`` clips and writes into ``out_dir``:

``history.csv``
    ``epoch, train_loss, test_elbo, test_recon, test_kl, kl_weight, seconds`` (nats per
    clip; ``train_loss`` is the optimised objective, ``test_elbo`` the single-sample ELBO
    of the test clips, ``seconds`` the wall time of the epoch's training, test ELBO and
    samples, without the checkpoint write).
``config.json``
    The resolved settings, ``n_samples``, thread count, data and run fingerprints, versions.
``epoch_samples.npy``
    float32 ``(epochs + 1, 16, 4096)``: the same 16 prior draws decoded before training
    and after every epoch, each reduced to 4096 points by :func:`envelope`.
``model.keras``
    Written last, via a temporary name and ``os.replace``: its presence means the run
    finished.  (Outputs of an earlier run in ``out_dir`` are deleted when training starts.)
``checkpoints/epoch-NNNN/``
    After every epoch: weights, optimizer state, history and epoch samples so far and a
    fingerprint of the settings, data and thread count.  A re-run resumes from the newest
    checkpoint when the fingerprint matches (``train.epochs`` and the ``evaluate`` section
    are not part of it, so a run can be extended); otherwise it starts afresh.

Reproducibility: ``keras.utils.set_random_seed(seed)`` fixes the initial weights; the
clip order of epoch ``e`` is a permutation drawn from ``numpy.random.default_rng([seed,
e])`` and the reparameterisation noise of global step ``t`` uses the stateless seed
``[seed, t]``, so an uninterrupted run and a killed-then-resumed run produce the same
weights (bit for bit on CPU with the same thread count; GPU kernels may not be
deterministic).

Loss per clip: ``-(recon - kl_weight * kl) + stft_weight * stft``, averaged over the
batch, with ``kl_weight`` warmed up linearly per epoch (:func:`kl_weight_for_epoch`).

Run ``python -m genrevae.training --help`` for a command line without Snakemake.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrevae.files import atomic_path, write_csv, write_npy, write_text

__all__ = [
    "DEFAULT_SETTINGS",
    "resolve_settings",
    "configure_threads",
    "load_split",
    "data_fingerprint",
    "run_fingerprint",
    "envelope",
    "kl_weight_for_epoch",
    "epoch_batches",
    "train_genre",
    "N_EPOCH_SAMPLES",
    "ENVELOPE_POINTS",
    "OUTPUTS",
]

#: The files train_genre writes into out_dir (model.keras last), besides checkpoints/.
OUTPUTS = ("model.keras", "history.csv", "config.json", "epoch_samples.npy")
#: Number of prior draws decoded after every epoch, and their reduced length.
N_EPOCH_SAMPLES = 16
ENVELOPE_POINTS = 4096
#: Second word of the stateless seeds of the fixed prior draws and of the test ELBO noise.
_SAMPLES_STREAM = 0x5A3D
_TEST_STREAM = 1

DEFAULT_SETTINGS: dict[str, Any] = {
    "seed": 123,
    "sample_rate": 3000,
    "model": None,  # filled from genrevae.model.DEFAULT_MODEL_SETTINGS
    "train": {
        "epochs": 20,
        "batch_size": 10,
        "learning_rate": 3.0e-4,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1.0e-8,
        "kl_beta": 1.0,
        "kl_warmup_epochs": 0,
        "stft_weight": 0.0,
        "xla": False,
        "steps_per_epoch": None,
        "max_seconds": None,
    },
    "evaluate": {"iw_samples": 64, "batch_size": 4},
}


def resolve_settings(settings: dict | None) -> dict:
    """Fill missing keys with the documented defaults and validate the values this module uses.

    Unknown top-level keys are kept (and ignored).  Returns a new dict.
    """
    from genrevae.model import merge_settings, resolve_model_settings

    s = merge_settings(DEFAULT_SETTINGS, settings)
    s["model"] = resolve_model_settings(s.get("model"))
    t = s["train"]
    if int(t["epochs"]) < 0:
        raise ValueError("train.epochs must be >= 0")
    if int(t["batch_size"]) < 1:
        raise ValueError("train.batch_size must be >= 1")
    if not float(t["learning_rate"]) > 0:
        raise ValueError("train.learning_rate must be > 0")
    if float(t["kl_beta"]) < 0 or int(t["kl_warmup_epochs"]) < 0 or float(t["stft_weight"]) < 0:
        raise ValueError("train.kl_beta, train.kl_warmup_epochs and train.stft_weight must be >= 0")
    if t["steps_per_epoch"] is not None and int(t["steps_per_epoch"]) < 1:
        raise ValueError("train.steps_per_epoch must be null or >= 1")
    e = s["evaluate"]
    if int(e["iw_samples"]) < 1 or int(e["batch_size"]) < 1:
        raise ValueError("evaluate.iw_samples and evaluate.batch_size must be >= 1")
    return s


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------
def configure_threads(threads: int) -> None:
    """Use ``threads`` intra-op and ``threads`` inter-op threads in TensorFlow.

    Must run before the first TensorFlow op of the process (TensorFlow ignores
    ``OMP_NUM_THREADS``, which is all Snakemake's ``threads`` sets).  Calling it again
    with the same number is a no-op; a different number after TensorFlow has started
    raises ``RuntimeError``.  The thread count is part of reproducibility: CPU results
    are bit-identical only for the same count.
    """
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    import tensorflow as tf

    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    if intra == threads and inter == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as err:
        raise RuntimeError(
            f"cannot run TensorFlow with {threads} thread(s): it is already initialised with "
            f"intra_op={intra or 'default'}, inter_op={inter or 'default'} threads. "
            "configure_threads() must be called before the first TensorFlow operation, "
            "with a single value per process."
        ) from err


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
def open_shard(shard: Path) -> np.ndarray:
    """Memory-map ``clips.npy`` and check it is a 2-D float32 array."""
    clips = np.load(Path(shard), mmap_mode="r")
    if clips.ndim != 2:
        raise ValueError(f"{shard}: expected shape (n_clips, n_samples), got {clips.shape}")
    if clips.dtype != np.float32:
        raise ValueError(f"{shard}: expected float32, got {clips.dtype}")
    if clips.shape[0] < 1 or clips.shape[1] < 1:
        raise ValueError(f"{shard}: empty shard {clips.shape}")
    return clips


def load_split(split: Path, n_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """Read ``split.csv`` and return the sorted ``clip`` indices of the train and test subsets.

    Rows whose subset is ``unused`` are ignored.  Raises ``ValueError`` for missing
    columns, other subset names, out-of-range or repeated clip indices (a clip in both
    subsets), or an empty train or test subset.
    """
    df = pd.read_csv(split, keep_default_na=False)
    missing = {"clip", "subset"} - set(df.columns)
    if missing:
        raise ValueError(f"{split}: missing column(s) {sorted(missing)}")
    unknown = set(df["subset"].astype(str)) - {"train", "test", "unused"}
    if unknown:
        raise ValueError(f"{split}: unknown subset value(s) {sorted(unknown)}")
    clip = df["clip"].to_numpy()
    if not np.issubdtype(clip.dtype, np.integer):
        raise ValueError(f"{split}: column 'clip' must hold integers")
    if len(clip) and (clip.min() < 0 or clip.max() >= n_clips):
        raise ValueError(f"{split}: clip indices must lie in [0, {n_clips}), got {clip.min()}..{clip.max()}")
    if len(np.unique(clip)) != len(clip):
        raise ValueError(f"{split}: repeated clip indices (a clip in both subsets would leak)")
    subset = df["subset"].astype(str).to_numpy()
    train = np.sort(clip[subset == "train"]).astype(np.int64)
    test = np.sort(clip[subset == "test"]).astype(np.int64)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"{split}: need at least one train and one test clip, got {len(train)} and {len(test)}")
    return train, test


def data_fingerprint(shard: Path, split: Path) -> str:
    """sha256 over the bytes of the shard and the split file."""
    h = hashlib.sha256()
    for path in (Path(shard), Path(split)):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def run_fingerprint(settings: dict, n_samples: int, data_fp: str, threads: int) -> str:
    """sha256 of everything a training trajectory depends on.

    ``train.epochs`` and ``train.max_seconds`` are left out (epoch ``e`` does not depend on
    the total, so a finished run can be extended) and so is the ``evaluate`` section.
    """
    train = {k: v for k, v in settings["train"].items() if k not in ("epochs", "max_seconds")}
    payload = {
        "format": 1,
        "seed": settings["seed"],
        "sample_rate": settings["sample_rate"],
        "model": settings["model"],
        "train": train,
        "n_samples": int(n_samples),
        "data": data_fp,
        "threads": int(threads),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def envelope(waves: np.ndarray, points: int = ENVELOPE_POINTS) -> np.ndarray:
    """Reduce waveforms ``(..., n)`` to ``(..., points)`` keeping, per block, the value of largest magnitude.

    Block ``i`` covers samples ``[floor(i n / points), floor((i + 1) n / points))`` (equal
    up to one sample).  When ``n < points`` blocks are single samples, repeated as needed.
    """
    w = np.asarray(waves, dtype=np.float32)
    n = w.shape[-1]
    starts = (np.arange(points, dtype=np.int64) * n) // points
    hi = np.maximum.reduceat(w, starts, axis=-1)
    lo = np.minimum.reduceat(w, starts, axis=-1)
    return np.where(-lo > hi, lo, hi).astype(np.float32)


def kl_weight_for_epoch(epoch: int, train_settings: dict) -> float:
    """KL weight used during (1-based) ``epoch``: ``kl_beta * min(1, (epoch - 1) / kl_warmup_epochs)``.

    With ``kl_warmup_epochs = W > 0`` the first epoch trains without KL and the full
    weight is reached at epoch ``W + 1``; with ``W = 0`` it is ``kl_beta`` throughout.
    """
    beta = float(train_settings["kl_beta"])
    warm = int(train_settings["kl_warmup_epochs"])
    if warm <= 0:
        return beta
    return beta * min(1.0, (epoch - 1) / warm)


def epoch_batches(seed: int, epoch: int, train_idx: np.ndarray, batch_size: int, steps_per_epoch: int | None) -> list[np.ndarray]:
    """Clip indices of every batch of ``epoch`` (1-based), a pure function of its arguments.

    ``steps_per_epoch=None``: one shuffled pass, the last batch possibly smaller.
    Otherwise ``steps_per_epoch`` full batches drawn from as many fresh permutations as needed.
    """
    rng = np.random.default_rng([int(seed), int(epoch)])
    train_idx = np.asarray(train_idx, dtype=np.int64)
    if steps_per_epoch is None:
        order = rng.permutation(train_idx)
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    need = int(steps_per_epoch) * batch_size
    parts, have = [], 0
    while have < need:
        parts.append(rng.permutation(train_idx))
        have += len(train_idx)
    order = np.concatenate(parts)[:need]
    return [order[i : i + batch_size] for i in range(0, need, batch_size)]


def _make_dataset(clips: np.ndarray, batches: list[np.ndarray], threads: int):
    """tf.data pipeline yielding float32 ``(batch, n_samples)`` batches from the memory-mapped shard."""
    import tensorflow as tf

    n_samples = clips.shape[1]
    batch_size = len(batches[0]) if batches else 1  # all but the last batch have this size

    def load(idx):
        return np.ascontiguousarray(clips[np.asarray(idx)], dtype=np.float32)

    order = np.concatenate(batches) if batches else np.zeros((0,), np.int64)
    ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    ds = ds.map(lambda idx: tf.ensure_shape(tf.numpy_function(load, [idx], tf.float32), (None, n_samples)))
    ds = ds.prefetch(2)
    options = tf.data.Options()
    options.threading.private_threadpool_size = max(1, int(threads))
    options.deterministic = True
    return ds.with_options(options)


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------
def _checkpoint_dirs(ckpt_dir: Path) -> list[Path]:
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if p.is_dir() and p.name.startswith("epoch-") and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _save_checkpoint(ckpt_dir: Path, epoch: int, model, optimizer, history: list[dict], samples: list[np.ndarray], fingerprint: str) -> Path:
    """Write ``epoch-NNNN`` atomically (temp dir + rename), then delete older checkpoints."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"epoch-{epoch:04d}"
    tmp = ckpt_dir / f".tmp-epoch-{epoch:04d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    np.savez(tmp / "weights.npz", *[v.value.numpy() for v in model.weights])
    np.savez(tmp / "optimizer.npz", *[v.value.numpy() for v in optimizer.variables])
    np.save(tmp / "epoch_samples.npy", np.stack(samples).astype(np.float32))
    state = {"epoch": epoch, "fingerprint": fingerprint, "history": history}
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in _checkpoint_dirs(ckpt_dir):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _assign_all(variables, path: Path) -> None:
    with np.load(path) as data:
        arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(arrays) != len(variables):
        raise ValueError(f"{path}: {len(arrays)} arrays for {len(variables)} variables")
    for var, arr in zip(variables, arrays):
        if tuple(var.shape) != tuple(arr.shape):
            raise ValueError(f"{path}: shape {arr.shape} does not fit variable {var.path} {tuple(var.shape)}")
        var.assign(arr)


def _try_resume(ckpt_dir: Path, fingerprint: str, epochs: int, model, optimizer, log: logging.Logger):
    """Restore the newest matching checkpoint; returns ``(epoch, history, samples)`` or ``None``."""
    for tmp in ckpt_dir.glob(".tmp-epoch-*") if ckpt_dir.is_dir() else []:
        shutil.rmtree(tmp, ignore_errors=True)  # half-written by a killed run
    found = _checkpoint_dirs(ckpt_dir)
    if not found:
        return None
    latest = found[-1]
    try:
        state = json.loads((latest / "state.json").read_text())
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable checkpoint %s (%s); starting fresh", latest, err)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    if state.get("fingerprint") != fingerprint:
        log.info("checkpoint %s has a different settings/data/threads fingerprint; starting fresh", latest)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    if int(state["epoch"]) > epochs:
        log.info("checkpoint %s is past the requested %d epochs; starting fresh", latest, epochs)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    _assign_all(model.weights, latest / "weights.npz")
    _assign_all(optimizer.variables, latest / "optimizer.npz")
    samples = list(np.load(latest / "epoch_samples.npy"))
    log.info("resuming from checkpoint %s (epoch %d of %d, fingerprint %s)", latest, state["epoch"], epochs, fingerprint[:12])
    return int(state["epoch"]), list(state["history"]), samples


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def _make_steps(model, optimizer, stft_weight: float, xla: bool):
    import tensorflow as tf

    from genrevae import losses

    x_spec = tf.TensorSpec((None, model.n_samples), tf.float32)
    seed_spec = tf.TensorSpec((2,), tf.int32)

    # fixed signatures: one trace for every batch size (the last batch may be smaller)
    @tf.function(jit_compile=bool(xla), autograph=False, input_signature=[x_spec, seed_spec, tf.TensorSpec((), tf.float32)])
    def train_step(x, seed, kl_weight):
        with tf.GradientTape() as tape:
            t = losses.elbo_terms(model, x, seed, training=True)
            per_clip = -(t["recon"] - kl_weight * t["kl"])
            if stft_weight > 0:
                per_clip = per_clip + stft_weight * losses.multi_resolution_stft_distance(x, model.waveform(t["output"]))
            loss = tf.reduce_mean(per_clip)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function(jit_compile=bool(xla), autograph=False, input_signature=[x_spec, seed_spec])
    def eval_step(x, seed):
        t = losses.elbo_terms(model, x, seed, training=False)
        return t["elbo"], t["recon"], t["kl"]

    return train_step, eval_step


def _evaluate_elbo(eval_step, clips: np.ndarray, idx: np.ndarray, batch_size: int, seed: int) -> dict[str, float]:
    import tensorflow as tf

    sums = np.zeros(3, dtype=np.float64)
    for b, start in enumerate(range(0, len(idx), batch_size)):
        x = np.ascontiguousarray(clips[idx[start : start + batch_size]], dtype=np.float32)
        elbo, recon, kl = eval_step(tf.constant(x), tf.constant([seed + _TEST_STREAM, b], tf.int32))
        sums += [float(tf.reduce_sum(elbo)), float(tf.reduce_sum(recon)), float(tf.reduce_sum(kl))]
    elbo, recon, kl = sums / len(idx)
    return {"test_elbo": elbo, "test_recon": recon, "test_kl": kl}


def _diverged(what: str, value: float, epoch: int, step: int | None, steps: int | None, ckpt: Path | None, out_dir: Path) -> RuntimeError:
    where = f"epoch {epoch}" + (f", step {step}/{steps}" if step is not None else "")
    kept = f"the last good checkpoint {ckpt} is kept" if ckpt else "no checkpoint had been written yet"
    return RuntimeError(
        f"{what} became {value} at {where}; training stopped, {kept} and no model.keras was written "
        f"in {out_dir}. Lower train.learning_rate or check the shard for NaN/inf values."
    )


def train_genre(shard: Path, split: Path, out_dir: Path, settings: dict, threads: int, log: logging.Logger) -> None:
    """Train one genre's VAE and write ``model.keras``, ``history.csv``, ``config.json``,
    ``epoch_samples.npy`` (and ``checkpoints/``) into ``out_dir``; see the module docstring.

    Raises ``RuntimeError`` if the loss (or the test ELBO) becomes NaN/inf; then the last
    good checkpoint is kept and ``model.keras`` is not written.
    """
    configure_threads(threads)
    import keras
    import tensorflow as tf

    from genrevae.model import build_model

    shard, split, out_dir = Path(shard), Path(split), Path(out_dir)
    settings = resolve_settings(settings)
    seed = int(settings["seed"]) % (2**31 - 2)  # TF's stateless seeds are int32 pairs
    tr = settings["train"]
    epochs, batch_size = int(tr["epochs"]), int(tr["batch_size"])
    steps_per_epoch = None if tr["steps_per_epoch"] is None else int(tr["steps_per_epoch"])

    clips = open_shard(shard)
    n_clips, n_samples = clips.shape
    train_idx, test_idx = load_split(split, n_clips)
    data_fp = data_fingerprint(shard, split)
    fingerprint = run_fingerprint(settings, n_samples, data_fp, threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out_dir / "checkpoints"
    for name in OUTPUTS:  # outputs of an earlier run are stale from here on
        if (out_dir / name).exists():
            log.info("removing the previous run's %s", out_dir / name)
            (out_dir / name).unlink()
    log.info(
        "training %s preset (%s likelihood) on %s: %d train / %d test clips of %d samples, %d epochs, %d thread(s)",
        settings["model"]["preset"], settings["model"]["likelihood"], shard, len(train_idx), len(test_idx),
        n_samples, epochs, threads,
    )

    keras.utils.set_random_seed(seed)
    model = build_model(settings["model"], n_samples)
    optimizer = keras.optimizers.Adam(
        learning_rate=float(tr["learning_rate"]),
        beta_1=float(tr["beta_1"]),
        beta_2=float(tr["beta_2"]),
        epsilon=float(tr["epsilon"]),
    )
    optimizer.build(model.trainable_variables)
    train_step, eval_step = _make_steps(model, optimizer, float(tr["stft_weight"]), bool(tr["xla"]))
    sample_seed = (seed, _SAMPLES_STREAM)

    resumed = _try_resume(ckpt_dir, fingerprint, epochs, model, optimizer, log)
    if resumed is None:
        start_epoch, history = 0, []
        samples = [envelope(model.sample(N_EPOCH_SAMPLES, sample_seed))]
        last_ckpt = None
    else:
        start_epoch, history, samples = resumed
        last_ckpt = _checkpoint_dirs(ckpt_dir)[-1]

    show_bar = sys.stderr.isatty()
    budget = tr["max_seconds"]
    for epoch in range(start_epoch + 1, epochs + 1):
        spent = sum(row["seconds"] for row in history)
        if budget is not None and spent >= float(budget):
            log.info("wall-clock budget train.max_seconds=%s reached after %d epochs (%.1f s)", budget, epoch - 1, spent)
            break
        t0 = time.perf_counter()
        kl_weight = kl_weight_for_epoch(epoch, tr)
        batches = epoch_batches(seed, epoch, train_idx, batch_size, steps_per_epoch)
        steps = len(batches)
        first_step = (epoch - 1) * steps  # every epoch has the same number of steps
        bar = keras.utils.Progbar(steps, unit_name="step") if show_bar else None
        loss_sum, n_seen = 0.0, 0
        kl_t = tf.constant(kl_weight, tf.float32)
        for step, x in enumerate(_make_dataset(clips, batches, threads), start=1):
            loss = float(train_step(x, tf.constant([seed, first_step + step - 1], tf.int32), kl_t))
            if not math.isfinite(loss):
                raise _diverged("the training loss", loss, epoch, step, steps, last_ckpt, out_dir)
            loss_sum += loss * int(x.shape[0])
            n_seen += int(x.shape[0])
            if bar is not None:
                bar.update(step, values=[("loss", loss)])
        metrics = _evaluate_elbo(eval_step, clips, test_idx, batch_size, seed)
        for key, value in metrics.items():
            if not math.isfinite(value):
                raise _diverged(key.replace("_", " "), value, epoch, None, None, last_ckpt, out_dir)
        samples.append(envelope(model.sample(N_EPOCH_SAMPLES, sample_seed)))
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / max(n_seen, 1),
            **metrics,
            "kl_weight": kl_weight,
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        last_ckpt = _save_checkpoint(ckpt_dir, epoch, model, optimizer, history, samples, fingerprint)
        log.info(
            "epoch %d/%d: train loss %.4g, test ELBO %.6g (recon %.6g, KL %.4g) nats/clip, KL weight %.3g, %.1f s",
            epoch, epochs, row["train_loss"], row["test_elbo"], row["test_recon"], row["test_kl"], kl_weight, row["seconds"],
        )

    columns = ["epoch", "train_loss", "test_elbo", "test_recon", "test_kl", "kl_weight", "seconds"]
    frame = pd.DataFrame(history, columns=columns)
    write_csv(frame, out_dir / "history.csv")
    config = {
        "settings": settings,
        "n_samples": int(n_samples),
        "n_clips": int(n_clips),
        "n_train": int(len(train_idx)),
        "n_test": int(len(test_idx)),
        "threads": int(threads),
        "data_fingerprint": data_fp,
        "fingerprint": fingerprint,
        "latent_shape": list(model.latent_shape),
        "parameters": int(model.count_params()),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
    }
    write_text(json.dumps(config, indent=2) + "\n", out_dir / "config.json")
    stacked = np.stack(samples).astype(np.float32)
    write_npy(stacked, out_dir / "epoch_samples.npy")
    with atomic_path(out_dir / "model.keras") as tmp_model:
        model.save(tmp_model)
    log.info("wrote %s", out_dir / "model.keras")


def main(argv: list[str] | None = None) -> int:
    """``python -m genrevae.training --shard clips.npy --split split.csv --out-dir DIR [--settings JSON] [--threads N]``."""
    parser = argparse.ArgumentParser(prog="python -m genrevae.training", description=main.__doc__)
    parser.add_argument("--shard", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--settings", default="{}", help="a JSON file or a JSON string (default: all defaults)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    text = args.settings
    if not text.lstrip().startswith("{"):
        text = Path(text).read_text()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    train_genre(args.shard, args.split, args.out_dir, json.loads(text), args.threads, logging.getLogger("genrevae.training"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
