"""musicnn's input: 3 s patches of a log-compressed 96-band mel spectrogram at 16 kHz.

This reproduces what ``musicnn.extractor.batch_data`` computes from a file, step by step:

1. ``librosa.load(file, sr=16000)``: here :func:`to_judge_rate`, the same soxr "HQ"
   resampler that librosa >= 0.10 uses (``res_type="soxr_hq"``), trimmed or zero-padded to
   ``ceil(n * 16000 / sample_rate)`` samples as librosa does;
2. ``librosa.feature.melspectrogram(n_fft=512, hop_length=256, n_mels=96)`` (Hann window,
   power 2, Slaney mel filters up to 8 kHz, centred frames) with ``pad_mode="reflect"``:
   librosa's default until 0.10, the one musicnn's training data and its extractor were
   computed with (librosa 0.10 changed the default to zero padding; it only changes the
   first and last frame of a clip);
3. ``astype(float16)`` (musicnn's training data were stored so: ``mtt_float16``), then
   ``log10(10000 x + 1)`` (``pre_processing="logC"``) in *float32*: that is what musicnn's
   ``np.log10(10000 * audio_rep + 1)`` computes under the numpy it requires (< 1.17), whose
   value-based casting promotes a float16 array times 10000 to float32 (checked with numpy
   1.26, the last with that casting).  Under numpy 2 the same line stays in float16 and
   overflows to infinity where the mel power exceeds 6.55 (1-3.5 % of the cells of the toy
   genres' clips), and the original graph's tags for such patches move by up to 0.6;
4. non-overlapping patches of :data:`PATCH_FRAMES` = 187 frames (~3 s) from frame 0; the
   frames after the last whole patch are dropped.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "SAMPLE_RATE",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "PATCH_FRAMES",
    "MIN_SAMPLES",
    "to_judge_rate",
    "log_mel",
    "cut_patches",
    "patches",
]

SAMPLE_RATE = 16_000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
#: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``: musicnn's 3 s input.
PATCH_FRAMES = 187
#: The shortest audio at 16 kHz that gives one patch (centred frames: ``1 + n // hop`` of them).
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP_LENGTH


def to_judge_rate(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """A mono waveform at 16 kHz as ``librosa.load(..., sr=16000)`` would return it: float32 ``(n',)``.

    soxr "HQ" (librosa's default ``soxr_hq``), then trimmed or zero-padded to
    ``ceil(n * 16000 / sample_rate)`` samples (librosa's ``fix_length``); the identity at 16 kHz.
    """
    import soxr

    x = np.asarray(waveform, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a mono waveform (n_samples,), got shape {x.shape}")
    if int(sample_rate) == SAMPLE_RATE:
        return x
    y = np.asarray(soxr.resample(x, int(sample_rate), SAMPLE_RATE, quality="HQ"), dtype=np.float32)
    n = int(math.ceil(len(x) * (float(SAMPLE_RATE) / int(sample_rate))))
    return np.pad(y[:n], (0, max(0, n - len(y))))


def log_mel(audio: np.ndarray) -> np.ndarray:
    """musicnn's log-compressed mel spectrogram of 16 kHz audio: ``(frames, 96)`` float32 (module docstring).

    Raises ``ValueError`` where a mel power exceeds float16's range (65504; a sine at 0.9
    of full scale reaches ~400), on which musicnn's own input would be infinite.
    """
    import librosa

    power = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32), sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS,
        pad_mode="reflect",
    ).T  # fmt: skip
    with np.errstate(over="ignore"):
        stored = power.astype(np.float16)
    if not np.all(np.isfinite(stored)):
        raise ValueError(f"audio too loud for musicnn: a mel power of {power.max():.4g} exceeds float16's range")
    return np.log10(10000 * stored.astype(np.float32) + 1)


def cut_patches(frames: np.ndarray) -> np.ndarray:
    """Non-overlapping ``(n, 187, ...)`` patches of a ``(frames, ...)`` array from frame 0, remainder dropped."""
    n = len(frames) // PATCH_FRAMES  # = len(range(0, frames - 187 + 1, 187)), musicnn's loop
    return np.asarray(frames[: n * PATCH_FRAMES]).reshape(n, PATCH_FRAMES, *np.shape(frames)[1:])


def patches(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """A mono waveform's musicnn input: ``(n, 187, 96)`` float32 log-mel patches.

    Raises ``ValueError`` for audio shorter than one patch (2.976 s): musicnn itself fails on it.
    """
    audio = to_judge_rate(waveform, sample_rate)
    if len(audio) < MIN_SAMPLES:
        raise ValueError(
            f"musicnn needs at least {MIN_SAMPLES / SAMPLE_RATE:.3f} s of audio for one patch, got "
            f"{len(np.asarray(waveform)) / int(sample_rate):.3f} s"
        )
    return cut_patches(log_mel(audio))
