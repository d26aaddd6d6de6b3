"""The PQMF filter bank: near-perfect reconstruction, band separation, any multiple-of-M length,
and the layer's numbers equal to the filter bank written out in numpy on every Keras backend."""

from __future__ import annotations

import numpy as np
import pytest

from genrevae import backend
from genrevae.pqmf import PQMF, pqmf_filters, prototype_filter

RATE = 3000


def _snr_db(x: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2)))


@pytest.mark.parametrize("bands", [4, 8])
def test_analysis_then_synthesis_reconstructs(bands):
    rng = np.random.default_rng(0)
    n = 64 * bands * 4
    t = np.arange(n) / RATE
    x = np.stack([rng.standard_normal(n), np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 97 * t)]).astype(np.float32)
    analysis, synthesis = PQMF(bands, "analysis"), PQMF(bands, "synthesis")
    y = analysis(x)
    assert y.shape == (2, n // bands, bands)
    back = backend.to_numpy(synthesis(y))
    assert back.shape == x.shape
    edge = 2 * analysis.order  # the filters see zeros beyond the ends
    for i in range(2):
        assert _snr_db(x[i, edge:-edge], back[i, edge:-edge]) > 40


def test_a_tone_lands_in_its_band():
    bands = 8
    n = 4096
    width = RATE / 2 / bands  # 187.5 Hz per band
    for k in (0, 3, 7):
        f = (k + 0.5) * width
        x = np.sin(2 * np.pi * f * np.arange(n) / RATE).astype(np.float32)[None]
        energy = np.sum(np.square(backend.to_numpy(PQMF(bands)(x))[0, 64:-64]), axis=0)
        assert int(np.argmax(energy)) == k
        assert energy[k] / energy.sum() > 0.99


def _analysis_reference(x: np.ndarray, bands: int) -> np.ndarray:
    """The module docstring's analysis in float64: filter with ``h_k`` (centred: ``N / 2`` samples
    of delay removed), keep every ``M``-th sample.  ``(batch, n) -> (batch, n / M, M)``."""
    analysis, _ = pqmf_filters(bands)
    half = (analysis.shape[1] - 1) // 2
    out = np.empty((len(x), x.shape[1] // bands, bands))
    for b, row in enumerate(x.astype(np.float64)):
        for k in range(bands):
            out[b, :, k] = np.convolve(row, analysis[k])[half : half + x.shape[1] : bands]
    return out


def _synthesis_reference(y: np.ndarray, bands: int) -> np.ndarray:
    """Synthesis in float64: insert ``M - 1`` zeros between samples, filter with ``g_k`` (centred),
    multiply by ``M``, sum the bands.  ``(batch, t, M) -> (batch, t M)``."""
    _, synthesis = pqmf_filters(bands)
    half = (synthesis.shape[1] - 1) // 2
    frames = y.shape[1]
    out = np.zeros((len(y), frames * bands))
    for b in range(len(y)):
        for k in range(bands):
            upsampled = np.zeros(frames * bands)
            upsampled[::bands] = y[b, :, k]
            out[b] += bands * np.convolve(upsampled, synthesis[k])[half : half + frames * bands]
    return out


@pytest.mark.parametrize("bands", [2, 4, 8])
def test_layer_equals_the_filter_bank_written_out(bands):
    """Analysis and synthesis are the docstring's filtering, decimation and interpolation to float32
    rounding, edges included, on whichever Keras backend runs: models trained on one backend
    keep their sub-band numbers on another."""
    rng = np.random.default_rng(bands)
    x = rng.uniform(-0.9, 0.9, (2, 40 * bands)).astype(np.float32)
    got = backend.to_numpy(PQMF(bands, "analysis")(x))
    np.testing.assert_allclose(got, _analysis_reference(x, bands), rtol=0, atol=1e-5)
    y = rng.standard_normal((2, 37, bands)).astype(np.float32)
    got = backend.to_numpy(PQMF(bands, "synthesis")(y))
    want = _synthesis_reference(y, bands)
    assert got.shape == want.shape == (2, 37 * bands)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.max(np.abs(want)))


def test_prototype_is_a_symmetric_low_pass():
    h = prototype_filter(8)
    assert len(h) == 65 and np.allclose(h, h[::-1])
    analysis, synthesis = pqmf_filters(8)
    assert analysis.shape == synthesis.shape == (8, 65)
    # synthesis filters are the time-reversed analysis filters (perfect-reconstruction pair)
    np.testing.assert_allclose(synthesis, analysis[:, ::-1], atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least 2 bands"):
        PQMF(1)
    with pytest.raises(ValueError, match="mode"):
        PQMF(8, "both")
    clone = PQMF.from_config(PQMF(4, "synthesis").get_config())
    assert clone.bands == 4 and clone.mode == "synthesis"
