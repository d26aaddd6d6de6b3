"""The learned autoregressive latent prior and its baselines (tiny sizes, 1 backend thread).

Runs on whichever Keras backend ``KERAS_BACKEND`` chooses (TensorFlow by default, JAX); one test
carries a saved prior to the other backend in a subprocess.  No test pins sampled numbers: they
come from the backend's own stateless generators, which differ between backends (and changed
when the sampler moved from TensorFlow's categorical sampler to Gumbel-max)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from conftest import REPO_ROOT, backend_threads
from genrevae import backend
from genrevae.config import section
from genrevae.prior import (
    LatentPrior,
    VarModel,
    fit_prior,
    fit_var,
    prior_report,
    standard_normal_log_prob,
)
from genrevae.prior.fit import validation_clips

# Pin the backend to 1 thread at collection time, before any op runs (bit-reproducibility
# depends on the thread count, and the machine's cores are shared).
THREADS = backend_threads()

CHANNELS = 3
FRAMES = 40
SEGMENT = 32
AR_COEFFICIENT = 0.95


def small_settings(**overrides) -> dict:
    settings = dict(
        hidden=16,
        layers=1,
        mixtures=2,
        steps=200,
        batch_size=8,
        segment_frames=SEGMENT,
        learning_rate=3e-3,
        var_order=2,
        temperature=1.0,
        max_seconds=None,
        network="gru",
        heads=2,
        context_frames=8,
        validation_clips=0,
        dropout=0.0,
        scheduled_sampling=0.0,
    )
    settings.update(overrides)
    return settings


def ar1_latents(clips: int, seed: int, frames: int = FRAMES) -> np.ndarray:
    """Stationary AR(1) per channel with unit marginal variance: N(0, I) fits each frame's
    marginal exactly, so any gain of a prior over it comes from the dynamics."""
    rng = np.random.default_rng(seed)
    noise = math.sqrt(1.0 - AR_COEFFICIENT**2)
    z = np.empty((clips, frames, CHANNELS))
    x = rng.standard_normal((clips, CHANNELS))
    for t in range(frames):
        z[:, t] = x
        x = AR_COEFFICIENT * x + noise * rng.standard_normal((clips, CHANNELS))
    return z.astype(np.float32)


def posterior_logvar(mean: np.ndarray, variance: float = 1e-3) -> np.ndarray:
    return np.full_like(mean, math.log(variance))


@pytest.fixture(scope="module")
def ar_data() -> tuple[np.ndarray, np.ndarray]:
    return ar1_latents(24, seed=0), ar1_latents(12, seed=1)


@pytest.fixture(scope="module")
def fitted(ar_data) -> tuple[LatentPrior, list[dict]]:
    train, _ = ar_data
    return fit_prior(train, posterior_logvar(train), small_settings(), seed=3)


def mixture_log_pdf(u: np.ndarray, logits: np.ndarray, means: np.ndarray, log_scales: np.ndarray) -> np.ndarray:
    """Reference numpy/scipy mixture log-density; u (n, C), logits (n, K), means (n, K, C)."""
    log_w = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    comp = stats.norm.logpdf(u[:, None, :], loc=means, scale=np.exp(log_scales)).sum(axis=-1)
    return np.logaddexp.reduce(log_w + comp, axis=-1)


# ---------------------------------------------------------------------------
# Teacher forcing and the ancestral step agree; log_prob is a density of z
# ---------------------------------------------------------------------------


def _random_var(order: int, seed: int) -> VarModel:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 0.3, (CHANNELS, CHANNELS))
    cov = a @ a.T + 0.5 * np.eye(CHANNELS)
    return VarModel(
        coefficients=rng.normal(0, 0.2, (order, CHANNELS, CHANNELS)),
        intercept=rng.normal(0, 0.5, CHANNELS),
        covariance=cov,
        start_covariance=cov,
    )


def _randomise_head(prior: LatentPrior, seed: int) -> None:
    """The head starts at zero (the model then IS the VAR); give it weights so the GRU matters."""
    rng = np.random.default_rng(seed)
    for var in prior.head.weights:
        var.assign(rng.normal(0, 0.3, var.shape).astype(np.float32))


def test_log_prob_equals_step_by_step_conditionals() -> None:
    """Teacher forcing, the one-frame step and a numpy/scipy reference give one density; the
    compiled log_prob is the op-by-op pass up to float rounding (XLA fuses ops, so not bit for
    bit on JAX), for any batch and length."""
    keras.utils.set_random_seed(0)
    var = _random_var(order=2, seed=4)
    prior = LatentPrior(CHANNELS, hidden=8, layers=2, mixtures=3, order=2)
    loc, scale = np.array([0.5, -1.0, 2.0]), np.array([2.0, 0.5, 1.5])
    prior.set_standardization(loc, scale)
    prior.set_linear(var)
    _randomise_head(prior, 5)
    z = np.random.default_rng(1).normal(loc, scale, size=(2, 7, CHANNELS)).astype(np.float32)

    logits_forced, means_forced, log_scales_forced = (backend.to_numpy(a) for a in prior.conditionals(z))
    chol = np.linalg.cholesky(var.covariance)
    padded = np.concatenate([np.zeros((2, 2, CHANNELS)), z], axis=1)
    states = prior.initial_state(2)
    prev = np.zeros((2, 2 * CHANNELS), np.float32)
    total = np.zeros(2)
    for t in range(z.shape[1]):
        logits, means, log_scales, states = prior.step(prev, states)
        logits, means, log_scales = (backend.to_numpy(a) for a in (logits, means, log_scales))
        np.testing.assert_allclose(logits, logits_forced[:, t], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(means, means_forced[:, t], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(log_scales, log_scales_forced[:, t], rtol=1e-5, atol=1e-5)
        prediction = var.intercept + sum(padded[:, t + 2 - i] @ var.coefficients[i - 1].T for i in (1, 2))
        u = np.linalg.solve(chol, (z[:, t] - prediction).T).T  # whitened innovation
        total += mixture_log_pdf(u, logits, means, log_scales)
        prev = np.concatenate([u, (z[:, t] - loc) / scale], axis=1).astype(np.float32)
    total -= z.shape[1] * np.log(np.diag(chol)).sum()  # Jacobian of the whitening

    compiled = backend.to_numpy(prior.log_prob(z))
    np.testing.assert_allclose(compiled, total, rtol=1e-5)
    assert compiled.shape == (2,)
    # log_prob runs compiled; the op-by-op teacher-forced pass gives the same numbers
    eager = backend.to_numpy(ops.sum(prior._frame_log_probs(z), axis=1))
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)
    longer = np.random.default_rng(2).normal(loc, scale, size=(5, 30, CHANNELS)).astype(np.float32)
    np.testing.assert_allclose(
        backend.to_numpy(prior.log_prob(longer)), backend.to_numpy(ops.sum(prior._frame_log_probs(longer), axis=1)), rtol=1e-6
    )
    # The compiled function reads the weights' current values, not those of its first call.
    prior.loc.assign(prior.loc + 0.5)
    np.testing.assert_allclose(
        backend.to_numpy(prior.log_prob(z)), backend.to_numpy(ops.sum(prior._frame_log_probs(z), axis=1)), rtol=1e-6
    )
    assert not np.allclose(backend.to_numpy(prior.log_prob(z)), compiled, rtol=1e-3)


def test_an_untrained_head_is_exactly_the_var() -> None:
    """The head starts at zero: mu = 0, sigma = 1, equal weights, i.e. the VAR's own density."""
    keras.utils.set_random_seed(2)
    var = _random_var(order=2, seed=6)
    prior = LatentPrior(CHANNELS, hidden=8, mixtures=3, order=2)
    prior.set_linear(var)
    z = np.random.default_rng(3).normal(size=(3, 9, CHANNELS)).astype(np.float32)
    np.testing.assert_allclose(backend.to_numpy(prior.log_prob(z)), _var_log_prob_one_cov(var, z), rtol=1e-4)
    with pytest.raises(ValueError, match="VAR"):
        prior.set_linear(_random_var(order=1, seed=7))


