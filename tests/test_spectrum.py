"""The shared log-mel spectrogram (figures and listening page) and the page's spectrogram thumbnails."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from genrevae import spectrum
from genrevae.spectrum import THUMBNAIL_SIZE, log_mel, mel_db, spectrogram_thumbnail, thumbnail_levels

RATE = 3000


def _tone(freq: float, amplitude: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * freq * t)


def test_log_mel_has_one_home_that_the_figures_use() -> None:
    from genrevae import figures

    assert figures.log_mel is log_mel and "log_mel" in figures.__all__
    mel = log_mel(_tone(440.0, 0.5), RATE, n_fft=256, hop_length=64, n_mels=64)
    assert mel.shape == (64, 1 + 2 * RATE // 64) and mel.dtype == np.float32 and (mel >= 0).all()


def test_mel_db_is_librosas_power_to_db_floored() -> None:
    import librosa

    mel = log_mel(np.random.default_rng(0).standard_normal(RATE) * 0.1, RATE)
    ref = float(mel.max())
    expected = np.maximum(librosa.power_to_db(mel, ref=ref, amin=1e-10, top_db=None), -80.0)
    assert np.array_equal(mel_db(mel, ref), expected)
    assert mel_db(np.zeros((2, 3)), 1.0).min() == -80.0


def test_spectrum_imports_neither_tensorflow_nor_matplotlib() -> None:
    """The page job runs without TensorFlow; matplotlib and librosa are imported when first used."""
    code = (
        "import sys, genrevae.spectrum, genrevae.page; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib', 'librosa') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_thumbnail_is_a_small_deterministic_png_on_a_fixed_scale() -> None:
    loud = spectrogram_thumbnail(_tone(500.0, 0.5), RATE)
    assert loud == spectrogram_thumbnail(_tone(500.0, 0.5), RATE)  # same input, same bytes
    with Image.open(io.BytesIO(loud)) as image:
        assert image.format == "PNG" and image.size == THUMBNAIL_SIZE and image.mode == "P"
    # one scale for every clip (not normalised per clip): a tone 40 dB quieter is darker by 40 / 80 of the range
    band = thumbnail_levels(_tone(500.0, 0.5), RATE).max(axis=1).argmax()
    level_loud = thumbnail_levels(_tone(500.0, 0.5), RATE)[band].mean()
    level_quiet = thumbnail_levels(_tone(500.0, 0.005), RATE)[band].mean()
    assert level_loud - level_quiet == pytest.approx(255 * 40 / 80, abs=3)
    assert level_loud > 230  # a full-scale sine is at the top of the scale, this one 6 dB below
    # silence and a clip shorter than one window are still pictures of the documented size
    assert (thumbnail_levels(np.zeros(RATE), RATE) == 0).all()
    assert thumbnail_levels(np.zeros(10), RATE).shape == THUMBNAIL_SIZE[::-1]
    assert thumbnail_levels(_tone(500.0, 0.5, seconds=30.0), RATE).shape == THUMBNAIL_SIZE[::-1]


def test_thumbnail_keeps_a_short_onset_of_a_long_clip() -> None:
    """Thirty seconds squeezed into 200 columns: each column shows its loudest frame, so a click survives."""
    x = np.zeros(30 * RATE)
    x[15 * RATE] = 0.9
    levels = thumbnail_levels(x, RATE)
    column = levels.mean(axis=0)
    assert column.argmax() == pytest.approx(THUMBNAIL_SIZE[0] // 2, abs=1) and column.max() > 100
    assert np.median(column) == 0


def test_thumbnail_is_fast() -> None:
    x = np.random.default_rng(1).standard_normal(30 * RATE) * 0.1  # a 30 s clip at the model rate
    spectrogram_thumbnail(x, RATE)  # imports and the colour map, once
    start = time.perf_counter()
    for _ in range(5):
        spectrogram_thumbnail(x, RATE)
    assert (time.perf_counter() - start) / 5 < 0.2  # measured: about 6 ms; generous for a busy machine
    assert spectrum.full_scale_reference.cache_info().hits > 0
