"""The PQMF filter bank: near-perfect reconstruction, band separation, any multiple-of-M length."""

from __future__ import annotations

import numpy as np
import pytest

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
    back = synthesis(y).numpy()
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
        energy = np.sum(np.square(PQMF(bands)(x).numpy()[0, 64:-64]), axis=0)
        assert int(np.argmax(energy)) == k
        assert energy[k] / energy.sum() > 0.99


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