def _var_log_prob_one_cov(var: VarModel, z: np.ndarray) -> np.ndarray:
    """The VAR's log-density with its innovation covariance for every frame (the prior's convention)."""
    same = VarModel(var.coefficients, var.intercept, var.covariance, var.covariance)
    return same.log_prob(z)


def test_log_prob_integrates_to_one_in_original_units() -> None:
    """One frame, one channel, intercept 3 and innovation scale 4: the density of z (not of
    (z-3)/4) integrates to 1 -- which fails if the Jacobian is missing or wrong."""
    keras.utils.set_random_seed(1)
    prior = LatentPrior(1, hidden=4, mixtures=3)
    prior.set_standardization([3.0], [4.0])
    prior.set_linear(VarModel(np.zeros((0, 1, 1)), np.array([3.0]), np.array([[16.0]]), np.array([[16.0]])))
    _randomise_head(prior, 8)
    grid = np.linspace(-80.0, 80.0, 20001, dtype=np.float32)
    density = np.exp(backend.to_numpy(prior.log_prob(grid.reshape(-1, 1, 1))))
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)


# ---------------------------------------------------------------------------
# Fitting: dynamics are learned, none are invented
# ---------------------------------------------------------------------------


def test_learned_prior_and_var_beat_standard_normal_on_ar1_latents(ar_data, fitted) -> None:
    train, test = ar_data
    prior, history = fitted
    var = fit_var(list(train), order=2)
    report = prior_report(prior, var, train, test)
    json.dumps(report)  # JSON-serialisable

    held_out = report["test"]
    n01 = held_out["standard_normal"]["nll_per_frame"]
    # The true conditional entropy is ~0.77 nats/frame vs ~4.26 for N(0, I).
    assert held_out["var"]["nll_per_frame"] < n01 - 2.5, report
    assert held_out["learned"]["nll_per_frame"] < n01 - 2.0, report
    assert held_out["learned"]["nll_per_dim"] == pytest.approx(held_out["learned"]["nll_per_frame"] / CHANNELS)
    assert report["test"]["clips"] == 12 and report["test"]["frames"] == FRAMES
    # Training made progress and the history is well formed.
    assert [h["step"] for h in history] == [100, 200]
    assert history[-1]["nll_per_frame"] < history[0]["nll_per_frame"]


