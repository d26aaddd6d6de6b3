"""The loss functions against hand-computed values and numerical integration, on any Keras backend.

Gradients are taken by the backend's own training step (:func:`genrevae.backend.make_train_step`):
one SGD step of rate 1 moves a weight by minus its gradient.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import ops

from genrevae import backend, losses


def _trapezoid(y, x):
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


class _Weight(keras.layers.Layer):
    """One float32 weight, so a loss of it can be differentiated by the backend's training step."""

    def __init__(self, value: np.ndarray):
        super().__init__()
        self.value = self.add_weight(shape=value.shape, initializer=keras.initializers.Constant(value), name="value")


def gradient(loss_of, value: np.ndarray) -> np.ndarray:
    """``d loss_of(v) / d v`` at ``value`` (float32), ``loss_of`` a scalar: the step of plain SGD at
    learning rate 1, ``v - v'``, through :func:`genrevae.backend.make_train_step` on this backend."""
    holder = _Weight(np.asarray(value, np.float32))
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    optimizer.build(holder.trainable_variables)
    before = backend.to_numpy(holder.value)
    backend.make_train_step(lambda: loss_of(holder.value), holder, optimizer)()
    return before - backend.to_numpy(holder.value)


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
    per_dim = backend.to_numpy(losses.gaussian_kl(mean, logvar, reduce=False))[0]
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
    got = float(losses.continuous_bernoulli_log_normalizer(np.array([eta], np.float64))[0])
    grid = np.linspace(0.0, 1.0, 400_001)
    integral = _trapezoid(np.exp(grid * math.log(lam) + (1 - grid) * math.log(1 - lam)), grid)
    assert got == pytest.approx(-math.log(integral), abs=2e-6)


def test_continuous_bernoulli_normaliser_is_smooth_at_one_half():
    eta = np.array([-0.50001, -0.49999, -1e-4, 0.0, 1e-4, 0.49999, 0.50001], np.float32)
    grad = gradient(lambda e: ops.sum(losses.continuous_bernoulli_log_normalizer(e)), eta)
    log_c = backend.to_numpy(losses.continuous_bernoulli_log_normalizer(eta))
    assert np.all(np.isfinite(log_c)) and np.all(np.isfinite(grad))
    assert log_c[3] == pytest.approx(math.log(2.0), abs=1e-7)
    # both sides of the Taylor/exact switch agree; d log C / d eta = eta / 6 near 0
    assert log_c[5] == pytest.approx(log_c[6], abs=3e-6)
    assert grad[5] == pytest.approx(grad[6], abs=1e-4)
    assert grad[4] == pytest.approx(1e-4 / 6, rel=1e-2)


@pytest.mark.parametrize("eta", [-6.0, -0.7, -0.01, 0.0, 0.3, 0.999, 4.0])
def test_continuous_bernoulli_mean_vs_integration(eta):
    grid = np.linspace(0.0, 1.0, 200_001)
    log_c = float(losses.continuous_bernoulli_log_normalizer(np.array([eta], np.float64))[0])
    density = np.exp(grid * eta - math.log1p(math.exp(eta)) + log_c)
    assert _trapezoid(density, grid) == pytest.approx(1.0, abs=1e-6)
    got = float(losses.continuous_bernoulli_mean(np.array([eta], np.float64))[0])
    assert got == pytest.approx(_trapezoid(grid * density, grid), abs=1e-6)


def test_continuous_bernoulli_likelihood_is_a_density_on_minus_one_one():
    """With the log(1/2) Jacobian the density integrates to 1 over x in [-1, 1]."""
    for eta in (-3.0, 0.0, 1.7):
        x = np.linspace(-1.0, 1.0, 100_001)
        logp = backend.to_numpy(losses.continuous_bernoulli_log_likelihood(x[:, None], np.full((len(x), 1), eta)))
        assert _trapezoid(np.exp(logp), x) == pytest.approx(1.0, abs=1e-6)
    # and unlike the course report's sigmoid cross-entropy it is bounded: lambda -> 0 at x = -1
    big = backend.to_numpy(losses.continuous_bernoulli_log_likelihood(np.array([[-1.0]]), np.array([[-50.0]])))[0]
    assert big == pytest.approx(math.log(50.0) + math.log(0.5), rel=1e-6)


