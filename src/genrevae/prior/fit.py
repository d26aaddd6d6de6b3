"""Fitting a :class:`~genrevae.prior.model.LatentPrior` to the posteriors of the training clips.

The training loop, and the data it draws: the typed ``prior`` settings, batches of fresh
posterior draws (a pure function of seed and step), the aggregate posterior's moments for the
standardisation, and the posterior draws the VAR baseline is fitted to.  Kept apart from the
model so that what a saved prior *is* does not depend on how it was trained.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from genrevae import backend
from genrevae.config import section
from genrevae.prior.model import MIN_STD, LatentPrior, Tensor
from genrevae.prior.report import _learned_log_prob
from genrevae.prior.var import VarModel, _seed_word, fit_var


#: Steps between two progress lines / history records of :func:`fit_prior`.
LOG_EVERY = 100

#: Global gradient-norm clip of the prior's Adam: a mixture NLL occasionally produces a
#: large gradient when a component collapses onto a point; clipping keeps one such batch
#: from wrecking the GRU.  Far above the typical norm, so it rarely acts.
GRADIENT_CLIPNORM = 10.0

#: Posterior draws per train clip that the VAR is fitted to.
VAR_FIT_DRAWS = 4

#: Random stream (with the seed) that picks the train clips held out of the fit.
VALIDATION_STREAM = 0x7A1

#: Random stream (with the seed and step) of scheduled sampling's masks and draws.
SCHEDULED_SAMPLING_STREAM = 0x55


def _typed(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``prior`` section (resolved by :func:`genrevae.config.section`) with Python numbers:
    the rates and the budget as floats, every count as an int (``network`` stays a string)."""
    floats = ("learning_rate", "temperature", "max_seconds", "dropout", "scheduled_sampling")
    return {k: v if v is None or isinstance(v, str) else float(v) if k in floats else int(v) for k, v in settings.items()}