def test_no_spurious_gain_on_iid_standard_normal_latents() -> None:
    rng = np.random.default_rng(4)
    train = rng.standard_normal((24, FRAMES, CHANNELS)).astype(np.float32)
    test = rng.standard_normal((12, FRAMES, CHANNELS)).astype(np.float32)
    prior, _ = fit_prior(train, posterior_logvar(train, 1e-4), small_settings(steps=150), seed=2)
    var = fit_var(list(train), order=2)
    held_out = prior_report(prior, var, train, test)["test"]
    n01 = held_out["standard_normal"]["nll_per_frame"]
    # N(0, I) is the true model: the others can only match it up to estimation noise.
    assert held_out["var"]["nll_per_frame"] > n01 - 0.05, held_out
    assert n01 - 0.15 < held_out["learned"]["nll_per_frame"] < n01 + 0.5, held_out


def test_fit_is_bit_reproducible_and_depends_on_the_seed(ar_data) -> None:
    train, _ = ar_data
    logvar = posterior_logvar(train)
    settings = small_settings(steps=15)
    a, hist_a = fit_prior(train, logvar, settings, seed=5)
    b, hist_b = fit_prior(train, logvar, settings, seed=5)
    c, _ = fit_prior(train, logvar, settings, seed=6)
    assert hist_a[-1]["nll_per_frame"] == hist_b[-1]["nll_per_frame"]
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.get_weights(), c.get_weights(), strict=True))


def test_max_seconds_stops_training_early(ar_data) -> None:
    train, _ = ar_data
    _, history = fit_prior(train, posterior_logvar(train), small_settings(steps=10**6, max_seconds=0.3), seed=0)
    assert history and history[-1]["step"] < 10**6
    assert history[-1]["seconds"] >= 0.3


def test_short_clips_use_all_their_frames() -> None:
    """segment_frames longer than the clips: train on whole clips instead of failing."""
    z = ar1_latents(4, seed=9, frames=10)
    _, history = fit_prior(z, posterior_logvar(z), small_settings(steps=3, segment_frames=64), seed=0)
    assert history[-1]["step"] == 3 and math.isfinite(history[-1]["nll_per_frame"])


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def test_sampling_is_seeded_has_dynamics_and_any_length(fitted) -> None:
    prior, _ = fitted
    frames = 3 * SEGMENT  # longer than any training segment
    first = prior.sample(16, frames, seed=7)
    assert first.shape == (16, frames, CHANNELS) and first.dtype == np.float32
    assert np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, prior.sample(16, frames, seed=7))
    assert not np.array_equal(first, prior.sample(16, frames, seed=8))
    # Frame t depends only on (seed, frames < t): a shorter draw is a prefix.
    np.testing.assert_array_equal(prior.sample(16, 10, seed=7), first[:, :10])
    # The samples carry the AR(1) dynamics (N(0, I) draws would have ~0 autocorrelation)
    # and roughly the unit marginal scale of the data, also beyond the training length.
    lag1 = np.corrcoef(first[:, :-1].ravel(), first[:, 1:].ravel())[0, 1]
    assert lag1 > 0.7, lag1
    assert 0.4 < first[:, SEGMENT:].std() < 2.0


def test_the_compiled_sampling_loop_is_the_frame_by_frame_ancestral_sampler_bit_for_bit(fitted) -> None:
    """sample() loops over frames inside one compiled function; calling the compiled step from
    Python frame by frame (as it once did, ~10x slower) draws the same frames bit for bit: the
    same seed pairs, components and noise, and XLA (the sampler's compiler on both backends)
    compiles the loop's body as it compiles the step alone."""
    from genrevae.prior import _seed_word

    prior, _ = fitted
    c, n, frames, seed, tau = prior.channels, 3, 40, 17, 0.8
    step = backend.compile_function(prior._sample_step, prior)
    history = ops.zeros((n, max(prior.order, 1), c))
    prev = ops.zeros((n, 2 * c))
    states, frames_out = prior.initial_state(n), []
    temperature = ops.convert_to_tensor(tau, "float32")
    for t in range(frames):
        pair = ops.convert_to_tensor([_seed_word(seed), t], "int32")
        history, prev, states = step(history, prev, states, pair, temperature)
        frames_out.append(backend.to_numpy(history[:, -1]))
    stepped = np.stack(frames_out, axis=1)
    looped = prior.sample(n, frames, seed, tau)
    np.testing.assert_array_equal(looped, stepped)
    # Another seed gives other frames, so the agreement above is not that of two constants.
    assert np.abs(prior.sample(n, frames, seed + 1, tau) - stepped).max() > 0.1


