"""The loss functions against hand-computed values and numerical integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from genrevae import losses


def _trapezoid(y, x):
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def test_gaussian_log_likelihood_at_known_point():
    x = np.array([[0.5, -0.25]], np.float32)
    mean = np.zeros_like(x)
    sigma = 0.5
    got = float(losses.gaussian_log_likelihood(x, mean, math.log(sigma))[0])
    # by hand: sum_i -0.5 (x_i / sigma)^2 - log sigma - 0.5 log 2 pi
    want = -0.5 * (1.0**2 + 0.5**2) - 2 * math.log(0.5) - math.log(2 * math.pi)
    assert got == pytest.approx(want, rel=1e-6)
    # a standard normal at its mode: -0.5 log 2 pi per sample
    got0 = float(losses.gaussian_log_likelihood(np.zeros((1, 3), np.float32), 0.0, 0.0)[0])
    assert got0 == pytest.approx(-1.5 * math.log(2 * math.pi), rel=1e-6)


def test_log_normal_pdf_matches_formula():
    z = np.array([[0.3, -1.2, 2.0]], np.float32)
    m = np.array([[0.1, -1.0, 0.0]], np.float32)
    lv = np.array([[0.0, -1.0, 1.5]], np.float32)
    want = sum(
        -0.5 * ((zi - mi) ** 2 / math.exp(li) + li + math.log(2 * math.pi)) for zi, mi, li in zip(z[0], m[0], lv[0])
    )
    assert float(losses.log_normal_pdf(z, m, lv)[0]) == pytest.approx(want, rel=1e-6)


def test_gaussian_kl_matches_numerical_integration():
    mean = np.array([[0.7, -1.5]], np.float32)
    logvar = np.array([[-0.8, 0.6]], np.float32)
    per_dim = losses.gaussian_kl(mean, logvar, reduce=False).numpy()[0]
    grid = np.linspace(-12, 12, 200_001)
    for j in range(2):
        m, s = float(mean[0, j]), math.exp(0.5 * float(logvar[0, j]))
        log_q = -0.5 * ((grid - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        log_p = -0.5 * grid**2 - 0.5 * math.log(2 * math.pi)
        numeric = _trapezoid(np.exp(log_q) * (log_q - log_p), grid)
        assert per_dim[j] == pytest.approx(numeric, rel=1e-5, abs=1e-6)
    assert float(losses.gaussian_kl(mean, logvar)[0]) == pytest.approx(per_dim.sum(), rel=1e-6)
    # KL of the prior to itself is zero; latents of any rank are summed per example
    assert float(losses.gaussian_kl(np.zeros((1, 4, 3)), np.zeros((1, 4, 3)))[0]) == 0.0


@pytest.mark.parametrize("lam", [1e-3, 0.05, 0.3, 0.45, 0.49, 0.4999, 0.5, 0.5001, 0.52, 1 / (1 + math.exp(-0.499)), 1 / (1 + math.exp(-0.501)), 0.8, 0.999])
def test_continuous_bernoulli_normaliser_vs_integration(lam):
    eta = math.log(lam / (1 - lam))
    got = float(losses.continuous_bernoulli_log_normalizer(tf.constant([eta], tf.float64))[0])
    grid = np.linspace(0.0, 1.0, 400_001)
    integral = _trapezoid(np.exp(grid * math.log(lam) + (1 - grid) * math.log(1 - lam)), grid)
    assert got == pytest.approx(-math.log(integral), abs=2e-6)


def test_continuous_bernoulli_normaliser_is_smooth_at_one_half():
    eta = tf.constant([-0.50001, -0.49999, -1e-4, 0.0, 1e-4, 0.49999, 0.50001], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(eta)
        log_c = losses.continuous_bernoulli_log_normalizer(eta)
    grad = tape.gradient(log_c, eta).numpy()
    log_c = log_c.numpy()
    assert np.all(np.isfinite(log_c)) and np.all(np.isfinite(grad))
    assert log_c[3] == pytest.approx(math.log(2.0), abs=1e-7)
    # both sides of the Taylor/exact switch agree; d log C / d eta = eta / 6 near 0
    assert log_c[5] == pytest.approx(log_c[6], abs=3e-6)
    assert grad[5] == pytest.approx(grad[6], abs=1e-4)
    assert grad[4] == pytest.approx(1e-4 / 6, rel=1e-2)


@pytest.mark.parametrize("eta", [-6.0, -0.7, -0.01, 0.0, 0.3, 0.999, 4.0])
def test_continuous_bernoulli_mean_vs_integration(eta):
    grid = np.linspace(0.0, 1.0, 200_001)
    log_c = float(losses.continuous_bernoulli_log_normalizer(tf.constant([eta], tf.float64))[0])
    density = np.exp(grid * eta - math.log1p(math.exp(eta)) + log_c)
    assert _trapezoid(density, grid) == pytest.approx(1.0, abs=1e-6)
    got = float(losses.continuous_bernoulli_mean(tf.constant([eta], tf.float64))[0])
    assert got == pytest.approx(_trapezoid(grid * density, grid), abs=1e-6)


def test_continuous_bernoulli_likelihood_is_a_density_on_minus_one_one():
    """With the log(1/2) Jacobian the density integrates to 1 over x in [-1, 1]."""
    for eta in (-3.0, 0.0, 1.7):
        x = np.linspace(-1.0, 1.0, 100_001)
        logp = losses.continuous_bernoulli_log_likelihood(x[:, None], np.full((len(x), 1), eta)).numpy()
        assert _trapezoid(np.exp(logp), x) == pytest.approx(1.0, abs=1e-6)
    # and unlike the course report's sigmoid cross-entropy it is bounded: lambda -> 0 at x = -1
    big = losses.continuous_bernoulli_log_likelihood(np.array([[-1.0]]), np.array([[-50.0]])).numpy()[0]
    assert big == pytest.approx(math.log(50.0) + math.log(0.5), rel=1e-6)


def _linear_gaussian_log_weights(x, k, rng, a=0.3, s=0.8, sigma=0.5):
    """p(z) = N(0, 1), p(x|z) = N(z, sigma^2), q(z|x) = N(a x, s^2): log w of k draws, shape (k,)."""
    mean = np.full((k, 1), a * x)
    logvar = np.full((k, 1), 2 * math.log(s))
    z = mean + s * rng.standard_normal((k, 1))
    log_w = (
        losses.gaussian_log_likelihood(np.full((k, 1), x), z, math.log(sigma))
        + losses.log_normal_pdf(z, 0.0, 0.0)
        - losses.log_normal_pdf(z, mean, logvar)
    ).numpy()
    recon = -0.5 * ((x - a * x) ** 2 + s**2) / sigma**2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    elbo = recon - float(losses.gaussian_kl(mean[:1], logvar[:1])[0])
    log_px = -0.5 * x**2 / (1 + sigma**2) - 0.5 * math.log(2 * math.pi * (1 + sigma**2))
    return log_w, elbo, log_px


def test_iwae_bound_is_between_elbo_and_log_likelihood():
    rng = np.random.default_rng(0)
    log_w, elbo, log_px = _linear_gaussian_log_weights(1.3, 5000, rng)
    iwae = float(losses.iwae_bound(log_w[:, None])[0])
    assert elbo < iwae <= log_px + 1e-3
    assert iwae == pytest.approx(log_px, abs=0.01)
    # for a fixed set of weights, log-mean-exp >= mean (Jensen)
    for k in (2, 8, 64):
        assert float(losses.iwae_bound(log_w[:k, None])[0]) >= float(np.mean(log_w[:k]))


def test_iwae_with_one_sample_is_the_elbo_in_expectation():
    rng = np.random.default_rng(1)
    log_w, elbo, _ = _linear_gaussian_log_weights(-0.4, 20000, rng)
    k1 = losses.iwae_bound(log_w[None, :]).numpy()  # 20000 bounds with k = 1 each
    np.testing.assert_allclose(k1, log_w, rtol=0, atol=1e-6)
    assert float(np.mean(k1)) == pytest.approx(elbo, abs=4 * float(np.std(k1)) / math.sqrt(len(k1)))


def test_log_mean_exp_is_stable():
    v = tf.constant([[1000.0, -1000.0], [1000.0, -1000.0 + math.log(3.0)]], tf.float32)
    got = losses.log_mean_exp(v, axis=0).numpy()
    assert got[0] == pytest.approx(1000.0)
    assert got[1] == pytest.approx(-1000.0 + math.log(2.0), rel=1e-6)


def test_elbo_terms_is_recon_minus_kl():
    class Toy:
        log_scale = tf.constant(0.0)

        def encode(self, x, training=False):
            return 0.5 * x[:, :2], tf.zeros_like(x[:, :2]) - 1.0

        def reparameterize(self, mean, logvar, seed):
            return mean

        lengths: list = []

        def decode(self, z, training=False, length=None):
            self.lengths.append(int(length))  # the decoder is told the input's length
            return tf.concat([z, z], axis=1)[:, :length]

        def log_likelihood(self, x, out):
            return losses.gaussian_log_likelihood(x, out, self.log_scale)

    x = tf.constant([[0.1, 0.2, -0.3, 0.4]])
    toy = Toy()
    t = losses.elbo_terms(toy, x, seed=0)
    assert toy.lengths == [4]
    np.testing.assert_allclose(t["elbo"].numpy(), (t["recon"] - t["kl"]).numpy())
    assert t["kl"].numpy()[0] == pytest.approx(2 * 0.5 * (math.exp(-1) + 0 - 1 + 1) + 0.5 * (0.05**2 + 0.1**2))


def test_stft_distance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3000)).astype(np.float32) * 0.2
    assert np.allclose(losses.multi_resolution_stft_distance(x, x).numpy(), 0.0, atol=1e-6)
    # doubling the signal: spectral convergence 1, log-magnitude difference log 2
    d = losses.multi_resolution_stft_distance(x, 2 * x).numpy()
    np.testing.assert_allclose(d, 1.0 + math.log(2.0), rtol=1e-3)
    assert np.all(losses.multi_resolution_stft_distance(x, x[::-1] * 0.5).numpy() > 0.5)
    # shorter than the largest FFT is fine
    assert losses.multi_resolution_stft_distance(x[:, :300], x[:, :300] * 0).shape == (2,)


def test_snr_db():
    x = np.ones((1, 1000), np.float32)
    assert float(losses.snr_db(x, x + 0.1)[0]) == pytest.approx(20.0, abs=1e-3)
    assert float(losses.snr_db(x, np.zeros_like(x))[0]) == pytest.approx(0.0, abs=1e-6)


def test_unit_conversion():
    assert losses.nats_to_bits_per_sample(-1000.0, 1000) == pytest.approx(-1.0 / math.log(2))
    assert losses.bits_per_sample_to_nats(losses.nats_to_bits_per_sample(123.0, 90001), 90001) == pytest.approx(123.0)
