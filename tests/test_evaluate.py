"""evaluate_genre on tiny synthetic shards: the metrics, their relations, determinism."""

from __future__ import annotations

import json
import logging
import math

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import backend_threads
from genrevae.evaluate import evaluate_genre
from genrevae.model import build_model
from genrevae.train import train_genre
from genre_helpers import TINY_TRAIN, fit_tiny_prior

N = 2200
# 4 PQMF bands and strides 2 * 4: one latent frame per 32 samples
CONV = {"bands": 4, "width": 4, "max_width": 8, "strides": [2, 4], "kernel_size": 5, "dilations": [1], "latent_channels": 3}
SETTINGS = {"seed": 11, "model": {"preset": "conv", "conv": CONV}, "evaluate": {"iw_samples": 8, "batch_size": 2}}
KEYS = {
    "n_clips", "elbo_nats", "elbo_bits_per_sample", "recon_nats", "kl_nats", "kl_analytic_nats", "iwae_nats",
    "kl_per_dim", "active_units", "snr_db", "stft_distance",
}
LEARNED_KEYS = {"elbo_nats", "elbo_bits_per_sample", "kl_nats", "iwae_nats"}


THREADS = backend_threads()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval-data")
    rng = np.random.default_rng(3)
    t = np.arange(N) / 3000.0
    clips = 0.25 * np.sin(2 * np.pi * rng.uniform(100, 500, (9, 1)) * t) + 0.03 * rng.standard_normal((9, N))
    np.save(d / "clips.npy", np.clip(clips, -1, 1).astype(np.float32))
    subset = ["test", "train", "train", "test", "train", "train", "test", "train", "train"]
    pd.DataFrame({"clip": range(9), "track": [f"c{i}.wav" for i in range(9)], "subset": subset}).to_csv(
        d / "split.csv", index=False
    )
    return d / "clips.npy", d / "split.csv"


def _check(metrics: dict, n_train: int, n_test: int, latent_channels: int, learned_prior: bool = False):
    assert metrics["test"]["n_clips"] == n_test and metrics["train"]["n_clips"] == n_train
    for name in ("test", "train"):
        m = metrics[name]
        assert set(m) == KEYS | ({"learned_prior"} if learned_prior else set())
        if learned_prior:
            lp = m["learned_prior"]
            assert set(lp) == LEARNED_KEYS and all(math.isfinite(v) for v in lp.values())
            # a valid bound of the learned prior's model too, from the same draws z ~ q(z|x)
            assert lp["iwae_nats"] >= lp["elbo_nats"], (name, lp)
            assert lp["elbo_nats"] == pytest.approx(m["recon_nats"] - lp["kl_nats"], rel=1e-9, abs=1e-6)
            assert lp["elbo_bits_per_sample"] == pytest.approx(lp["elbo_nats"] / (N * math.log(2)))
        assert m["iwae_nats"] >= m["elbo_nats"], (name, m["iwae_nats"], m["elbo_nats"])
        assert m["elbo_nats"] == pytest.approx(m["recon_nats"] - m["kl_nats"], rel=1e-9, abs=1e-6)
        assert m["elbo_bits_per_sample"] == pytest.approx(m["elbo_nats"] / (N * math.log(2)))
        assert len(m["kl_per_dim"]) == latent_channels
        assert sum(m["kl_per_dim"]) == pytest.approx(m["kl_analytic_nats"], rel=1e-6)
        assert 0 <= m["active_units"] <= metrics["latent_dims"]
        assert all(math.isfinite(m[k]) for k in KEYS - {"kl_per_dim", "n_clips", "active_units"})
    json.dumps(metrics)  # the caller writes it as metrics.json