def test_lower_temperature_gives_lower_spread(fitted) -> None:
    prior, _ = fitted
    hot = prior.sample(16, SEGMENT, seed=11, temperature=1.0)
    cold = prior.sample(16, SEGMENT, seed=11, temperature=0.5)
    # Innovations (frame-to-frame changes) shrink with the component scales.
    assert np.diff(cold, axis=1).std() < 0.75 * np.diff(hot, axis=1).std()
    assert cold.std() < hot.std()
    with pytest.raises(ValueError, match="temperature"):
        prior.sample(2, 3, seed=0, temperature=0.0)


@pytest.mark.slow
def test_save_load_round_trip(fitted, ar_data, tmp_path: Path) -> None:
    """load_model(compile=False) restores config and all weights (standardisation too)."""
    prior, _ = fitted
    _, test = ar_data
    path = tmp_path / "prior.keras"
    prior.save(path)
    loaded = keras.models.load_model(path, compile=False)
    assert isinstance(loaded, LatentPrior)
    assert loaded.get_config() == prior.get_config()
    np.testing.assert_array_equal(backend.to_numpy(loaded.loc), backend.to_numpy(prior.loc))
    np.testing.assert_array_equal(backend.to_numpy(loaded.scale), backend.to_numpy(prior.scale))
    assert not np.allclose(backend.to_numpy(prior.scale), 1.0)  # it was really set by the fit
    np.testing.assert_array_equal(backend.to_numpy(loaded.log_prob(test)), backend.to_numpy(prior.log_prob(test)))
    samples = prior.sample(4, 50, seed=21, temperature=0.8)
    np.testing.assert_array_equal(loaded.sample(4, 50, seed=21, temperature=0.8), samples)


def _run_child(script: str, args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_samples_are_identical_in_a_fresh_process(fitted, tmp_path: Path) -> None:
    """Same file, seed, backend and thread count -> the same samples in another process (~5 s:
    the child imports the backend)."""
    prior, _ = fitted
    path = tmp_path / "prior.keras"
    prior.save(path)
    samples = prior.sample(4, 50, seed=21, temperature=0.8)
    script = f"""
        import sys
        import numpy as np
        from genrevae import backend
        backend.configure_threads({THREADS})
        from genrevae.prior import load_prior
        np.save(sys.argv[2], load_prior(sys.argv[1]).sample(4, 50, seed=21, temperature=0.8))
        """
    out = tmp_path / "samples.npy"
    _run_child(script, [str(path), str(out)], env={**os.environ, "KERAS_BACKEND": backend.name()})
    np.testing.assert_array_equal(np.load(out), samples)


@pytest.mark.slow
def test_a_prior_saved_on_one_backend_scores_and_samples_on_the_other(fitted, ar_data, tmp_path: Path) -> None:
    """prior.keras is backend-neutral: saved here (TensorFlow: loaded under JAX; JAX: under
    TensorFlow), it gives the same log-densities up to float rounding and finite samples of the
    right shape, the same for the same seed (not the same numbers as here: each backend has its
    own generators)."""
    other = "jax" if backend.name() == "tensorflow" else "tensorflow"
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"{other} is not installed")
    prior, _ = fitted
    _, test = ar_data
    path, data = tmp_path / "prior.keras", tmp_path / "test.npy"
    prior.save(path)
    np.save(data, test)
    script = f"""
        import sys
        import numpy as np
        from genrevae import backend
        backend.configure_threads({THREADS})
        assert backend.name() == {other!r}, backend.name()
        from genrevae.prior import load_prior
        prior = load_prior(sys.argv[1])
        log_p = backend.to_numpy(prior.log_prob(np.load(sys.argv[2])))
        a = prior.sample(3, 60, seed=5, temperature=0.9)
        b = prior.sample(3, 60, seed=5, temperature=0.9)
        assert np.array_equal(a, b)
        np.savez(sys.argv[3], log_p=log_p, samples=a)
        """
    out = tmp_path / "other.npz"
    _run_child(script, [str(path), str(data), str(out)], env={**os.environ, "KERAS_BACKEND": other})
    there = np.load(out)
    np.testing.assert_allclose(there["log_p"], backend.to_numpy(prior.log_prob(test)), rtol=1e-5)
    samples = there["samples"]
    assert samples.shape == (3, 60, CHANNELS) and samples.dtype == np.float32
    assert np.all(np.isfinite(samples))
    assert 0.3 < samples.std() < 3.0  # the data's unit scale, not a degenerate draw


# ---------------------------------------------------------------------------
# The transformer network (prior.network: transformer)
# ---------------------------------------------------------------------------

#: Attention window of the test transformers: sequences of 3-4 windows are "longer than the context".
WINDOW = 4


