"""Audio files people bring and audio files of any length we write, both in bounded memory.

:func:`inspect_audio` and :func:`read_blocks` read any file libsndfile decodes (WAV, FLAC,
OGG, MP3, AIFF, AU; any rate, any channel count, any length) as consecutive mono blocks at the
model's rate: decoded block by block, down-mixed, resampled with a streaming soxr resampler.
Bad input (missing, unreadable, not audio, no frames, NaN, silence) is an :class:`AudioError`
whose one-line message names the file and what to do.

:func:`write_waveform` writes a waveform given as blocks to a mono 16-bit WAV (and a playback
copy at another rate) through a spool file: DC offset and peak need the whole signal, memory
must not.  Outputs appear under their names only when complete (temp names, then rename).
"""

from __future__ import annotations

import math
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import soundfile as sf
import soxr

from genrevae.data import DataError
from genrevae.export import to_pcm16

__all__ = [
    "AudioError",
    "AudioInfo",
    "WrittenAudio",
    "BLOCK_SECONDS",
    "inspect_audio",
    "read_blocks",
    "write_waveform",
]

#: Seconds of source audio decoded at a time (at 48 kHz stereo float32: 23 MB).
BLOCK_SECONDS = 60.0
#: Samples per block when a spooled waveform is read back.
_SPOOL_BLOCK = 1 << 18


class AudioError(DataError):
    """An audio file that cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int  # decoded frames (counted while scanning, not taken from the header)
    peak: float  # max |sample| over all channels

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def _source_blocks(path: Path, block_seconds: float) -> Iterator[np.ndarray]:
    """Blocks ``(frames, channels)`` float32 of a file, with read errors as :class:`AudioError`."""
    try:
        info = sf.info(str(path))
        block = max(1, int(block_seconds * info.samplerate))
        for chunk in sf.blocks(str(path), blocksize=block, dtype="float32", always_2d=True):
            yield chunk
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(
            f"{path}: cannot decode as audio ({' '.join(str(exc).split())}); give a WAV, FLAC, OGG or MP3 file"
        ) from exc


def inspect_audio(path: Path, block_seconds: float = BLOCK_SECONDS) -> AudioInfo:
    """Check that ``path`` is a usable audio file, reading it once block by block.

    Raises :class:`AudioError` for a missing or unreadable path, a file that is not audio,
    one with no frames, NaN/infinite samples or only zeros (nothing to re-synthesise).
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file; give one file")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: not readable (permission denied); fix its permissions or copy it")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes); give a file with audio in it")
    try:
        header = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(
            f"{path}: not an audio file libsndfile can read ({' '.join(str(exc).split())}); "
            "give a WAV, FLAC, OGG or MP3 file"
        ) from exc
    frames, peak = 0, 0.0
    for chunk in _source_blocks(path, block_seconds):
        if not np.isfinite(chunk).all():
            raise AudioError(f"{path}: contains NaN or infinite samples; re-export it as plain PCM audio")
        frames += chunk.shape[0]
        if chunk.size:
            peak = max(peak, float(np.max(np.abs(chunk))))
    if frames == 0:
        raise AudioError(f"{path}: has no audio frames (zero length); give a file with audio in it")
    if peak == 0.0:
        raise AudioError(f"{path}: is silent (every sample is zero); there is nothing to re-synthesise")
    return AudioInfo(path, int(header.samplerate), int(header.channels), frames, peak)


