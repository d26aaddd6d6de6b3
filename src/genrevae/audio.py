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
from typing import Iterable, Iterator, Sequence

import numpy as np
import soundfile as sf
import soxr

__all__ = [
    "AudioError",
    "AudioInfo",
    "WrittenAudio",
    "BLOCK_SECONDS",
    "inspect_audio",
    "read_blocks",
    "write_waveform",
    "playback_samples",
    "peak_limit",
    "limit_gain",
    "peak_safe",
    "common_gain",
    "to_pcm16",
    "encode_wav",
    "read_wav",
    "resample",
]

#: Seconds of source audio decoded at a time (at 48 kHz stereo float32: 23 MB).
BLOCK_SECONDS = 60.0
#: Samples per block when a spooled waveform is read back.
_SPOOL_BLOCK = 1 << 18


class AudioError(ValueError):
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


_DECODE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)


def _open_source(path: Path) -> sf.SoundFile:
    """Open a file for reading (its header is read once, here); not audio is an :class:`AudioError`."""
    try:
        return sf.SoundFile(str(path))
    except _DECODE_ERRORS as exc:
        raise AudioError(
            f"{path}: not an audio file libsndfile can read ({' '.join(str(exc).split())}); "
            "give a WAV, FLAC, OGG or MP3 file"
        ) from exc


def _source_blocks(source: sf.SoundFile, path: Path, block_seconds: float) -> Iterator[np.ndarray]:
    """Blocks ``(frames, channels)`` float32 of an open file, with decode errors as :class:`AudioError`."""
    try:
        block = max(1, int(block_seconds * source.samplerate))
        yield from source.blocks(blocksize=block, dtype="float32", always_2d=True)
    except _DECODE_ERRORS as exc:
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
    frames, peak = 0, 0.0
    with _open_source(path) as source:
        sample_rate, channels = int(source.samplerate), int(source.channels)
        for chunk in _source_blocks(source, path, block_seconds):
            if not np.isfinite(chunk).all():
                raise AudioError(f"{path}: contains NaN or infinite samples; re-export it as plain PCM audio")
            frames += chunk.shape[0]
            if chunk.size:
                peak = max(peak, float(np.max(np.abs(chunk))))
    if frames == 0:
        raise AudioError(f"{path}: has no audio frames (zero length); give a file with audio in it")
    if peak == 0.0:
        raise AudioError(f"{path}: is silent (every sample is zero); there is nothing to re-synthesise")
    return AudioInfo(path, sample_rate, channels, frames, peak)


def read_blocks(path: Path, sample_rate: int, block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """The file as consecutive mono float32 blocks at ``sample_rate`` (channel mean, soxr HQ).

    Call :func:`inspect_audio` first for clear errors about the file itself.
    """
    path = Path(path)
    with _open_source(path) as source:
        source_rate = int(source.samplerate)
        resampler = None
        if source_rate != int(sample_rate):
            resampler = soxr.ResampleStream(source_rate, int(sample_rate), 1, dtype="float32", quality="HQ")
        for chunk in _source_blocks(source, path, block_seconds):
            mono = chunk.mean(axis=1, dtype=np.float32)
            if resampler is None:
                yield mono
                continue
            out = resampler.resample_chunk(mono, last=False)
            if out.size:
                yield np.asarray(out, dtype=np.float32)
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                yield np.asarray(tail, dtype=np.float32)


# ---------------------------------------------------------------------------
# Level and PCM: one rule for every clip we write
# ---------------------------------------------------------------------------
def peak_limit(peak_dbfs: float) -> float:
    """The largest |sample| a written clip may have: ``peak_dbfs`` dB below full scale (1.0)."""
    return 10.0 ** (float(peak_dbfs) / 20.0)


def limit_gain(peak: float, peak_dbfs: float) -> float:
    """The gain that brings a signal whose peak |x| is ``peak`` under :func:`peak_limit`.

    Never above 1: quiet output stays quiet and noise is not blown up."""
    limit = peak_limit(peak_dbfs)
    return limit / peak if peak > limit else 1.0


def peak_safe(x: np.ndarray, peak_dbfs: float = -1.0) -> tuple[np.ndarray, float]:
    """Remove the DC offset of ``x`` and scale it down if its peak exceeds ``peak_dbfs``.

    Returns ``(signal, gain)`` with ``signal = (x - mean(x)) * gain`` and ``gain <= 1``
    (never amplified, so quiet output stays quiet and noise is not blown up).  For a
    batch ``(n, samples)`` each row gets its own DC removal and gain; see
    :func:`common_gain` to share one gain.
    """
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=-1, keepdims=True)
    limit = peak_limit(peak_dbfs)
    peak = np.max(np.abs(centred), axis=-1, keepdims=True) if centred.shape[-1] else np.zeros(centred.shape[:-1] + (1,))
    gain = np.where(peak > limit, limit / np.maximum(peak, 1e-30), 1.0)
    out = centred * gain
    return out, (float(gain.squeeze()) if gain.size == 1 else gain.squeeze(-1))