def _transformer_prior(layers: int = 2, order: int = 2, seed: int = 0) -> LatentPrior:
    """A small transformer prior with a random head and random position biases (zeros at the
    start, where every window position and the whole network would look alike)."""
    keras.utils.set_random_seed(seed)
    prior = LatentPrior(CHANNELS, hidden=8, layers=layers, mixtures=3, order=order, network="transformer",
                        heads=2, context_frames=WINDOW)  # fmt: skip
    prior.set_standardization(np.array([0.5, -1.0, 2.0]), np.array([2.0, 0.5, 1.5]))
    prior.set_linear(_random_var(order=order, seed=seed + 4))
    _randomise_head(prior, seed + 5)
    rng = np.random.default_rng(seed + 6)
    for block in prior.blocks:
        block.position_bias.assign(rng.normal(0, 1.0, block.position_bias.shape).astype(np.float32))
    return prior


@pytest.fixture(scope="module")
def fitted_transformer(ar_data) -> tuple[LatentPrior, list[dict]]:
    train, _ = ar_data
    settings = small_settings(network="transformer", steps=100, context_frames=WINDOW * 2)
    return fit_prior(train, posterior_logvar(train), settings, seed=3)


def _frame_log_probs(prior: LatentPrior, z: np.ndarray) -> np.ndarray:
    return backend.to_numpy(prior(ops.convert_to_tensor(z, "float32")))


def test_transformer_is_causal_and_reads_a_window() -> None:
    """Changing frames t+1.. leaves the log-density terms of frames <= t unchanged; with one
    block and no VAR lags, a frame is read by the next WINDOW frames' conditionals and no later."""
    prior = _transformer_prior(layers=2)
    z = np.random.default_rng(1).normal(size=(2, 3 * WINDOW + 2, CHANNELS)).astype(np.float32)
    base = _frame_log_probs(prior, z)
    for t in (0, WINDOW, 2 * WINDOW + 1):
        changed = z.copy()
        changed[:, t + 1 :] += np.random.default_rng(t).normal(size=changed[:, t + 1 :].shape).astype(np.float32)
        after = _frame_log_probs(prior, changed)
        np.testing.assert_array_equal(after[:, : t + 1], base[:, : t + 1])
        assert np.all(np.abs(after[:, t + 1] - base[:, t + 1]) > 1e-4)

    one = _transformer_prior(layers=1, order=0)
    base = _frame_log_probs(one, z)
    changed = z.copy()
    changed[:, 0] += 1.0
    moved = np.abs(_frame_log_probs(one, changed) - base) > 1e-5
    assert moved[:, : WINDOW + 1].all() and not moved[:, WINDOW + 1 :].any(), moved