@pytest.mark.slow
def test_untrained_model_metrics_and_determinism(data, tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(SETTINGS["model"], N)
    model.save(tmp_path / "model.keras")
    first = evaluate_genre(tmp_path / "model.keras", data[0], data[1], SETTINGS, THREADS)
    _check(first, n_train=6, n_test=3, latent_channels=3)
    assert first["latent_shape"] == [-(-N // 32), 3] and first["latent_dims"] == 69 * 3
    assert first["iw_samples"] == 8 and first["settings"]["evaluate"]["batch_size"] == 2
    assert "train" not in first["settings"]  # only what evaluation was given is echoed
    again = evaluate_genre(tmp_path / "model.keras", data[0], data[1], SETTINGS, THREADS)
    assert again == first


@pytest.mark.slow
def test_train_then_evaluate(data, tmp_path, monkeypatch):
    settings = json.loads(json.dumps(SETTINGS))
    settings["train"] = {**TINY_TRAIN, "batch_size": 3}
    train_genre(data[0], data[1], tmp_path, settings, THREADS, logging.getLogger("test.evaluation"))
    metrics = evaluate_genre(tmp_path / "model.keras", data[0], data[1], settings, THREADS)
    _check(metrics, n_train=6, n_test=3, latent_channels=3)
    # reconstructions are better than silence would be (SNR of silence is 0 dB)... or at least finite
    assert metrics["test"]["snr_db"] > -20

    # with the genre's learned prior (the prior stage): both bounds side by side
    prior = fit_tiny_prior(tmp_path / "model.keras", data[0], data[1], tmp_path / "prior", seed=1)
    both = evaluate_genre(tmp_path / "model.keras", data[0], data[1], settings, THREADS, prior_path=prior)
    _check(both, n_train=6, n_test=3, latent_channels=3, learned_prior=True)
    for name in ("test", "train"):
        # the N(0, I) numbers do not change when the prior is given: same draws, same seeds
        assert {k: v for k, v in both[name].items() if k != "learned_prior"} == metrics[name]
    again = evaluate_genre(tmp_path / "model.keras", data[0], data[1], settings, THREADS, prior_path=prior)
    assert again == both

    # The k draws go through the decoder in groups (evaluate.DECODE_BATCH clips per call): the same
    # draws as one call per draw, so the same numbers up to float rounding.  kl_nats is recon - elbo,
    # a difference of two numbers of the size of recon_nats: its rounding is relative to that
    # (XLA on JAX rounds a batch of 16 differently from a batch of 1; TensorFlow's kernels do not).
    # Other draws would move it by their sampling noise, orders of magnitude more.
    import genrevae.evaluate as evaluate_module

    monkeypatch.setattr(evaluate_module, "DECODE_BATCH", 1)
    one_per_call = evaluate_genre(tmp_path / "model.keras", data[0], data[1], settings, THREADS, prior_path=prior)
    for name in ("test", "train"):
        rounding = 1e-6 * abs(both[name]["recon_nats"])
        for key in ("elbo_nats", "recon_nats", "kl_nats", "iwae_nats", "snr_db", "stft_distance"):
            assert one_per_call[name][key] == pytest.approx(both[name][key], rel=1e-6, abs=rounding), (name, key)
        for key in LEARNED_KEYS:
            got, want = one_per_call[name]["learned_prior"][key], both[name]["learned_prior"][key]
            assert got == pytest.approx(want, rel=1e-6, abs=rounding), (name, "learned_prior", key)
        assert one_per_call[name]["kl_analytic_nats"] == both[name]["kl_analytic_nats"]  # no draws in it


@pytest.mark.slow
def test_report_preset(data, tmp_path):
    settings = {"seed": 5, "model": {"preset": "report", "latent_dim": 4}, "evaluate": {"iw_samples": 4, "batch_size": 4}}
    keras.utils.set_random_seed(1)
    build_model(settings["model"], N).save(tmp_path / "seed.keras")
    metrics = evaluate_genre(tmp_path / "seed.keras", data[0], data[1], settings, THREADS)
    _check(metrics, n_train=6, n_test=3, latent_channels=4)
    assert metrics["latent_shape"] == [4]
    # a latent vector is a one-frame sequence to the learned prior; its VAR baseline can only
    # be of order 0 (an i.i.d. Gaussian), whatever prior.var_order says
    prior = fit_tiny_prior(tmp_path / "seed.keras", data[0], data[1], tmp_path / "prior", seed=2, var_order=4)
    report = json.loads((tmp_path / "prior" / "prior.json").read_text())
    assert report["var_order"] == 0 and report["settings"]["var_order"] == 4
    assert report["report"]["test"]["frames"] == 1 and math.isfinite(report["report"]["test"]["var"]["nll_per_frame"])
    with_prior = evaluate_genre(tmp_path / "seed.keras", data[0], data[1], settings, THREADS, prior_path=prior)
    _check(with_prior, n_train=6, n_test=3, latent_channels=4, learned_prior=True)


def test_iwae_in_float64_is_the_losses_bound():
    """evaluate keeps the importance-weighted bound in float64 numpy (JAX would round it to float32):
    the same log-mean-exp as losses.iwae_bound, and >= the mean of the weights (Jensen)."""
    from genrevae import backend, losses
    from genrevae.evaluate import _iwae

    log_w = np.random.default_rng(0).normal(-3000.0, 40.0, (8, 5))
    got = _iwae(log_w)
    want = backend.to_numpy(losses.iwae_bound(log_w.astype(np.float32))).astype(np.float64)
    assert got.dtype == np.float64 and got.shape == (5,)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.all(got >= log_w.mean(axis=0)) and np.all(got <= log_w.max(axis=0))
    assert _iwae(np.full((4, 1), -7.0))[0] == pytest.approx(-7.0, abs=1e-12)


def test_length_mismatch_is_rejected(data, tmp_path):
    build_model(SETTINGS["model"], N + 1).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="samples"):
        evaluate_genre(tmp_path / "m.keras", data[0], data[1], SETTINGS, THREADS)