def common_gain(signals: Sequence[np.ndarray], peak_dbfs: float = -1.0) -> tuple[list[np.ndarray], float]:
    """DC-remove every signal and scale them all by ONE gain so the loudest fits under ``peak_dbfs``."""
    centred = [np.asarray(s, np.float64) - np.mean(s) for s in signals]
    peak = max((float(np.max(np.abs(c))) for c in centred if c.size), default=0.0)
    gain = limit_gain(peak, peak_dbfs)
    return [c * gain for c in centred], float(gain)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Quantise a signal in [-1, 1] to little-endian int16 (``round(x * 32767)``, clipped for safety)."""
    return np.round(np.clip(np.asarray(x, np.float64), -1.0, 1.0) * 32767.0).astype("<i2")


def encode_wav(pcm: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file as bytes (canonical 44-byte header, nothing else)."""
    import io

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    return buffer.getvalue()


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a mono 16-bit WAV written by :func:`encode_wav`: (float64 in [-1, 1), rate)."""
    with wave.open(str(path), "rb") as src:
        if src.getsampwidth() != 2 or src.getnchannels() != 1:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        rate = src.getframerate()
        data = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2")
    return data.astype(np.float64) / 32768.0, rate


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample with soxr (very high quality, deterministic); the identity when the rates agree."""
    x = np.asarray(x, dtype=np.float64)
    if int(from_rate) == int(to_rate):
        return x.copy()
    return np.asarray(soxr.resample(x, int(from_rate), int(to_rate), quality="VHQ"), dtype=np.float64)


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


#: The most sample bytes a RIFF WAV can hold (its sizes are 32-bit); longer output is RF64.
_RIFF_MAX_DATA = 0xFFFFFFFF - 36


def playback_samples(n_samples: int, sample_rate: int, playback_rate: int) -> int:
    """At most how many samples the playback copy of ``n_samples`` at ``sample_rate`` holds
    (the streaming resampler's length, with room for its filter's rounding)."""
    return math.ceil(int(n_samples) * int(playback_rate) / int(sample_rate)) + 64


def _open_wav(path: Path, rate: int, n_samples: int) -> sf.SoundFile:
    """A mono 16-bit PCM WAV for writing ``n_samples``: the canonical 44-byte RIFF header (the
    same bytes as :func:`encode_wav`), or RF64 where 4 GiB would not hold them (26 h at 22 kHz)."""
    container = "WAV" if 2 * n_samples <= _RIFF_MAX_DATA else "RF64"
    return sf.SoundFile(str(path), "w", int(rate), 1, subtype="PCM_16", format=container)


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
    failure leaves nothing behind.  The headers are the canonical 44 bytes of :mod:`wave` (RF64
    past 4 GiB), so the same blocks give the same bytes.
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
        gain = limit_gain(peak, peak_dbfs)
        tmp_wav = Path(tmp) / "model.wav"
        tmp_playback = Path(tmp) / "playback.wav"
        written_peak, energy = 0.0, 0.0
        resampler = None
        if playback_path is not None:
            resampler = soxr.ResampleStream(int(sample_rate), int(playback_rate), 1, dtype="float64", quality="VHQ")
        model_out = _open_wav(tmp_wav, sample_rate, n)
        playback_out = None
        if resampler is not None:
            playback_out = _open_wav(tmp_playback, playback_rate, playback_samples(n, sample_rate, playback_rate))
        try:
            for i in range(0, n, _SPOOL_BLOCK):
                x = (np.asarray(signal[i : i + _SPOOL_BLOCK], dtype=np.float64) - mean) * gain
                written_peak = max(written_peak, float(np.max(np.abs(x))))
                energy += float(np.sum(x * x))
                model_out.write(to_pcm16(x))
                if playback_out is not None:
                    playback_out.write(to_pcm16(resampler.resample_chunk(x, last=i + _SPOOL_BLOCK >= n)))
        finally:
            model_out.close()
            if playback_out is not None:
                playback_out.close()
        del signal
        os.replace(tmp_wav, path)
        if playback_path is not None:
            os.replace(tmp_playback, playback_path)
    return WrittenAudio(n, int(sample_rate), float(gain), written_peak, math.sqrt(energy / n))
