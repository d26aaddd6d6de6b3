"""The flow-matching latent prior candidate (:mod:`genrevae.prior.flow`), tiny sizes, 1 backend thread.

Runs on whichever Keras backend ``KERAS_BACKEND`` chooses.  No test pins sampled numbers (they come
from the backend's own stateless generators)."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import backend_threads
from genrevae import backend
from genrevae.prior import flow
from genrevae.prior.fit import aggregate_posterior_moments
from genrevae.prior.flow import FLOW_DEFAULTS, FlowPrior, fit_flow_prior, flow_batch, flow_settings

THREADS = backend_threads()

CHANNELS = 3
FRAMES = 48
SETTINGS = {"window": 8, "context": 8, "hidden": 16, "blocks": 2, "steps": 300, "batch_size": 8, "learning_rate": 3e-3, "ode_steps": 6}


def sinusoid_latents(clips: int, seed: int) -> np.ndarray:
    """Each channel a sinusoid of its own period with a random phase, offset and scaled: a window is
    almost a function of its context, so a flow that learns anything beats the unconditional noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(FRAMES)[None, :, None]
    periods = np.array([6.0, 11.0, 17.0])[None, None, :]
    phase = rng.uniform(0, 2 * math.pi, (clips, 1, CHANNELS))
    return (2.0 * np.sin(2 * math.pi * t / periods + phase) + np.array([1.0, -0.5, 0.0])).astype(np.float32)


def logvar_of(mean: np.ndarray) -> np.ndarray:
    return np.full_like(mean, math.log(1e-3))


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return sinusoid_latents(16, seed=0)


@pytest.fixture(scope="module")
def fitted(data) -> tuple[FlowPrior, list[dict]]:
    return fit_flow_prior(data, logvar_of(data), SETTINGS, seed=3)


def untrained(data, seed: int = 3) -> FlowPrior:
    keras.utils.set_random_seed(seed)
    s = flow_settings(SETTINGS)
    prior = FlowPrior(CHANNELS, window=s["window"], context=s["context"], hidden=s["hidden"], blocks=s["blocks"], ode_steps=s["ode_steps"])
    prior.set_standardization(*aggregate_posterior_moments(data, logvar_of(data)))
    return prior


def _loss(prior: FlowPrior, batch) -> float:
    return float(backend.to_numpy(prior.flow_matching_loss(*[keras.ops.convert_to_tensor(a, "float32") for a in batch])))


# ---------------------------------------------------------------------------
# Sampling: any length, seeded, tempered
# ---------------------------------------------------------------------------


def test_samples_have_any_length_and_longer_ones_extend_shorter_ones(fitted) -> None:
    prior, _ = fitted
    longest = prior.sample(2, 21, seed=5)  # 3 windows of 8, the last cropped to 5
    assert longest.shape == (2, 21, CHANNELS) and longest.dtype == np.float32 and np.all(np.isfinite(longest))
    for frames in (1, 5, 8, 13):  # shorter than a window, exactly one, not a multiple
        z = prior.sample(2, frames, seed=5)
        assert z.shape == (2, frames, CHANNELS)
        np.testing.assert_array_equal(z, longest[:, :frames])
    assert prior.sample(0, 5, 1).shape == (0, 5, CHANNELS) and prior.sample(2, 0, 1).shape == (2, 0, CHANNELS)
    with pytest.raises(ValueError, match="temperature"):
        prior.sample(1, 5, 1, temperature=-0.5)


def test_sampling_is_seeded(fitted) -> None:
    prior, _ = fitted
    a, b, c = prior.sample(2, 13, 7), prior.sample(2, 13, 7), prior.sample(2, 13, 8)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.1
    assert np.abs(a[0] - a[1]).mean() > 0.1  # the rows of one call differ too


def test_temperature_zero_is_the_euler_solution_of_the_ode(fitted) -> None:
    """tau = 0: every seed gives the same clip, and its windows are Euler steps of v from x_0 = 0,
    each conditioned on the frames before it (none valid for the first)."""
    prior, _ = fitted
    z = prior.sample(1, 13, seed=1, temperature=0.0)
    np.testing.assert_array_equal(z, prior.sample(1, 13, seed=99, temperature=0.0))
    loc, scale = backend.to_numpy(prior.loc), backend.to_numpy(prior.scale)
    k, w, h = prior.context, prior.window, 1.0 / prior.ode_steps
    context, valid, windows = np.zeros((1, k, CHANNELS), np.float32), np.zeros((1, k), np.float32), []
    for _ in range(2):
        x = np.zeros((1, w, CHANNELS), np.float32)
        for step in range(prior.ode_steps):
            x = x + h * backend.to_numpy(prior.velocity(x, np.array([step * h], np.float32), context, valid))
        windows.append(x)
        context = np.concatenate([context, x], axis=1)[:, -k:]
        valid = np.concatenate([valid, np.ones((1, w), np.float32)], axis=1)[:, -k:]
    expected = np.concatenate(windows, axis=1)[:, :13] * scale + loc
    np.testing.assert_allclose(z, expected, rtol=1e-4, atol=1e-4)