def test_transformer_teacher_forcing_is_the_samplers_conditional_beyond_the_window() -> None:
    """The one-frame step with the sliding cache (what sample() runs) gives, at every frame of a
    sampled sequence 3.5 windows long, the mixture that the teacher-forced pass scores it with:
    parameters, per-frame log-densities and the compiled log_prob agree up to float rounding."""
    prior = _transformer_prior(layers=2)
    frames = 3 * WINDOW + 2
    z = prior.sample(2, frames, seed=4, temperature=0.9)
    assert np.all(np.isfinite(z))
    logits_forced, means_forced, log_scales_forced = (backend.to_numpy(a) for a in prior.conditionals(z))
    per_frame = _frame_log_probs(prior, z)
    u = backend.to_numpy(prior.innovations(z))
    s = backend.to_numpy(prior.standardize(z))
    states, prev = prior.initial_state(2), np.zeros((2, 2 * CHANNELS), np.float32)
    log_det = float(backend.to_numpy(prior._log_det_whiten()))
    for t in range(frames):
        logits, means, log_scales, states = prior.step(prev, states)
        logits, means, log_scales = (backend.to_numpy(a) for a in (logits, means, log_scales))
        np.testing.assert_allclose(logits, logits_forced[:, t], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(means, means_forced[:, t], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(log_scales, log_scales_forced[:, t], rtol=1e-5, atol=1e-5)
        # (float32 parameters ~1e-6 apart move a narrow component's density by ~1e-4 relative)
        np.testing.assert_allclose(mixture_log_pdf(u[:, t], logits, means, log_scales) + log_det, per_frame[:, t], rtol=1e-3, atol=1e-3)
        prev = np.concatenate([u[:, t], s[:, t]], axis=1).astype(np.float32)
    np.testing.assert_allclose(backend.to_numpy(prior.log_prob(z)), per_frame.sum(axis=1), rtol=1e-5)


def test_an_untrained_transformer_head_is_exactly_the_var() -> None:
    keras.utils.set_random_seed(2)
    var = _random_var(order=2, seed=6)
    prior = LatentPrior(CHANNELS, hidden=8, layers=2, mixtures=3, order=2, network="transformer", heads=2, context_frames=WINDOW)
    prior.set_linear(var)
    z = np.random.default_rng(3).normal(size=(3, 3 * WINDOW, CHANNELS)).astype(np.float32)
    np.testing.assert_allclose(backend.to_numpy(prior.log_prob(z)), _var_log_prob_one_cov(var, z), rtol=1e-4)
    with pytest.raises(ValueError, match="multiple of heads"):
        LatentPrior(CHANNELS, hidden=6, network="transformer", heads=4)
    with pytest.raises(ValueError, match="network"):
        LatentPrior(CHANNELS, network="lstm")


def test_fit_prior_with_a_transformer_learns_and_samples_any_length(ar_data, fitted_transformer) -> None:
    train, test = ar_data
    prior, history = fitted_transformer
    assert prior.network == "transformer" and len(prior.blocks) == 1 and prior.context_frames == 2 * WINDOW
    held_out = prior_report(prior, fit_var(list(train), order=2), train, test)["test"]
    assert held_out["learned"]["nll_per_frame"] < held_out["standard_normal"]["nll_per_frame"] - 2.0, held_out
    assert history[-1]["step"] == 100 and math.isfinite(history[-1]["nll_per_frame"])
    frames = 3 * SEGMENT + 5  # longer than the window and the training segments
    first = prior.sample(8, frames, seed=7)
    assert first.shape == (8, frames, CHANNELS) and np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, prior.sample(8, frames, seed=7))
    assert not np.array_equal(first, prior.sample(8, frames, seed=8))
    np.testing.assert_array_equal(prior.sample(8, 10, seed=7), first[:, :10])
    assert np.corrcoef(first[:, :-1].ravel(), first[:, 1:].ravel())[0, 1] > 0.7
    assert 0.4 < first[:, SEGMENT:].std() < 2.0


@pytest.mark.slow
def test_transformer_save_load_round_trip(fitted_transformer, ar_data, tmp_path: Path) -> None:
    prior, _ = fitted_transformer
    _, test = ar_data
    prior.save(tmp_path / "prior.keras")
    loaded = keras.models.load_model(tmp_path / "prior.keras", compile=False)
    assert isinstance(loaded, LatentPrior) and loaded.get_config() == prior.get_config()
    assert loaded.get_config()["network"] == "transformer"
    for a, b in zip(loaded.get_weights(), prior.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(backend.to_numpy(loaded.log_prob(test)), backend.to_numpy(prior.log_prob(test)))
    np.testing.assert_array_equal(loaded.sample(3, 30, seed=21, temperature=0.8), prior.sample(3, 30, seed=21, temperature=0.8))


def _fit_with_and_without(train: np.ndarray, **option) -> tuple[LatentPrior, LatentPrior]:
    """Fit 100 steps with a fit ``option`` twice (the same weights bit for bit: the option keeps
    the fit reproducible) and once without it (the head learns other weights); returns the
    fit with the option and the one without."""
    prior, _ = fit_prior(train, posterior_logvar(train), small_settings(steps=100, **option), seed=3)
    again, _ = fit_prior(train, posterior_logvar(train), small_settings(steps=100, **option), seed=3)
    for a, b in zip(prior.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    plain, _ = fit_prior(train, posterior_logvar(train), small_settings(steps=100), seed=3)
    assert not np.array_equal(plain.get_weights()[-2], prior.get_weights()[-2])
    return prior, plain


def test_dropout_acts_only_while_fitting_and_the_fit_stays_reproducible(ar_data, fitted, tmp_path: Path) -> None:
    """prior.dropout regularises the fit: it changes the weights, a second fit with the same
    seed gives the same ones, and the fitted prior scores and samples without dropping
    (the same numbers every call, and after a save and load)."""
    train, test = ar_data
    prior, plain = _fit_with_and_without(train, dropout=0.3)
    assert plain.input_dropout is None and fitted[0].get_config()["dropout"] == 0.0
    assert len(plain.get_weights()) == len(prior.get_weights())  # the dropout layers own no saved weights
    scored = backend.to_numpy(prior.log_prob(test))
    np.testing.assert_array_equal(scored, backend.to_numpy(prior.log_prob(test)))
    np.testing.assert_allclose(backend.to_numpy(ops.sum(prior(test, training=False), axis=1)), scored, rtol=1e-5)
    assert not np.allclose(backend.to_numpy(ops.sum(prior(test, training=True), axis=1)), scored, rtol=1e-5)
    held_out = prior_report(prior, fit_var(list(train), order=2), train, test)["test"]
    assert held_out["learned"]["nll_per_frame"] < held_out["standard_normal"]["nll_per_frame"] - 2.0, held_out
    prior.save(tmp_path / "prior.keras")
    loaded = keras.models.load_model(tmp_path / "prior.keras", compile=False)
    assert loaded.get_config() == prior.get_config() and loaded.dropout == 0.3
    np.testing.assert_array_equal(backend.to_numpy(loaded.log_prob(test)), scored)
    np.testing.assert_array_equal(loaded.sample(2, 9, seed=1), prior.sample(2, 9, seed=1))


def test_one_step_draws_are_the_samplers_draws_given_the_true_past() -> None:
    """Scheduled sampling's history: frame t drawn from p(. | z_<t) with the given uniforms and
    normals, as the one-frame step and the sampler's Gumbel-max draw make it."""
    keras.utils.set_random_seed(1)
    prior = LatentPrior(CHANNELS, hidden=8, mixtures=3, order=2)
    prior.set_linear(_random_var(order=2, seed=5))
    _randomise_head(prior, 6)
    rng = np.random.default_rng(7)
    z = rng.normal(size=(2, 9, CHANNELS)).astype(np.float32)
    uniform = rng.random((2, 9, 3)).astype(np.float32)
    noise = rng.standard_normal((2, 9, CHANNELS)).astype(np.float32)
    drawn = backend.to_numpy(prior.one_step_draws(z, uniform, noise))
    u = backend.to_numpy(prior.innovations(z))
    s = backend.to_numpy(prior.standardize(z))
    pred = backend.to_numpy(prior.linear_prediction(z))
    unwhiten = backend.to_numpy(prior.unwhiten)
    states = prior.initial_state(2)
    prev = np.zeros((2, 2 * CHANNELS), np.float32)
    for t in range(9):
        logits, means, log_scales, states = (backend.to_numpy(x) if i < 3 else x for i, x in enumerate(prior.step(prev, states)))
        k = np.argmax(logits - np.log(-np.log(uniform[:, t])), axis=-1)
        expected = pred[:, t] + (means[np.arange(2), k] + np.exp(log_scales[np.arange(2), k]) * noise[:, t]) @ unwhiten.T
        np.testing.assert_allclose(drawn[:, t], expected, rtol=1e-4, atol=1e-4)
        prev = np.concatenate([u[:, t], s[:, t]], axis=1).astype(np.float32)
    # Scored after its own past the density is the model's; after another past it is not.
    same = backend.to_numpy(prior._frame_log_probs(z, history=z))
    np.testing.assert_array_equal(same, backend.to_numpy(prior._frame_log_probs(z)))
    other = backend.to_numpy(prior._frame_log_probs(z, history=drawn))
    assert np.allclose(other[:, 0], same[:, 0]) and not np.allclose(other[:, 2:], same[:, 2:])
    with pytest.raises(ValueError, match="only scored in training"):
        prior.log_prob(z, history=drawn)


def test_scheduled_sampling_fits_reproducibly_and_still_learns(ar_data) -> None:
    train, test = ar_data
    prior, _ = _fit_with_and_without(train, scheduled_sampling=0.5)
    held_out = prior_report(prior, fit_var(list(train), order=2), train, test)["test"]
    assert held_out["learned"]["nll_per_frame"] < held_out["standard_normal"]["nll_per_frame"] - 2.0, held_out


def test_a_saved_prior_without_the_network_setting_loads_as_the_same_gru(tmp_path: Path) -> None:
    """prior.keras files saved before prior.network existed have no network, heads or
    context_frames in their config: they load as the GRU they were, scoring bit-identically."""
    import zipfile

    keras.utils.set_random_seed(4)
    prior = LatentPrior(CHANNELS, hidden=8, mixtures=3, order=2)
    prior.set_linear(_random_var(order=2, seed=3))
    _randomise_head(prior, 9)
    new, old = tmp_path / "new.keras", tmp_path / "old.keras"
    prior.save(new)
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for key in ("network", "heads", "context_frames", "dropout"):
                    del config["config"][key]
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    loaded = keras.models.load_model(old, compile=False)
    assert loaded.network == "gru" and len(loaded.grus) == 1 and not hasattr(loaded, "blocks")
    z = np.random.default_rng(5).normal(size=(3, 12, CHANNELS)).astype(np.float32)
    np.testing.assert_array_equal(backend.to_numpy(loaded.log_prob(z)), backend.to_numpy(prior.log_prob(z)))
    np.testing.assert_array_equal(loaded.sample(2, 9, seed=1), prior.sample(2, 9, seed=1))


# ---------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------


def test_standard_normal_log_prob_matches_scipy() -> None:
    z = np.random.default_rng(0).normal(size=(3, 5, CHANNELS))
    expected = stats.norm.logpdf(z).sum(axis=(1, 2))
    np.testing.assert_allclose(standard_normal_log_prob(z), expected, rtol=1e-12)


def test_var_recovers_ar1_and_scores_exactly(ar_data) -> None:
    train, test = ar_data
    var = fit_var(list(train), order=1)
    assert isinstance(var, VarModel) and var.order == 1
    np.testing.assert_allclose(var.coefficients[0], AR_COEFFICIENT * np.eye(CHANNELS), atol=0.06)
    np.testing.assert_allclose(np.diag(var.covariance), 1 - AR_COEFFICIENT**2, rtol=0.25)

    # The zero-padded start frames get their own (wider) covariance: z_1 ~ N(0, 1).
    np.testing.assert_allclose(np.diag(var.start_covariance), 1.0, rtol=0.5)

    # Exact sequence density, frame by frame with zero padding before the start.
    var2 = fit_var(list(train), order=2)
    expected = np.zeros(len(test))
    for i, seq in enumerate(test.astype(np.float64)):
        for t in range(FRAMES):
            mean = var2.intercept.copy()
            for lag in (1, 2):
                if t - lag >= 0:
                    mean += var2.coefficients[lag - 1] @ seq[t - lag]
            cov = var2.start_covariance if t < 2 else var2.covariance
            expected[i] += stats.multivariate_normal.logpdf(seq[t], mean, cov)
    np.testing.assert_allclose(var2.log_prob(test), expected, rtol=1e-9)


def test_var_sampling_is_seeded_and_tempered(ar_data) -> None:
    train, _ = ar_data
    var = fit_var(list(train), order=2, diagonal=True)
    assert np.count_nonzero(var.covariance - np.diag(np.diag(var.covariance))) == 0
    a = var.sample(8, 120, seed=3)
    assert a.shape == (8, 120, CHANNELS) and a.dtype == np.float32
    np.testing.assert_array_equal(a, var.sample(8, 120, seed=3))
    assert not np.array_equal(a, var.sample(8, 120, seed=4))
    # Linear model: z(tau) = z_det + tau * noise_response, so the deviations scale exactly.
    cold = var.sample(8, 120, seed=3, temperature=0.5)
    colder = var.sample(8, 120, seed=3, temperature=0.25)
    np.testing.assert_allclose(a - cold, 2.0 * (cold - colder), atol=1e-4)
    assert np.abs(cold - colder).max() > 0.01


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hidden", 0),
        ("layers", 1.5),
        ("mixtures", True),
        ("steps", -1),
        ("batch_size", "16"),
        ("segment_frames", 0),
        ("learning_rate", 0.0),
        ("learning_rate", float("nan")),
        ("var_order", -1),
        ("temperature", 0),
        ("max_seconds", -5),
        ("max_seconds", "1h"),
        ("network", "lstm"),
        ("heads", 0),
        ("context_frames", 0),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("scheduled_sampling", 1.0),
        ("scheduled_sampling", -0.5),
    ],
)
def test_bad_settings_raise_naming_the_key(key: str, value) -> None:
    with pytest.raises(ValueError, match=rf"prior\.{key}\b"):
        section("prior", small_settings(**{key: value}))


def test_missing_settings_take_the_schema_default_and_unknown_are_named(ar_data) -> None:
    train, _ = ar_data
    settings = small_settings()
    del settings["mixtures"]
    assert section("prior", settings)["mixtures"] == section("prior")["mixtures"]
    with pytest.raises(ValueError, match=r"prior\.weight_decay"):
        fit_prior(train, posterior_logvar(train), small_settings(weight_decay=0.1), seed=0)
    good = section("prior", small_settings(max_seconds=60, var_order=0))
    assert set(good) == set(small_settings()) and good["max_seconds"] == 60.0


# ---------------------------------------------------------------------------
# Early stopping on train clips held out of the fit
# ---------------------------------------------------------------------------


def test_early_stopping_returns_the_best_held_out_step_exactly(ar_data) -> None:
    """The held-out clips only watch: the returned weights are those of an uninterrupted fit
    stopped at the step where their NLL was lowest, bit for bit."""
    train, test = ar_data
    logvar, held_out = posterior_logvar(train), test[:4]
    watched, history = fit_prior(train, logvar, small_settings(steps=300), seed=1, validation_mean=held_out)
    scores = [r["validation_nll_per_frame"] for r in history]
    assert [r["step"] for r in history] == [100, 200, 300] and np.isfinite(scores).all()
    best_step = history[int(np.argmin(scores))]["step"]
    stopped, _ = fit_prior(train, logvar, small_settings(steps=best_step), seed=1)
    for a, b in zip(watched.get_weights(), stopped.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert -np.mean(backend.to_numpy(watched.log_prob(held_out))) / held_out.shape[1] == pytest.approx(min(scores), rel=1e-6)
    unwatched, plain = fit_prior(train, logvar, small_settings(steps=300), seed=1)
    assert all("validation_nll_per_frame" not in r for r in plain)
    assert [r["nll_per_frame"] for r in plain] == [r["nll_per_frame"] for r in history]  # watching changes nothing


def test_validation_clips_are_at_most_half_seeded_and_sorted() -> None:
    held = validation_clips(16, 3, seed=123)
    assert len(held) == 3 and list(held) == sorted(set(held.tolist())) and held.max() < 16
    assert np.array_equal(held, validation_clips(16, 3, seed=123))
    assert any(not np.array_equal(held, validation_clips(16, 3, seed=s)) for s in range(1, 5))
    assert len(validation_clips(5, 3, seed=0)) == 2 and len(validation_clips(1, 3, seed=0)) == 0
    assert len(validation_clips(16, 0, seed=0)) == 0
