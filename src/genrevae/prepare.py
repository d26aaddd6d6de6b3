"""The prepare stage: index a genre folder and resample its usable files into one NPY shard, in
one pass over the files.

Every function here is pure apart from reading the files it is given and writing the files it
is asked to write; outputs are written atomically (temp file + os.replace) so a killed job
never leaves a finished-looking file behind.
"""

from __future__ import annotations

import hashlib
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import soundfile as sf
import soxr

from genrevae.artifacts.index import INDEX_COLUMNS
from genrevae.artifacts.tracks import TRACK_COLUMNS

log = logging.getLogger(__name__)



class DataError(ValueError):
    """Unusable input data; the message names the file or genre and what to do."""


# --------------------------------------------------------------------------------------------
# Index and shard in one pass over the files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexRow:
    track: str
    path: str
    size_bytes: int
    sha256: str
    sample_rate: int
    channels: int
    frames: int
    duration_s: float
    status: str  # "ok" or "rejected"
    reason: str


@dataclass(frozen=True)
class PreparedFile:
    """One file after :func:`prepare_file`: its index row and, when usable, its clip."""

    row: IndexRow
    clip: np.ndarray | None  # exactly n_samples float32 at the model rate; None when rejected
    resampled_samples: int  # length of the whole file at the model rate (0 when rejected)


def resample_clip(
    audio: np.ndarray, source_rate: int, sample_rate: int, n_samples: int, offset_seconds: float = 0.0
) -> tuple[np.ndarray, int]:
    """Down-mix decoded audio ``(frames, channels)`` to mono, resample it with soxr (HQ) and crop
    or zero-pad it to ``n_samples`` from ``offset_seconds``.

    Returns (clip of exactly n_samples float32, resampled length of the whole file).  The length
    comes from our own crop/pad, never from the resampler's rounding.
    """
    mono = audio.mean(axis=1, dtype=np.float32)
    if source_rate != sample_rate:
        mono = soxr.resample(mono, source_rate, sample_rate, quality="HQ").astype(np.float32)
    start = int(round(offset_seconds * sample_rate))
    kept = mono[start : start + n_samples]
    clip = np.zeros(n_samples, dtype=np.float32)
    clip[: kept.shape[0]] = kept
    return clip, int(mono.shape[0])


def load_clip(
    path: Path, sample_rate: int, n_samples: int, offset_seconds: float = 0.0
) -> tuple[np.ndarray, int, int]:
    """Decode one file and :func:`resample_clip` it: (clip, resampled length, source rate)."""
    audio, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    clip, resampled = resample_clip(audio, int(source_rate), sample_rate, n_samples, offset_seconds)
    return clip, resampled, int(source_rate)


def prepare_file(
    path: Path, min_seconds: float, sample_rate: int, n_samples: int, offset_seconds: float = 0.0
) -> PreparedFile:
    """Read one file of a genre folder once: hash its bytes, decode them (the whole file, not only
    the header: GTZAN's jazz.00054.wav looks like audio and does not decode), decide whether
    later stages may use it and, if so, cut its clip.  Rejected files keep their reason."""
    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest() if data else ""
    empty = IndexRow(path.name, str(path), len(data), digest, 0, 0, 0, 0.0, "rejected", "")

    def rejected(row: IndexRow, reason: str) -> PreparedFile:
        return PreparedFile(_replace(row, status="rejected", reason=reason), None, 0)

    if not data:
        return rejected(empty, "empty file (0 bytes)")
    buffer = io.BytesIO(data)
    try:
        audio, source_rate = sf.read(buffer, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        # libsndfile names what it opened: the file, not the in-memory copy of its bytes
        message = " ".join(str(exc).replace(repr(buffer), repr(str(path))).split())
        return rejected(empty, "cannot decode as audio: " + message)
    frames = int(audio.shape[0])
    row = IndexRow(
        track=path.name,
        path=str(path),
        size_bytes=len(data),
        sha256=digest,
        sample_rate=int(source_rate),
        channels=int(audio.shape[1]),
        frames=frames,
        duration_s=round(frames / source_rate, 6),
        status="ok",
        reason="",
    )
    if frames == 0:
        return rejected(row, "no audio frames")
    if row.duration_s < min_seconds:
        return rejected(row, f"too short: {row.duration_s:.2f} s < min_seconds {min_seconds:g} s")
    if not np.isfinite(audio).all():
        return rejected(row, "contains NaN or infinite samples")
    if not np.any(audio):
        return rejected(row, "silent (every sample is zero)")
    clip, resampled = resample_clip(audio, int(source_rate), sample_rate, n_samples, offset_seconds)
    return PreparedFile(row, clip, resampled)


def _replace(row: IndexRow, **changes: object) -> IndexRow:
    return IndexRow(**{**asdict(row), **changes})


def require_usable(index: pd.DataFrame, genre: str) -> pd.DataFrame:
    """The usable rows of an index; a genre with none is an error that lists what went wrong."""
    usable = index[index["status"] == "ok"]
    if usable.empty:
        reasons = "; ".join(f"{t}: {r}" for t, r in zip(index["track"], index["reason"]))
        raise DataError(
            f"genre '{genre}' has no usable audio file ({len(index)} files: {reasons or 'none'}); "
            "add WAV clips to its folder or remove the genre from config 'genres'"
        )
    return usable


def prepare_genre(
    files: Iterable[Path],
    genre: str,
    min_seconds: float,
    sample_rate: int,
    n_samples: int,
    offset_seconds: float = 0.0,
    threads: int = 1,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Index every file of one genre folder and cut the usable ones into one shard, reading and
    decoding each file once, ``threads`` files at a time (decoding and soxr release the GIL).

    Returns (index table, shard ``(n_usable, n_samples)`` float32, tracks table); the files are
    taken in name order, and the shard rows follow the usable ones.  A genre without a usable
    file is a :class:`DataError` listing every file's reason.
    """
    paths = sorted((Path(f) for f in files), key=lambda p: p.name)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        prepared = list(pool.map(lambda p: prepare_file(p, min_seconds, sample_rate, n_samples, offset_seconds), paths))
    index = pd.DataFrame([asdict(f.row) for f in prepared], columns=INDEX_COLUMNS)
    for f in prepared:
        if f.row.status != "ok":
            log.warning("rejected %s: %s", f.row.path, f.row.reason)
    require_usable(index, genre)
    usable = [f for f in prepared if f.clip is not None]
    shard = np.stack([f.clip for f in usable]).astype(np.float32, copy=False)
    resampled = np.array([f.resampled_samples for f in usable])
    kept = np.clip(resampled - int(round(offset_seconds * sample_rate)), 0, n_samples)
    tracks = pd.DataFrame(
        {
            "clip": np.arange(len(usable)),
            "track": [f.row.track for f in usable],
            "path": [f.row.path for f in usable],
            "sha256": [f.row.sha256 for f in usable],
            "source_sample_rate": [f.row.sample_rate for f in usable],
            "source_channels": [f.row.channels for f in usable],
            "source_seconds": [f.row.duration_s for f in usable],
            "resampled_samples": resampled,
            "kept_samples": kept,
            "padded_samples": n_samples - kept,
        },
        columns=TRACK_COLUMNS,
    )
    return index, shard, tracks