def _linear_gaussian_log_weights(x, k, rng, a=0.3, s=0.8, sigma=0.5):
    """p(z) = N(0, 1), p(x|z) = N(z, sigma^2), q(z|x) = N(a x, s^2): log w of k draws, shape (k,)."""
    mean = np.full((k, 1), a * x)
    logvar = np.full((k, 1), 2 * math.log(s))
    z = mean + s * rng.standard_normal((k, 1))
    log_w = backend.to_numpy(
        losses.gaussian_log_likelihood(np.full((k, 1), x), z, math.log(sigma))
        + losses.log_normal_pdf(z, 0.0, 0.0)
        - losses.log_normal_pdf(z, mean, logvar)
    )
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
    k1 = backend.to_numpy(losses.iwae_bound(log_w[None, :]))  # 20000 bounds with k = 1 each
    np.testing.assert_allclose(k1, log_w, rtol=0, atol=1e-6)
    assert float(np.mean(k1)) == pytest.approx(elbo, abs=4 * float(np.std(k1)) / math.sqrt(len(k1)))


def test_log_mean_exp_is_stable():
    v = np.array([[1000.0, -1000.0], [1000.0, -1000.0 + math.log(3.0)]], np.float32)
    got = backend.to_numpy(losses.log_mean_exp(v, axis=0))
    assert got[0] == pytest.approx(1000.0)
    assert got[1] == pytest.approx(-1000.0 + math.log(2.0), rel=1e-6)


def test_elbo_terms_is_recon_minus_kl():
    class Toy:
        log_scale = 0.0

        def encode(self, x, training=False):
            return 0.5 * x[:, :2], ops.zeros_like(x[:, :2]) - 1.0

        def reparameterize(self, mean, logvar, seed):
            return mean

        lengths: list = []

        def decode(self, z, training=False, length=None):
            self.lengths.append(int(length))  # the decoder is told the input's length
            return ops.concatenate([z, z], axis=1)[:, :length]

        def log_likelihood(self, x, out):
            return losses.gaussian_log_likelihood(x, out, self.log_scale)

    x = ops.convert_to_tensor(np.array([[0.1, 0.2, -0.3, 0.4]], np.float32))
    toy = Toy()
    t = losses.elbo_terms(toy, x, seed=0)
    assert toy.lengths == [4]
    np.testing.assert_allclose(backend.to_numpy(t["elbo"]), backend.to_numpy(t["recon"] - t["kl"]))
    assert backend.to_numpy(t["kl"])[0] == pytest.approx(2 * 0.5 * (math.exp(-1) + 0 - 1 + 1) + 0.5 * (0.05**2 + 0.1**2))


def test_stft_distance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3000)).astype(np.float32) * 0.2
    assert np.allclose(backend.to_numpy(losses.multi_resolution_stft_distance(x, x)), 0.0, atol=1e-6)
    # doubling the signal: spectral convergence 1, log-magnitude difference log 2
    d = backend.to_numpy(losses.multi_resolution_stft_distance(x, 2 * x))
    np.testing.assert_allclose(d, 1.0 + math.log(2.0), rtol=1e-3)
    assert np.all(backend.to_numpy(losses.multi_resolution_stft_distance(x, x[::-1] * 0.5)) > 0.5)
    # shorter than the largest FFT is fine
    assert losses.multi_resolution_stft_distance(x[:, :300], x[:, :300] * 0).shape == (2,)