def test_temperature_scales_the_starting_noise_exactly_and_the_spread(data, fitted) -> None:
    """Untrained, v = 0 (zero output layer): a sample IS tau eps in standardised units, so it scales
    linearly with tau.  Trained: a lower temperature gives less spread across seeds."""
    prior = untrained(data)
    loc = backend.to_numpy(prior.loc)
    one, half = prior.sample(2, 13, 4, 1.0) - loc, prior.sample(2, 13, 4, 0.5) - loc
    np.testing.assert_allclose(half, 0.5 * one, rtol=1e-5, atol=1e-6)
    assert np.abs(one).mean() > 0.3
    trained, _ = fitted
    spread = {tau: np.std(trained.sample(24, 8, 0, tau), axis=0).mean() for tau in (0.2, 1.0)}
    assert spread[0.2] < 0.6 * spread[1.0], spread


@pytest.mark.slow
def test_save_load_round_trip(fitted, tmp_path: Path) -> None:
    prior, _ = fitted
    path = tmp_path / "flow.keras"
    prior.save(path)
    loaded = keras.models.load_model(path, compile=False)
    assert isinstance(loaded, FlowPrior) and loaded.get_config() == prior.get_config()
    np.testing.assert_array_equal(loaded.sample(2, 13, 6, 0.8), prior.sample(2, 13, 6, 0.8))


# ---------------------------------------------------------------------------
# The objective and the fit
# ---------------------------------------------------------------------------


def test_loss_is_the_flow_matching_objective(data, fitted) -> None:
    """With the output layer's bias b and a zero kernel, v = b: the loss is numpy's
    mean((b - (x1 - x0))^2), x1 the standardised window; and for a trained net the loss is numpy's
    mean over the net's velocity at x_t = (1 - t) x0 + t x1."""
    s = flow_settings(SETTINGS)
    z, valid, x0, t = batch = flow_batch(data, logvar_of(data), s, seed=0, step=1)
    prior = untrained(data)
    b = np.random.default_rng(0).normal(size=CHANNELS).astype(np.float32)
    prior.output_projection.bias.assign(b)
    loc, scale = backend.to_numpy(prior.loc), backend.to_numpy(prior.scale)
    x1 = (z[:, s["context"] :] - loc) / scale
    np.testing.assert_allclose(_loss(prior, batch), np.mean((b - (x1 - x0)) ** 2), rtol=1e-5)

    trained, _ = fitted
    u = (z - backend.to_numpy(trained.loc)) / backend.to_numpy(trained.scale)
    context, x1 = u[:, : s["context"]], u[:, s["context"] :]
    x_t = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
    v = backend.to_numpy(trained.velocity(x_t, t, context, valid))
    np.testing.assert_allclose(_loss(trained, batch), np.mean((v - (x1 - x0)) ** 2), rtol=1e-4)


def test_training_lowers_the_loss_on_structured_latents(data, fitted) -> None:
    prior, history = fitted
    assert [r["step"] for r in history] == [100, 200, 300] and all(math.isfinite(r["seconds"]) for r in history)
    batches = [flow_batch(data, logvar_of(data), flow_settings(SETTINGS), seed=11, step=i) for i in range(4)]
    before = np.mean([_loss(untrained(data), b) for b in batches])
    after = np.mean([_loss(prior, b) for b in batches])
    assert after < 0.6 * before, (before, after)


@pytest.mark.slow
def test_fit_is_bit_reproducible_and_depends_on_the_seed(data) -> None:
    settings = {**SETTINGS, "steps": 10}
    a, _ = fit_flow_prior(data, logvar_of(data), settings, seed=1)
    b, _ = fit_flow_prior(data, logvar_of(data), settings, seed=1)
    c, _ = fit_flow_prior(data, logvar_of(data), settings, seed=2)
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a.get_weights(), c.get_weights(), strict=True))


def test_a_non_finite_loss_raises(data, monkeypatch) -> None:
    real = flow._training_batch

    def poisoned(*args, **kwargs):
        z = real(*args, **kwargs)
        z[0, 0, 0] = np.nan
        return z

    monkeypatch.setattr(flow, "_training_batch", poisoned)
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        fit_flow_prior(data, logvar_of(data), {**SETTINGS, "steps": 3}, seed=0)


def test_batches_are_seeded_and_some_start_at_the_clip_start(data) -> None:
    s = flow_settings({**SETTINGS, "batch_size": 400, "start_fraction": 0.25})
    a, b = flow_batch(data, logvar_of(data), s, 0, 5), flow_batch(data, logvar_of(data), s, 0, 5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    z, valid, x0, t = a
    assert z.shape == (400, 16, CHANNELS) and x0.shape == (400, 8, CHANNELS) and t.shape == (400,)
    assert np.all((t >= 0) & (t < 1))
    assert np.all(np.diff(valid, axis=1) >= 0)  # the valid frames are the last ones
    shortened = np.mean(valid.sum(axis=1) < s["context"])
    assert 0.15 < shortened < 0.3 and np.any(valid.sum(axis=1) == 0)


def test_settings_are_checked() -> None:
    assert flow_settings() == FLOW_DEFAULTS
    assert flow_settings({"steps": 5.0})["steps"] == 5
    for bad in ({"wndow": 3}, {"window": 0}, {"learning_rate": float("nan")}, {"start_fraction": 1.5},
                {"kernel_size": 4}, {"steps": 2.5}):  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))[:5]):
            flow_settings(bad)
    short = np.zeros((2, 10, CHANNELS), np.float32)
    with pytest.raises(ValueError, match="shorter than context"):
        fit_flow_prior(short, short, SETTINGS, seed=0)
