"""Log-mel spectrograms: the one computation behind the figures and the listening page's thumbnails.

"Look before you listen": notes are horizontal lines in a log-mel spectrogram, onsets vertical
ones, noise a flat smear.  Two places draw them -- the ``spectrograms.png`` and
``reconstructions.png`` figures (:mod:`genrevae.figures`) and the small thumbnail beside every
player of the listening page (:mod:`genrevae.page`) -- and both take the spectrogram, its dB
conversion, its dB range and its colour map from here, so they cannot drift apart.

The thumbnail renderer lives in this module too rather than in a ``thumbnails`` module of its
own: a thumbnail *is* this module's spectrogram at a fixed scale, a few lines on top of
:func:`log_mel` and :func:`mel_db`, and keeping it here keeps its scale constants next to the
ones the figures use.  The module stays light enough for the page job (which runs without
TensorFlow): at import it needs numpy only; librosa (the mel filterbank), matplotlib (only its
colour map table, never pyplot) and Pillow (the PNG encoder) are imported when first used.

Scales:

* the figures use dB relative to the loudest clip of a figure, :data:`DB_RANGE` deep;
* thumbnails use one *fixed* scale for every clip, :data:`THUMBNAIL_DB_LIMITS` dB relative to
  a full-scale sine (:func:`full_scale_reference`), so thumbnails compare across clips and
  pages: a quiet clip looks dark, silence is a uniform black.
"""

from __future__ import annotations

import functools
import io

import numpy as np

__all__ = [
    "COLORMAP",
    "DB_RANGE",
    "THUMBNAIL_DB_LIMITS",
    "THUMBNAIL_HOP_LENGTH",
    "THUMBNAIL_N_FFT",
    "THUMBNAIL_SIZE",
    "full_scale_reference",
    "log_mel",
    "mel_db",
    "spectrogram_thumbnail",
    "thumbnail_levels",
]

#: Perceptually uniform colour map of every spectrogram (dark = quiet, bright = loud).
COLORMAP = "magma"
#: Depth of the figures' colour scale in dB (below the reference, everything is the darkest colour).
DB_RANGE = 80.0
#: Thumbnail size in pixels, (width, height): time runs left to right over the width, one
#: pixel row per mel band over the height (low frequencies at the bottom).
THUMBNAIL_SIZE = (200, 56)
#: The thumbnails' fixed colour scale: (darkest, brightest) in dB re a full-scale sine.
THUMBNAIL_DB_LIMITS = (-80.0, 0.0)
#: Thumbnail STFT: the same resolution as ``spectrograms.png`` (about 85 ms windows at 3 kHz).
THUMBNAIL_N_FFT = 256
THUMBNAIL_HOP_LENGTH = 64
#: Power floor of the dB conversion (as librosa's ``power_to_db(amin=1e-10)``).
AMIN = 1e-10


def log_mel(x: np.ndarray, sample_rate: int, n_fft: int = 512, hop_length: int = 128, n_mels: int = 64) -> np.ndarray:
    """Mel power spectrogram ``(n_mels, frames)`` of one waveform, up to the Nyquist frequency
    (librosa's defaults otherwise: Hann window, centred frames, Slaney mel scale and norm); its
    logarithm is :func:`mel_db`."""
    import librosa

    return librosa.feature.melspectrogram(
        y=np.asarray(x, dtype=np.float32), sr=sample_rate, n_fft=n_fft, hop_length=hop_length,
        n_mels=n_mels, fmax=sample_rate / 2.0,
    )  # fmt: skip


def mel_db(mel: np.ndarray, ref: float, floor_db: float = -DB_RANGE) -> np.ndarray:
    """Power in dB relative to ``ref``, floored at ``floor_db``: exactly librosa's
    ``np.maximum(power_to_db(mel, ref=ref, amin=1e-10, top_db=None), floor_db)``."""
    db = 10.0 * np.log10(np.maximum(AMIN, np.asarray(mel)))
    db -= 10.0 * np.log10(np.maximum(AMIN, np.abs(ref)))
    return np.maximum(db, floor_db)


@functools.lru_cache(maxsize=32)
def full_scale_reference(sample_rate: int, n_fft: int, hop_length: int, n_mels: int) -> float:
    """The thumbnails' 0 dB: the strongest mel band of a full-scale sine at ``sample_rate / 6``
    (in the linear part of the mel scale, where every band has the same peak gain)."""
    n = max(8 * n_fft, int(sample_rate))
    t = np.arange(n) / float(sample_rate)
    sine = np.sin(2.0 * np.pi * (sample_rate / 6.0) * t)
    return float(log_mel(sine, sample_rate, n_fft, hop_length, n_mels)[:, 2:-2].max())


def _pool_columns(mel: np.ndarray, width: int) -> np.ndarray:
    """``(bands, frames)`` to ``(bands, width)``: each column is the loudest of the frames it
    covers (so a short onset survives the squeeze), or the nearest frame when there are fewer
    frames than columns."""
    frames = mel.shape[1]
    starts = (np.arange(width) * frames) // width
    return np.maximum.reduceat(mel, starts, axis=1)


def thumbnail_levels(signal: np.ndarray, sample_rate: int, size: tuple[int, int] = THUMBNAIL_SIZE) -> np.ndarray:
    """The thumbnail as colour-map indices, ``uint8 (height, width)``, row 0 the highest band:
    0 is :data:`THUMBNAIL_DB_LIMITS` ``[0]`` or quieter, 255 the top of the scale or louder."""
    width, height = int(size[0]), int(size[1])
    x = np.nan_to_num(np.asarray(signal, dtype=np.float64).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    if len(x) < THUMBNAIL_N_FFT:  # librosa wants at least one full window
        x = np.pad(x, (0, THUMBNAIL_N_FFT - len(x)))
    mel = log_mel(x, int(sample_rate), THUMBNAIL_N_FFT, THUMBNAIL_HOP_LENGTH, height)
    ref = full_scale_reference(int(sample_rate), THUMBNAIL_N_FFT, THUMBNAIL_HOP_LENGTH, height)
    low, high = THUMBNAIL_DB_LIMITS
    db = np.minimum(mel_db(_pool_columns(mel, width), ref, floor_db=low), high)
    levels = np.round((db - low) / (high - low) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(levels[::-1])


@functools.lru_cache(maxsize=1)
def _palette() -> list[int]:
    import matplotlib

    rgb = matplotlib.colormaps[COLORMAP](np.arange(256), bytes=True)[:, :3]
    return [int(v) for v in rgb.reshape(-1)]


def spectrogram_thumbnail(signal: np.ndarray, sample_rate: int) -> bytes:
    """A small log-mel spectrogram of one clip as PNG bytes, :data:`THUMBNAIL_SIZE` pixels.

    Time runs left to right over the whole clip, frequency (mel scale, up to the Nyquist
    frequency) from the bottom up, colour :data:`COLORMAP` on the fixed scale
    :data:`THUMBNAIL_DB_LIMITS` (dB re a full-scale sine), so any two thumbnails compare.
    A palette PNG without metadata: the same signal gives the same bytes.
    """
    from PIL import Image

    image = Image.fromarray(thumbnail_levels(signal, sample_rate))  # mode "L" ...
    image.putpalette(_palette())  # ... becomes "P": one byte per pixel
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