def _stft_magnitude_reference(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """``tf.signal.stft(x, size, hop, size, pad_end=True)``'s magnitude in float64, as its documentation
    defines it: ``ceil(n / hop)`` frames from sample ``t hop``, zeros past the end, the Hann window
    that TensorFlow calls periodic (``cos(2 pi i / size)`` for even ``size``, ``/ (size - 1)`` for odd)."""
    frames = -(-x.shape[-1] // hop)
    padded = np.pad(x.astype(np.float64), [(0, 0), (0, (frames - 1) * hop + size)])
    period = size if size % 2 == 0 else size - 1
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / period)
    framed = np.stack([padded[:, t * hop : t * hop + size] for t in range(frames)], axis=1)
    return np.abs(np.fft.rfft(framed * window, axis=-1))


def _stft_distance_reference(x: np.ndarray, y: np.ndarray, sizes, eps: float = 1e-5) -> np.ndarray:
    total = 0.0
    for size in sizes:
        short = max(size - x.shape[-1], 0)
        xs, ys = (np.pad(a, [(0, 0), (0, short)]) for a in (x, y))
        sx, sy = (_stft_magnitude_reference(a, size, max(1, size // 4)) for a in (xs, ys))
        sc = np.sqrt(np.sum((sx - sy) ** 2, axis=(1, 2))) / (np.sqrt(np.sum(sx**2, axis=(1, 2))) + eps)
        total = total + sc + np.mean(np.abs(np.log(sx + eps) - np.log(sy + eps)), axis=(1, 2))
    return total / len(sizes)


@pytest.mark.parametrize(("n", "sizes"), [(3001, (256, 512, 1024)), (3000, (64, 128)), (300, (256, 512)), (1000, (50, 77, 9))])
def test_stft_distance_equals_its_formula(n, sizes):
    """The distance's framing, window and padding are TensorFlow's ``pad_end`` STFT's, written out in
    numpy (hops that do not divide the size, odd sizes, signals shorter than the FFT): the numbers
    of runs trained before the port, and the same on every backend."""
    rng = np.random.default_rng(n)
    x = (0.3 * rng.standard_normal((3, n))).astype(np.float32)
    y = (x + 0.1 * rng.standard_normal((3, n))).astype(np.float32)
    got = backend.to_numpy(losses.multi_resolution_stft_distance(x, y, sizes))
    np.testing.assert_allclose(got, _stft_distance_reference(x, y, sizes), rtol=2e-5)
    for size in sizes:
        mag = backend.to_numpy(losses.stft_magnitude(x, size, max(1, size // 4)))
        np.testing.assert_allclose(mag, _stft_magnitude_reference(x, size, max(1, size // 4)), rtol=0, atol=2e-5 * size)


def test_stft_distance_gradient_is_finite_on_silence():
    """Frames of exact zeros in the estimate have |STFT| = 0, where sqrt has an infinite slope: the
    magnitude's gradient there is 0 (TensorFlow's complex abs had the same), not NaN, so a decoder
    that outputs silence keeps training."""
    rng = np.random.default_rng(3)
    x = (0.3 * rng.standard_normal((2, 2048))).astype(np.float32)
    y = x.copy()
    y[:, 512:1536] = 0.0  # whole frames of every resolution are silent
    grad = gradient(lambda v: ops.sum(losses.multi_resolution_stft_distance(x, v, (64, 256))), y)
    assert np.all(np.isfinite(grad)) and np.count_nonzero(grad) > 0


def test_snr_db():
    x = np.ones((1, 1000), np.float32)
    assert float(losses.snr_db(x, x + 0.1)[0]) == pytest.approx(20.0, abs=1e-3)
    assert float(losses.snr_db(x, np.zeros_like(x))[0]) == pytest.approx(0.0, abs=1e-6)


def test_unit_conversion():
    assert losses.nats_to_bits_per_sample(-1000.0, 1000) == pytest.approx(-1.0 / math.log(2))
    assert losses.bits_per_sample_to_nats(losses.nats_to_bits_per_sample(123.0, 90001), 90001) == pytest.approx(123.0)
