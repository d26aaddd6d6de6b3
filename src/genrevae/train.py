r"""Train one genre's VAE on random windows: reproducible, resumable, and loud about divergence.

:func:`train_genre` reads a memory-mapped shard (``clips.npy``, float32 ``(n_clips,
n_samples)``) and its ``split.csv`` (``clip``, ``track``, ``subset``), and trains the model
described by ``settings["model"]`` for ``train.steps`` gradient steps.  Each step takes
``train.batch_size`` random *windows* of ``train.window_samples`` samples from the train
clips (RAVE, EnCodec and DAC all train on windows of 0.4-3 s: a 30 s clip gives one step's
worth of data, 11 windows give eleven).  The ``conv`` preset is fully convolutional, so
evaluation and generation still run on whole clips.  The ``report`` preset takes one fixed
length and trains on whole clips.

Objective per step, averaged over the batch (``n`` = samples per window):

.. math::

    \mathcal{L} = \frac{-\log p(x \mid z) + \beta_t\, \mathrm{KL}(q(z\mid x)\,\|\,p(z))}{n}
                 + w_{\mathrm{stft}}\, D_{\mathrm{MR\text{-}STFT}}(x, \hat x)

The first term is the negative ELBO per sample (the same bound as per clip, scaled, so the
spectral term has a say whatever the window length), ``beta_t`` warms up linearly over
``train.kl_warmup_steps`` to ``train.kl_beta``, and the multi-resolution STFT distance
(linear and log magnitudes, :func:`genrevae.losses.multi_resolution_stft_distance`) makes the
decoder match spectra where the Gaussian alone would settle for a blurred mean.

**Adversarial fine-tuning** (optional, ``train.adversarial.steps > 0``; RAVE's second phase):
after the ``train.steps`` VAE steps the run goes on for ``adversarial.steps`` more with the
encoder frozen.  Per step the decoder (its weights only; not the encoder, not the Gaussian's
log-scale) takes one Adam step on

.. math::

    \mathcal{L}_G = w_{\mathrm{stft}}\, D_{\mathrm{MR\text{-}STFT}}(x, \hat x)
                  + r_t\,(w_{\mathrm{adv}}\, \mathcal{L}_{\mathrm{adv}} + w_{\mathrm{FM}}\, \mathcal{L}_{\mathrm{FM}}),
    \qquad \hat x = \mathrm{dec}(z),\ z \sim q(z \mid x)\ \text{(or its mean)}

then a multi-scale waveform discriminator (:mod:`genrevae.discriminator`) takes one on its
hinge loss against the same windows and that step's ``\hat x``; ``r_t`` ramps from 0 to 1 over
``adversarial.warmup_steps`` so the decoder is not pushed by an untrained discriminator.  The
test ELBO is still computed at every checkpoint (the decoder no longer maximises it: it usually
falls, and stays a valid bound).  ``model.keras`` remains the VAE alone; the discriminator and
the phase's two optimizers live in the checkpoints.

Every ``train.checkpoint_every`` steps (and after the last) it evaluates the single-sample
test ELBO on the whole test clips, decodes 16 fixed prior draws, logs to TensorBoard and
writes a checkpoint.  Outputs in ``out_dir``:

``history.csv``
    ``step, train_loss, test_elbo, test_recon, test_kl, kl_weight, seconds, phase`` at every
    checkpoint (``train_loss`` per sample averaged since the previous row -- the generator's
    loss in the adversarial phase; the test numbers in nats per clip; ``seconds`` the wall
    time since the previous row, checkpoint writes excluded; ``phase`` ``vae`` or
    ``adversarial``).  With adversarial rows it adds ``disc_loss, gen_spectral,
    gen_adversarial, gen_feature_matching, adversarial_weight`` (empty in VAE rows).  A
    checkpoint interval never spans the two phases.
``config.json``
    The resolved settings, ``n_samples``, thread count, data and run fingerprints, versions.
``epoch_samples.npy``
    float32 ``(checkpoints + 1, 16, 4096)``: the same 16 prior draws decoded before training
    and at every checkpoint, each reduced to 4096 points by :func:`envelope`.
``tensorboard/``
    Scalars (loss, test ELBO, KL, KL weight, log-scale) and, at every checkpoint, a few
    prior draws and test reconstructions as audio: ``tensorboard --logdir results``.  Written
    with TensorFlow's summary ops on any backend; absent where TensorFlow is not installed.
``model.keras``
    Written last, via a temporary name and ``os.replace``: its presence means the run
    finished.  (Outputs of an earlier run in ``out_dir`` are deleted when training starts.)
``checkpoints/step-NNNNNNN/``
    Weights, optimizer state, history and samples so far and a fingerprint of the settings,
    data and thread count.  A re-run resumes from the newest checkpoint when the fingerprint
    matches (``train.steps``, ``train.max_seconds`` and the ``evaluate`` section are not part
    of it, so a run can be extended); otherwise it starts afresh.  Checkpoints of the
    adversarial phase also hold the discriminator and both of the phase's optimizers, and a
    second fingerprint of ``train.adversarial`` (less its ``steps``) and ``train.steps``.

Reproducibility: ``keras.utils.set_random_seed(seed)`` fixes the initial weights; the windows
of step ``t`` are drawn from ``numpy.random.default_rng([seed, t])`` and the
reparameterisation noise uses the stateless seed ``[seed, t]``, so an uninterrupted run and
a killed-then-resumed run produce the same weights (bit for bit on CPU with the same Keras
backend and thread count: each backend draws its own numbers for a seed, which is why the
backend is part of the resume fingerprint; GPU kernels may not be deterministic).  ``train.max_seconds`` stops at the first
checkpoint after the budget is spent: the step count then depends on the machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genrevae import backend
from genrevae.artifacts.shard import read_shard
from genrevae.artifacts.split import read_split
from genrevae.artifacts.trained_genre import (
    ADVERSARIAL_COLUMNS,
    CHECKPOINTS_DIR,
    HISTORY_COLUMNS,
    MODEL_FILES,
    write_config,
    write_epoch_samples,
    write_history,
)
from genrevae.checkpoints import checkpoint_dirs, save_checkpoint, try_resume
from genrevae.config import STAGE_SECTIONS, sections
from genrevae.files import atomic_path, write_text
from genrevae.sizes import N_EPOCH_SAMPLES, window_length

__all__ = [
    "SECTIONS",
    "data_fingerprint",
    "run_fingerprint",
    "adversarial_fingerprint",
    "envelope",
    "kl_weight_for_step",
    "adversarial_weight_for_step",
    "window_batch",
    "train_genre",
    "N_EPOCH_SAMPLES",
    "ENVELOPE_POINTS",
    "OUTPUTS",
]

#: The files train_genre writes into out_dir (model.keras last), besides checkpoints/ and tensorboard/;
#: the names are the genre folder's (genrevae.artifacts.trained_genre.MODEL_FILES).
OUTPUTS = tuple(MODEL_FILES[key] for key in ("model", "history", "config", "epoch_samples"))
#: The reduced length of the prior draws decoded at every checkpoint (N_EPOCH_SAMPLES of them).
ENVELOPE_POINTS = 4096
#: Second word of the stateless seeds of the fixed prior draws and of the test ELBO noise.
_SAMPLES_STREAM = 0x5A3D
_TEST_STREAM = 1
#: Added to the seed before the discriminator's initial weights are drawn.
_DISCRIMINATOR_STREAM = 0xD15C
# The columns of history.csv (HISTORY_COLUMNS, ADVERSARIAL_COLUMNS) are defined with its reader
# and writer in genrevae.artifacts.trained_genre.

#: The config sections training reads (the stage table, genrevae.config.STAGE_SECTIONS), and all
#: that config.json records: what the run used, nothing else.
SECTIONS = STAGE_SECTIONS["train"]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
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

    ``train.steps``, ``train.max_seconds`` and ``train.tensorboard_audio`` are left out (step
    ``t`` does not depend on the total, so a finished run can be extended) and so is the
    ``evaluate`` section.  So is ``train.adversarial``: the VAE steps do not depend on it (a
    finished run can go on into the adversarial phase); :func:`adversarial_fingerprint` covers
    it for the checkpoints of that phase.
    """
    skip = ("steps", "max_seconds", "tensorboard_audio", "adversarial")
    train = {k: v for k, v in settings["train"].items() if k not in skip}
    payload = {
        "format": 2,
        "backend": backend.name(),
        "seed": settings["seed"],
        "sample_rate": settings["sample_rate"],
        "model": settings["model"],
        "train": train,
        "n_samples": int(n_samples),
        "data": data_fp,
        "threads": int(threads),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def adversarial_fingerprint(fingerprint: str, settings: dict) -> str:
    """sha256 of what the adversarial phase's trajectory depends on besides :func:`run_fingerprint`:
    ``train.adversarial`` without its ``steps`` (raising them continues a run) and ``train.steps``,
    where the phase starts.  Checkpoints of that phase carry it; a mismatch starts afresh."""
    adversarial = {k: v for k, v in settings["train"]["adversarial"].items() if k != "steps"}
    payload = {"run": fingerprint, "vae_steps": int(settings["train"]["steps"]), "adversarial": adversarial}
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


def kl_weight_for_step(step: int, train_settings: dict) -> float:
    """KL weight at (0-based) ``step``: ``kl_beta * min(1, step / kl_warmup_steps)``.

    With ``kl_warmup_steps = W > 0`` the first step trains without KL and the full weight is
    reached at step ``W``; with ``W = 0`` it is ``kl_beta`` throughout.
    """
    beta = float(train_settings["kl_beta"])
    warm = int(train_settings["kl_warmup_steps"])
    if warm <= 0:
        return beta
    return beta * min(1.0, step / warm)


def adversarial_weight_for_step(step: int, train_settings: dict) -> float:
    """Ramp of the adversarial and feature-matching terms at (0-based, global) ``step`` of the
    adversarial phase: ``min(1, (step - train.steps) / warmup_steps)``, 0 at its first step
    (the discriminator trains from there on), 1 throughout when ``warmup_steps`` is 0."""
    warm = int(train_settings["adversarial"]["warmup_steps"])
    into = int(step) - int(train_settings["steps"])
    if warm <= 0:
        return 1.0
    return min(1.0, max(0, into) / warm)


def window_batch(seed: int, step: int, train_idx: np.ndarray, batch_size: int, n_samples: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip indices and start offsets of the windows of (0-based) ``step``: a pure function of its
    arguments (``numpy.random.default_rng([seed, step])``), so a resumed run sees the same data.

    Clips are drawn uniformly with replacement, offsets uniformly in ``[0, n_samples - window]``.
    """
    rng = np.random.default_rng([int(seed), int(step)])
    clips = rng.choice(np.asarray(train_idx, dtype=np.int64), size=int(batch_size), replace=True)
    offsets = rng.integers(0, int(n_samples) - int(window) + 1, size=int(batch_size))
    return clips, offsets


def read_windows(clips: np.ndarray, rows: np.ndarray, offsets: np.ndarray, window: int) -> np.ndarray:
    """``clips[rows[i], offsets[i] : offsets[i] + window]`` stacked: float32 ``(batch, window)``."""
    return np.stack([np.asarray(clips[r, o : o + window], dtype=np.float32) for r, o in zip(rows, offsets)])


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def _make_steps(model, optimizer, train_settings: dict):
    """``(train_step, eval_step)``, each compiled once for this backend (see :mod:`genrevae.backend`).

    ``train_step(x, seed, kl_weight) -> loss`` applies one Adam update; ``eval_step(x, seed) ->
    (elbo, recon, kl)`` per clip.  Arguments are tensors, so one trace serves every step.
    """
    from genrevae import losses
    from genrevae.objectives import training_loss

    stft_weight, stft_sizes = float(train_settings["stft_weight"]), list(train_settings["stft_sizes"])

    def loss_only(x, seed, kl_weight):
        return training_loss(model, x, seed, kl_weight, stft_weight, stft_sizes)[0]

    def elbo(x, seed):
        t = losses.elbo_terms(model, x, seed, training=False)
        return t["elbo"], t["recon"], t["kl"]

    train_step = backend.make_train_step(loss_only, model, optimizer, jit_compile=bool(train_settings["xla"]))
    eval_step = backend.compile_function(elbo, model, jit_compile=False)
    return train_step, eval_step


class _AdversarialPhase:
    """The discriminator, the phase's two Adam optimizers (decoder, discriminator) and their
    compiled steps.  Built only when ``train.adversarial.steps > 0``; the discriminator's initial
    weights are a function of the seed alone (whether the phase starts in this process or not)."""

    def __init__(self, model, train_settings: dict, seed: int):
        import keras

        from genrevae.discriminator import build_discriminator
        from genrevae.objectives import discriminator_loss, generator_loss

        a = train_settings["adversarial"]
        self.settings = a
        keras.utils.set_random_seed((seed + _DISCRIMINATOR_STREAM) % (backend.SEED_MODULUS - 1))
        self.disc = build_discriminator(int(a["scales"]), a["channels"], int(a["kernel_size"]), int(a["stride"]))

        def adam():
            return keras.optimizers.Adam(
                learning_rate=float(a["learning_rate"]), beta_1=float(a["beta_1"]), beta_2=float(a["beta_2"]),
                epsilon=float(train_settings["epsilon"]),
            )  # fmt: skip

        decoder_variables = list(model.decoder.trainable_variables)
        self.gen_optimizer, self.disc_optimizer = adam(), adam()
        self.gen_optimizer.build(decoder_variables)
        self.disc_optimizer.build(self.disc.trainable_variables)
        stft_weight, stft_sizes = float(train_settings["stft_weight"]), list(train_settings["stft_sizes"])
        scales, jit = int(a["scales"]), bool(train_settings["xla"])

        def gen_loss(x, seed, weight):
            return generator_loss(model, self.disc, x, seed, weight, a, stft_weight, stft_sizes)

        def disc_loss(x, y):
            return discriminator_loss(self.disc, x, y, scales)

        self.gen_step = backend.make_train_step(
            gen_loss, model, self.gen_optimizer, jit_compile=jit, trainable=decoder_variables, reads=[self.disc], has_aux=True
        )
        self.disc_step = backend.make_train_step(disc_loss, self.disc, self.disc_optimizer, jit_compile=jit)

    def state(self) -> dict[str, list]:
        """The variables a checkpoint of the phase keeps, by file stem."""
        return {
            "discriminator": list(self.disc.weights),
            "discriminator_optimizer": list(self.disc_optimizer.variables),
            "generator_optimizer": list(self.gen_optimizer.variables),
        }

    def step(self, x, seed, weight) -> tuple[float, float, np.ndarray]:
        """One decoder update, then one discriminator update on the same windows and the decoder's
        output before its update: ``(generator loss, discriminator loss, parts)``."""
        loss, (y, parts) = self.gen_step(x, seed, weight)
        disc_loss = self.disc_step(x, y)
        return float(backend.to_numpy(loss)), float(backend.to_numpy(disc_loss)), backend.to_numpy(parts).astype(np.float64)


def _evaluate_elbo(eval_step, clips: np.ndarray, idx: np.ndarray, batch_size: int, seed: int) -> dict[str, float]:
    sums = np.zeros(3, dtype=np.float64)
    for b, start in enumerate(range(0, len(idx), batch_size)):
        x = np.ascontiguousarray(clips[idx[start : start + batch_size]], dtype=np.float32)
        terms = eval_step(x, backend.seed_pair((seed + _TEST_STREAM, b)))
        sums += [float(backend.to_numpy(v).astype(np.float64).sum()) for v in terms]
    elbo, recon, kl = sums / len(idx)
    return {"test_elbo": elbo, "test_recon": recon, "test_kl": kl}


def _tensorboard_write(writer, model, row: dict, clips: np.ndarray, test_idx: np.ndarray, sample_seed, n_audio: int, sample_rate: int) -> None:
    """Scalars of one history row and, when ``n_audio`` > 0, a few prior draws and test
    reconstructions as audio (what Keras users watch during long runs)."""
    if writer is None:
        return
    step = int(row["step"])
    for key in (*(k for k in HISTORY_COLUMNS if k not in ("step", "phase")), *ADVERSARIAL_COLUMNS):
        if key in row:
            writer.scalar(key, float(row[key]), step)
    if model.log_scale is not None:
        writer.scalar("log_scale", float(backend.to_numpy(model.log_scale)), step)
    if n_audio > 0:
        writer.audio("prior_samples", model.sample(n_audio, sample_seed), sample_rate, step)
        x = np.ascontiguousarray(clips[test_idx[:n_audio]], dtype=np.float32)
        mean, _ = model.encode(x)
        recon = backend.to_numpy(model.waveform(model.decode(mean, length=x.shape[1])))
        writer.audio("test_reconstructions", recon, sample_rate, step)
    writer.flush()


def _diverged(what: str, value: float, step: int, steps: int, ckpt: Path | None, out_dir: Path) -> RuntimeError:
    where = f"step {step}/{steps}"
    kept = f"the last good checkpoint {ckpt} is kept" if ckpt else "no checkpoint had been written yet"
    return RuntimeError(
        f"{what} became {value} at {where}; training stopped, {kept} and no model.keras was written "
        f"in {out_dir}. Lower train.learning_rate or check the shard for NaN/inf values."
    )


def train_genre(shard: Path, split: Path, out_dir: Path, settings: dict, threads: int, log: logging.Logger) -> None:
    """Train one genre's VAE and write ``model.keras``, ``history.csv``, ``config.json``,
    ``epoch_samples.npy`` (and ``checkpoints/``, ``tensorboard/``) into ``out_dir``; see the
    module docstring.

    Raises ``RuntimeError`` if the loss (or the test ELBO) becomes NaN/inf; then the last
    good checkpoint is kept and ``model.keras`` is not written.
    """
    backend.configure_threads(threads)
    import keras

    from genrevae.model import build_model

    shard, split, out_dir = Path(shard), Path(split), Path(out_dir)
    settings = sections(settings, SECTIONS)
    seed = int(settings["seed"]) % (backend.SEED_MODULUS - 1)  # stateless seeds are pairs of 32-bit words
    tr = settings["train"]
    steps, batch_size, every = int(tr["steps"]), int(tr["batch_size"]), int(tr["checkpoint_every"])

    clips = read_shard(shard)
    n_clips, n_samples = clips.shape
    subsets = read_split(split, n_clips)
    train_idx, test_idx = subsets.train, subsets.test
    data_fp = data_fingerprint(shard, split)
    fingerprint = run_fingerprint(settings, n_samples, data_fp, threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out_dir / CHECKPOINTS_DIR
    for name in OUTPUTS:  # outputs of an earlier run are stale from here on
        if (out_dir / name).exists():
            log.info("removing the previous run's %s", out_dir / name)
            (out_dir / name).unlink()

    keras.utils.set_random_seed(seed)
    model = build_model(settings["model"], n_samples)
    window = window_length(tr, n_samples, fixed_length=settings["model"]["preset"] == "report")
    log.info(
        "training %s preset (%s likelihood, %d parameters) on %s: %d train / %d test clips of %d samples, "
        "%d steps of %d windows of %d samples, %d thread(s)",
        settings["model"]["preset"], settings["model"]["likelihood"], model.count_params(), shard, len(train_idx),
        len(test_idx), n_samples, steps, batch_size, window, threads,
    )  # fmt: skip
    optimizer = keras.optimizers.Adam(
        learning_rate=float(tr["learning_rate"]),
        beta_1=float(tr["beta_1"]),
        beta_2=float(tr["beta_2"]),
        epsilon=float(tr["epsilon"]),
    )
    optimizer.build(model.trainable_variables)
    train_step, eval_step = _make_steps(model, optimizer, tr)
    sample_seed = (seed, _SAMPLES_STREAM)
    adv_steps = int(tr["adversarial"]["steps"])
    total = steps + adv_steps
    phase2, adv_checkpoint = None, None
    if adv_steps > 0:
        phase2 = _AdversarialPhase(model, tr, seed)
        adv_checkpoint = (adversarial_fingerprint(fingerprint, settings), phase2.state())
        log.info(
            "then %d adversarial steps (encoder frozen; a %d-scale discriminator of %d parameters)",
            adv_steps, int(tr["adversarial"]["scales"]), phase2.disc.count_params(),
        )  # fmt: skip

    resumed = try_resume(ckpt_dir, fingerprint, total, model, optimizer, log, adv_checkpoint)
    if resumed is None:
        shutil.rmtree(out_dir / "tensorboard", ignore_errors=True)  # a fresh run gets fresh curves
        step, history = 0, []
        samples = [envelope(model.sample(N_EPOCH_SAMPLES, sample_seed))]
        last_ckpt = None
    else:
        step, history, samples = resumed
        last_ckpt = checkpoint_dirs(ckpt_dir)[-1]
    writer = backend.summary_writer(out_dir / "tensorboard")
    if writer is None:
        log.info("TensorFlow is not installed: no TensorBoard log (history.csv has the same scalars)")

    budget = tr["max_seconds"]
    show_bar = sys.stderr.isatty()
    while step < total:
        spent = sum(row["seconds"] for row in history)
        if budget is not None and spent >= float(budget):
            log.info("wall-clock budget train.max_seconds=%s reached after %d steps (%.1f s)", budget, step, spent)
            break
        t0 = time.perf_counter()
        adversarial = step >= steps  # each phase's last interval is cut short at its end
        stop = min(total if adversarial else steps, (step // every + 1) * every)
        bar = keras.utils.Progbar(stop - step, unit_name="step") if show_bar else None
        loss_sum, disc_sum, parts_sum = 0.0, 0.0, np.zeros(3)
        for t in range(step, stop):
            rows, offsets = window_batch(seed, t, train_idx, batch_size, n_samples, window)
            x = read_windows(clips, rows, offsets, window)
            if adversarial:
                weight = np.array(adversarial_weight_for_step(t, tr), dtype=np.float32)
                loss, disc_loss, parts = phase2.step(x, backend.seed_pair((seed, t)), weight)
                if not math.isfinite(disc_loss):
                    raise _diverged("the discriminator loss", disc_loss, t + 1, total, last_ckpt, out_dir)
                disc_sum, parts_sum = disc_sum + disc_loss, parts_sum + parts
            else:
                kl_weight = np.array(kl_weight_for_step(t, tr), dtype=np.float32)
                loss = float(backend.to_numpy(train_step(x, backend.seed_pair((seed, t)), kl_weight)))
            if not math.isfinite(loss):
                what = "the generator loss (adversarial phase)" if adversarial else "the training loss"
                raise _diverged(what, loss, t + 1, total, last_ckpt, out_dir)
            loss_sum += loss
            if bar is not None:
                bar.update(t + 1 - step, values=[("loss", loss)])
        metrics = _evaluate_elbo(eval_step, clips, test_idx, batch_size, seed)
        for key, value in metrics.items():
            if not math.isfinite(value):
                raise _diverged(key.replace("_", " "), value, stop, total, last_ckpt, out_dir)
        samples.append(envelope(model.sample(N_EPOCH_SAMPLES, sample_seed)))
        n_done = stop - step
        row = {
            "step": stop,
            "train_loss": loss_sum / n_done,
            **metrics,
            "kl_weight": 0.0 if adversarial else kl_weight_for_step(stop - 1, tr),  # no KL term in the adversarial phase
            "seconds": time.perf_counter() - t0,
            "phase": "adversarial" if adversarial else "vae",
        }
        if adversarial:
            spectral, adv, fm = parts_sum / n_done
            row.update(disc_loss=disc_sum / n_done, gen_spectral=spectral, gen_adversarial=adv, gen_feature_matching=fm,
                       adversarial_weight=adversarial_weight_for_step(stop - 1, tr))  # fmt: skip
        history.append(row)
        step = stop
        last_ckpt = save_checkpoint(ckpt_dir, step, model, optimizer, history, samples, fingerprint, adv_checkpoint if adversarial else None)
        _tensorboard_write(writer, model, row, clips, test_idx, sample_seed, int(tr["tensorboard_audio"]), int(settings["sample_rate"]))
        log.info(
            "step %d/%d (%s): train loss %.4g per sample, test ELBO %.6g (recon %.6g, KL %.4g) nats/clip = %.4f bits/sample, "
            "KL weight %.3g, %.1f s",
            step, total, row["phase"], row["train_loss"], row["test_elbo"], row["test_recon"], row["test_kl"],
            row["test_elbo"] / (n_samples * math.log(2.0)), row["kl_weight"], row["seconds"],
        )  # fmt: skip
        if adversarial:
            log.info(
                "  adversarial: discriminator loss %.4g, MR-STFT %.4g, hinge %.4g, feature matching %.4g, weight %.3g",
                row["disc_loss"], row["gen_spectral"], row["gen_adversarial"], row["gen_feature_matching"], row["adversarial_weight"],
            )  # fmt: skip
    if writer is not None:
        writer.close()

    columns = list(HISTORY_COLUMNS)
    if any(row.get("phase", "vae") == "adversarial" for row in history):
        columns += ADVERSARIAL_COLUMNS
    frame = pd.DataFrame([{"phase": "vae", **row} for row in history], columns=columns)
    write_history(frame, out_dir / MODEL_FILES["history"])
    config = {
        "settings": settings,
        "n_samples": int(n_samples),
        "n_clips": int(n_clips),
        "n_train": int(len(train_idx)),
        "n_test": int(len(test_idx)),
        "window_samples": int(window),
        "steps_done": int(step),
        "vae_steps_done": int(min(step, steps)),
        "adversarial_steps_done": int(max(0, step - steps)),
        "threads": int(threads),
        "data_fingerprint": data_fp,
        "fingerprint": fingerprint,
        "adversarial_fingerprint": None if adv_checkpoint is None else adv_checkpoint[0],
        "latent_shape": list(model.latent_shape),
        "parameters": int(model.count_params()),
        "versions": backend.versions(),
    }
    write_config(config, out_dir / MODEL_FILES["config"])
    write_epoch_samples(np.stack(samples).astype(np.float32), out_dir / MODEL_FILES["epoch_samples"])
    with atomic_path(out_dir / MODEL_FILES["model"]) as tmp_model:
        model.save(tmp_model)
    log.info("wrote %s", out_dir / MODEL_FILES["model"])