def _check_posteriors(mean: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float32)
    logvar = np.asarray(logvar, dtype=np.float32)
    if mean.ndim != 3 or mean.shape[0] < 1 or mean.shape[1] < 1 or mean.shape[2] < 1:
        raise ValueError(f"train_mean must have shape (clips, frames, channels), got {mean.shape}")
    if logvar.shape != mean.shape:
        raise ValueError(f"train_logvar shape {logvar.shape} differs from train_mean shape {mean.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(logvar))):
        raise ValueError("train_mean and train_logvar must be finite")
    return mean, logvar


def aggregate_posterior_moments(mean: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of ``z ~ q(z|x)`` pooled over clips and frames.

    Exact moments of the mixture of the posteriors: ``E[z] = avg(mu)``,
    ``Var[z] = avg(mu^2 + sigma^2) - E[z]^2`` (no sampling needed).
    """
    mu = np.asarray(mean, dtype=np.float64)
    var = np.exp(np.asarray(logvar, dtype=np.float64))
    m = mu.mean(axis=(0, 1))
    v = (mu * mu + var).mean(axis=(0, 1)) - m * m
    return m, np.sqrt(np.maximum(v, MIN_STD**2))


def _training_batch(
    mean: np.ndarray, logvar: np.ndarray, batch_size: int, segment: int, seed: int, step: int
) -> np.ndarray:
    """Segments of fresh posterior draws for ``step``; a pure function of ``(seed, step)``.

    ``batch_size`` random clips (with replacement), a random offset each, and
    ``z = mean + exp(logvar / 2) * eps`` with new ``eps``.
    """
    rng = np.random.default_rng([seed, step])
    clips = rng.integers(0, mean.shape[0], size=batch_size)
    offsets = rng.integers(0, mean.shape[1] - segment + 1, size=batch_size)
    index = offsets[:, None] + np.arange(segment)[None, :]
    mu = mean[clips[:, None], index]
    lv = logvar[clips[:, None], index]
    eps = rng.standard_normal(mu.shape, dtype=np.float32)
    return (mu + np.exp(0.5 * lv) * eps).astype(np.float32)


def scheduled_sampling_draws(
    shape: tuple[int, int, int], mixtures: int, rate: float, seed: int, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The random numbers of one scheduled-sampling step, a pure function of ``(seed, step)``
    from a stream of their own (the batches are those of a fit without it): which frames of
    the history are the model's own draws (``mask (batch, T)``, each with probability
    ``rate``), and the uniforms ``(batch, T, K)`` and normals ``(batch, T, C)`` of those draws."""
    batch, frames, channels = shape
    rng = np.random.default_rng([seed, step, SCHEDULED_SAMPLING_STREAM])
    mask = (rng.random((batch, frames)) < rate).astype(np.float32)
    uniform = rng.random((batch, frames, mixtures), dtype=np.float32)
    noise = rng.standard_normal((batch, frames, channels), dtype=np.float32)
    return mask, uniform, noise


def fit_steps(
    train_step: Callable[..., Any],
    batch_at: Callable[[int], Sequence[np.ndarray]],
    steps: int,
    max_seconds: float | None,
    on_record: Callable[[int, float, float], None],
    name: str = "prior",
) -> int:
    """The training loop every prior shares: ``train_step(*batch_at(step))`` for step 1..``steps``
    (each batch a pure function of its step, so a fit is reproducible), stopping after the first
    step at or past ``max_seconds`` of wall clock.  Every ``LOG_EVERY`` steps, at the last step
    and when time runs out it calls ``on_record(step, mean loss since the previous record,
    seconds since the start)``.  A non-finite loss raises FloatingPointError naming ``name`` and
    the step.  Returns the number of steps taken."""
    start = time.perf_counter()
    total, count, step = 0.0, 0, 0
    for step in range(1, steps + 1):
        loss = float(backend.to_numpy(train_step(*(ops.convert_to_tensor(a, "float32") for a in batch_at(step)))))
        if not math.isfinite(loss):
            raise FloatingPointError(f"{name}: non-finite loss {loss} at step {step}")
        total, count = total + loss, count + 1
        elapsed = time.perf_counter() - start
        out_of_time = max_seconds is not None and elapsed >= max_seconds
        if step % LOG_EVERY == 0 or step == steps or out_of_time:
            on_record(step, total / count, elapsed)
            total, count = 0.0, 0
        if out_of_time:
            break
    return step


def posterior_draws(mean: np.ndarray, logvar: np.ndarray, seed: int, draws: int = VAR_FIT_DRAWS) -> list[np.ndarray]:
    """``draws`` sequences ``z = mean + exp(logvar / 2) eps`` per clip (``numpy.random.default_rng([seed, -1])``):
    the data the VAR is fitted to, so it sees the same posterior spread as the GRU does."""
    rng = np.random.default_rng([int(seed), 2**31])
    out = []
    for _ in range(int(draws)):
        eps = rng.standard_normal(mean.shape)
        out.extend(list(np.asarray(mean, np.float64) + np.exp(0.5 * np.asarray(logvar, np.float64)) * eps))
    return out


def fit_prior(
    train_mean: np.ndarray,
    train_logvar: np.ndarray,
    settings: Mapping[str, Any],
    seed: int,
    log: logging.Logger | None = None,
    var_model: "VarModel | None" = None,
    validation_mean: np.ndarray | None = None,
) -> tuple[LatentPrior, list[dict[str, float]]]:
    """Fit a :class:`LatentPrior` to ``z ~ q(z|x)`` of the training clips.

    Args:
        train_mean, train_logvar: ``(clips, frames, C)`` posterior means and
            log-variances of the TRAIN clips.
        settings: the ``prior`` config section (missing keys take the schema's defaults, a bad
            value raises ConfigError naming it; ``var_order`` and ``temperature`` are not used here).
        seed: fixes the initial weights (``keras.utils.set_random_seed``) and, with the
            step number, every batch (:func:`_training_batch`): on CPU with the same
            thread count two runs give bit-identical weights -- unless ``max_seconds``
            stops them after different numbers of steps.
        log: progress every ``LOG_EVERY`` steps (``logging.INFO``).
        validation_mean: ``(clips, frames, C)`` posterior means of clips held out of the fit
            (early stopping): at every history record their NLL per frame is measured, and
            the weights of the best record are the ones returned.  None: the last step's.

    Each step minimises the mean negative log-likelihood per frame
    ``-log p(z) / segment_frames`` of ``batch_size`` random segments of
    ``segment_frames`` frames (all frames if the clips are shorter) with Adam, for
    ``steps`` steps or until ``max_seconds`` of wall clock are spent.  Segments start
    at the zero start frame, like sampling does.

    Returns the model and a history: one dict per ``LOG_EVERY`` steps and one for the
    last step, ``{"step", "nll_per_frame" (mean over the steps since the previous
    record, nats, original units; with scheduled sampling scored after the mixed pasts, so not the
    model's likelihood), "seconds" (since the start)}``, with
    ``"validation_nll_per_frame"`` where ``validation_mean`` is given.
    """
    s = _typed(section("prior", settings))
    mean, logvar = _check_posteriors(train_mean, train_logvar)
    seed = _seed_word(seed)
    segment = min(s["segment_frames"], mean.shape[1])
    channels = mean.shape[2]

    keras.utils.set_random_seed(seed)
    if var_model is None:
        var_model = fit_var(posterior_draws(mean, logvar, seed), min(s["var_order"], mean.shape[1] - 1))
    prior = LatentPrior(
        channels, hidden=s["hidden"], layers=s["layers"], mixtures=s["mixtures"], order=var_model.order,
        network=s["network"], heads=s["heads"], context_frames=s["context_frames"], dropout=s["dropout"],
    )  # fmt: skip
    prior.set_standardization(*aggregate_posterior_moments(mean, logvar))
    prior.set_linear(var_model)
    optimizer = keras.optimizers.Adam(learning_rate=s["learning_rate"], global_clipnorm=GRADIENT_CLIPNORM)
    optimizer.build(prior.trainable_variables)  # the slots exist before the step is compiled

    def loss_fn(z: Tensor, *scheduled: Tensor) -> Tensor:
        """Mean NLL per frame of the batch; the VAR, whitening and standardisation weights are
        non-trainable and reach the compiled step through the seam, like the network's.

        With scheduled sampling (``scheduled`` = mask, uniforms, normals) each frame is scored
        after a past in which the masked frames are the model's own one-step draws (parallel
        scheduled sampling, Duckworth et al. 2019): sampling feeds the network its own output,
        and a network trained only on true pasts drifts off them.  No gradient flows through
        the draws."""
        frames = ops.cast(ops.shape(z)[1], "float32")
        history = None
        if scheduled:
            mask, uniform, noise = scheduled
            drawn = ops.stop_gradient(prior.one_step_draws(z, uniform, noise, training=True))
            history = ops.where(mask[..., None] > 0, drawn, z)
        return -ops.mean(prior.log_prob(z, training=True, history=history)) / frames

    # On TensorFlow a plain graph: with XLA the GRU's step measured ~1.5x slower on CPU (hidden
    # 128, 16 x 128 frames) after a longer compile.  JAX always compiles with XLA.
    train_step = backend.make_train_step(loss_fn, prior, optimizer, jit_compile=False)

    if log is not None:
        log.info(
            "prior: %d clips x %d frames x %d channels; %s %d x %d, %d mixtures, %d params; "
            "%d steps of %d segments x %d frames",
            mean.shape[0], mean.shape[1], channels, s["network"], s["layers"], s["hidden"], s["mixtures"],
            prior.count_params(), s["steps"], s["batch_size"], segment,
        )  # fmt: skip
    history: list[dict[str, float]] = []
    best: tuple[float, list[np.ndarray]] | None = None  # (validation NLL per frame, weights)

    def batch_at(step: int) -> list[np.ndarray]:
        z = _training_batch(mean, logvar, s["batch_size"], segment, seed, step)
        if s["scheduled_sampling"] > 0:
            return [z, *scheduled_sampling_draws(z.shape, s["mixtures"], s["scheduled_sampling"], seed, step)]
        return [z]

    def on_record(step: int, loss: float, elapsed: float) -> None:
        nonlocal best
        record = {"step": step, "nll_per_frame": loss, "seconds": elapsed}
        if validation_mean is not None:
            record["validation_nll_per_frame"] = validation_nll = _nll_per_frame(prior, validation_mean)
            if best is None or validation_nll < best[0]:
                best = (validation_nll, [backend.to_numpy(w).copy() for w in prior.weights])
        history.append(record)
        if log is not None:
            held_out = record.get("validation_nll_per_frame")
            log.info("prior step %d: nll/frame %.4f%s (%.1f s)", step, loss,
                     "" if held_out is None else f", held-out clips {held_out:.4f}", elapsed)  # fmt: skip

    taken = fit_steps(train_step, batch_at, s["steps"], s["max_seconds"], on_record)
    if log is not None and taken < s["steps"]:
        log.info("prior: max_seconds=%s reached after %d steps", s["max_seconds"], taken)
    if best is not None:  # early stopping: the weights the held-out clips liked best
        prior.set_weights(best[1])
    return prior, history


def _nll_per_frame(prior: LatentPrior, z: np.ndarray) -> float:
    """Mean negative log-likelihood per frame of whole sequences ``z`` (nats), scored as the
    held-out report scores them."""
    return -float(np.mean(_learned_log_prob(prior, z))) / z.shape[1]


def validation_clips(n_train: int, wanted: int, seed: int) -> np.ndarray:
    """Which of ``n_train`` train clips (positions) the prior's fit holds out for early
    stopping: ``wanted``, at most half of them, drawn from ``(seed, VALIDATION_STREAM)``."""
    k = min(int(wanted), n_train // 2)
    rng = np.random.default_rng([_seed_word(seed), VALIDATION_STREAM])
    return np.sort(rng.permutation(n_train)[:k])