def read_blocks(path: Path, sample_rate: int, block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """The file as consecutive mono float32 blocks at ``sample_rate`` (channel mean, soxr HQ).

    Call :func:`inspect_audio` first for clear errors about the file itself.
    """
    path = Path(path)
    resampler = None
    for chunk in _source_blocks(path, block_seconds):
        mono = chunk.mean(axis=1, dtype=np.float32)
        if resampler is None:
            source_rate = int(sf.info(str(path)).samplerate)
            if source_rate == int(sample_rate):
                resampler = False
            else:
                resampler = soxr.ResampleStream(source_rate, int(sample_rate), 1, dtype="float32", quality="HQ")
        if resampler is False:
            yield mono
        else:
            out = resampler.resample_chunk(mono, last=False)
            if out.size:
                yield np.asarray(out, dtype=np.float32)
    if resampler not in (None, False):
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if tail.size:
            yield np.asarray(tail, dtype=np.float32)


@dataclass(frozen=True)
class WrittenAudio:
    n_samples: int
    sample_rate: int
    gain: float  # factor applied after DC removal (<= 1)
    peak: float  # peak |x| of the written model-rate signal, full scale = 1
    rms: float

    @property
    def seconds(self) -> float:
        return self.n_samples / self.sample_rate


def _open_wav(path: Path, rate: int) -> wave.Wave_write:
    out = wave.open(str(path), "wb")
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(int(rate))
    return out


def write_waveform(
    path: Path,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    peak_dbfs: float,
    playback_path: Path | None = None,
    playback_rate: int | None = None,
) -> WrittenAudio:
    """Write a waveform given as consecutive blocks to ``path`` (mono 16-bit PCM WAV).

    Made *peak-safe* as every exported clip: the DC offset is removed and the signal is scaled
    down (never up) when its peak exceeds ``peak_dbfs``.  ``playback_path`` gets the same
    signal resampled (soxr, streaming) to ``playback_rate``.  The blocks are spooled to a
    temporary file beside ``path`` (float32: 12 kB per second at 3 kHz), so memory does not
    grow with the duration; the WAVs get their final names only when both are complete, and a
    failure leaves nothing behind.  The headers are the canonical 44 bytes of :mod:`wave`, so
    the same blocks give the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if playback_path is not None:
        if playback_rate is None:
            raise ValueError("a playback copy needs its playback_rate")
        Path(playback_path).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        spool = Path(tmp) / "signal.f32"
        n, total = 0, 0.0
        with open(spool, "wb") as handle:
            for block in blocks:
                block = np.asarray(block, dtype=np.float32).reshape(-1)
                handle.write(block.astype("<f4").tobytes())
                total += float(np.sum(block, dtype=np.float64))
                n += block.size
        if n == 0:
            raise ValueError(f"{path}: nothing to write (zero samples)")
        signal = np.memmap(spool, dtype="<f4", mode="r")
        mean = total / n
        peak = max(float(np.max(np.abs(signal[i : i + _SPOOL_BLOCK] - mean))) for i in range(0, n, _SPOOL_BLOCK))
        limit = 10.0 ** (float(peak_dbfs) / 20.0)
        gain = limit / peak if peak > limit else 1.0
        tmp_wav = Path(tmp) / "model.wav"
        tmp_playback = Path(tmp) / "playback.wav"
        written_peak, energy = 0.0, 0.0
        resampler = None
        if playback_path is not None:
            resampler = soxr.ResampleStream(int(sample_rate), int(playback_rate), 1, dtype="float64", quality="VHQ")
        model_out = _open_wav(tmp_wav, sample_rate)
        playback_out = _open_wav(tmp_playback, playback_rate) if resampler is not None else None
        try:
            for i in range(0, n, _SPOOL_BLOCK):
                x = (np.asarray(signal[i : i + _SPOOL_BLOCK], dtype=np.float64) - mean) * gain
                written_peak = max(written_peak, float(np.max(np.abs(x))))
                energy += float(np.sum(x * x))
                model_out.writeframes(to_pcm16(x).tobytes())
                if playback_out is not None:
                    playback_out.writeframes(to_pcm16(resampler.resample_chunk(x, last=i + _SPOOL_BLOCK >= n)).tobytes())
        finally:
            model_out.close()
            if playback_out is not None:
                playback_out.close()
        del signal
        os.replace(tmp_wav, path)
        if playback_path is not None:
            os.replace(tmp_playback, playback_path)
    return WrittenAudio(n, int(sample_rate), float(gain), written_peak, math.sqrt(energy / n))
