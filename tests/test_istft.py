"""The inverse-STFT head: exact inverse of its own STFT framing, any frame count, bounded output,
and equal to the overlap-add formula written out in numpy on every Keras backend."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from genrevae import backend
from genrevae.istft import MAX_LOG_MAGNITUDE, InverseSTFT


def _stft(x: np.ndarray, hop: int, n_fft: int) -> np.ndarray:
    """The forward transform of the framing InverseSTFT inverts: frame f starts at f hop - (n_fft - hop) / 2."""
    frames = len(x) // hop
    start = (n_fft - hop) // 2
    padded = np.pad(x, (start, n_fft))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.fft.rfft(np.stack([padded[f * hop : f * hop + n_fft] * window for f in range(frames)]), axis=-1)


def _log_polar(spectrum: np.ndarray) -> np.ndarray:
    return np.concatenate([np.log(np.abs(spectrum) + 1e-30), np.angle(spectrum)], axis=-1)[None].astype(np.float32)


@pytest.mark.parametrize(("hop", "n_fft"), [(32, 128), (8, 32), (5, 15), (16, 32)])
def test_inverts_its_own_stft_exactly_to_the_edges(hop: int, n_fft: int) -> None:
    x = np.random.default_rng(hop).uniform(-0.8, 0.8, 40 * hop).astype(np.float32)
    y = backend.to_numpy(InverseSTFT(hop, n_fft)(_log_polar(_stft(x, hop, n_fft))))[0]
    assert y.shape == x.shape  # hop samples per frame, like a transposed convolution
    assert np.max(np.abs(y - x)) < 1e-5  # the first and last samples too: the window envelope is divided out


def _istft_reference(spectrum: np.ndarray, hop: int, n_fft: int) -> np.ndarray:
    """The module docstring's formula in float64, one frame at a time: ``(batch, F, 2 bins) -> (batch, F hop)``."""
    bins = n_fft // 2 + 1
    log_magnitude = np.minimum(spectrum[..., :bins].astype(np.float64), MAX_LOG_MAGNITUDE)
    frames = np.fft.irfft(np.exp(log_magnitude) * np.exp(1j * spectrum[..., bins:]), n=n_fft, axis=-1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    count = spectrum.shape[1]
    start = (n_fft - hop) // 2  # frame f covers samples f hop - start ... f hop - start + n_fft - 1
    numerator = np.zeros((len(spectrum), (count - 1) * hop + n_fft))
    envelope = np.zeros((count - 1) * hop + n_fft)
    for f in range(count):
        numerator[:, f * hop : f * hop + n_fft] += window * frames[:, f]
        envelope[f * hop : f * hop + n_fft] += window**2
    return (numerator / np.maximum(envelope, 1e-6))[:, start : start + count * hop]


@pytest.mark.parametrize(("hop", "n_fft"), [(32, 128), (8, 20), (5, 15), (16, 32), (3, 9)])
def test_equals_the_overlap_add_formula(hop: int, n_fft: int) -> None:
    """Any spectrum (not only an STFT's), n_fft a multiple of hop or not, to float32 rounding: a saved
    decoder's iSTFT gives the numbers it gave when it was trained, on whichever backend runs it."""
    layer = InverseSTFT(hop, n_fft)
    spectrum = np.random.default_rng(n_fft).normal(0.0, 1.5, (2, 23, 2 * layer.bins)).astype(np.float32)
    spectrum[0, 3, :4] = 50.0  # clipped at MAX_LOG_MAGNITUDE
    want = _istft_reference(spectrum, hop, n_fft)
    got = backend.to_numpy(layer(spectrum))
    assert got.shape == want.shape == (2, 23 * hop)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.max(np.abs(want)))


def test_compiled_gives_the_eager_numbers_bit_for_bit() -> None:
    """Compiled once (a TensorFlow graph, a JAX jit), called with new batch sizes and frame counts,
    the layer gives exactly its eager numbers: the compiled decoders rely on it.  Fails if the
    window is multiplied in before an add that XLA may fuse (JAX), or if the envelope divides with
    an op TensorFlow's graph optimiser rewrites once the envelope folds to a constant."""
    layer = InverseSTFT(8)
    compiled = backend.compile_function(lambda a: layer(a), jit_compile=False)
    rng = np.random.default_rng(7)
    for batch, frames in ((2, 30), (2, 30), (1, 30), (3, 17)):
        spectrum = rng.normal(0.0, 1.5, (batch, frames, 2 * layer.bins)).astype(np.float32)
        assert np.array_equal(backend.to_numpy(compiled(spectrum)), backend.to_numpy(layer(spectrum)))


def test_one_bin_is_one_sinusoid() -> None:
    """A constant magnitude in bin k, with the phase advancing 2 pi k hop / n_fft per frame, plays a
    sinusoid of k sample_rate / n_fft: harmonics are single bins for the decoder to predict."""
    hop, n_fft, frames, k = 32, 128, 60, 9
    layer = InverseSTFT(hop)
    log_magnitude = np.full((1, frames, layer.bins), -30.0, np.float32)
    log_magnitude[..., k] = np.log(20.0)
    phase = np.zeros((1, frames, layer.bins), np.float32)
    phase[0, :, k] = 2 * np.pi * k * hop / n_fft * np.arange(frames)
    y = backend.to_numpy(layer(np.concatenate([log_magnitude, phase], -1)))[0]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.argmax(spectrum) == k * len(y) // n_fft
    assert spectrum[k * len(y) // n_fft] > 100 * np.median(spectrum)


def test_huge_log_magnitudes_are_clipped_not_infinite() -> None:
    layer = InverseSTFT(8)
    y = backend.to_numpy(layer(np.full((2, 10, 2 * layer.bins), 1e4, np.float32)))
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= np.exp(MAX_LOG_MAGNITUDE) * 1.01


def test_serialises_and_rejects_bad_framing() -> None:
    layer = InverseSTFT(16, 48)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert (clone.hop, clone.n_fft, clone.bins) == (16, 48, 25)
    assert InverseSTFT(32).n_fft == 128
    for hop, n_fft in ((0, 4), (8, 4), (8, 8), (8, 13)):  # (8, 8): no overlap, and Hann's first tap is 0
        with pytest.raises(ValueError, match="InverseSTFT"):
            InverseSTFT(hop, n_fft)
