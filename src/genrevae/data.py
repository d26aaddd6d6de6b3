"""The data half of the workflow: index a genre folder, resample it into one NPY shard, split it.

Every function here is pure apart from reading the files it is given and writing the files it
is asked to write; outputs are written atomically (temp file + os.replace) so a killed job
never leaves a finished-looking file behind.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import soundfile as sf
import soxr

from genrevae.artifacts.index import INDEX_COLUMNS
from genrevae.artifacts.split import SPLIT_COLUMNS
from genrevae.artifacts.tracks import TRACK_COLUMNS

log = logging.getLogger(__name__)



class DataError(ValueError):
    """Unusable input data; the message names the file or genre and what to do."""


# --------------------------------------------------------------------------------------------
# Stage 1: index
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


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_file(path: Path, min_seconds: float) -> IndexRow:
    """Describe one file of a genre folder and decide whether later stages may use it.

    The whole file is decoded, not only its header: GTZAN's jazz.00054.wav shows that a file
    can look like audio and still fail to decode.
    """
    size = path.stat().st_size
    empty = IndexRow(path.name, str(path), size, "", 0, 0, 0, 0.0, "rejected", "")
    if size == 0:
        return _replace(empty, reason="empty file (0 bytes)")
    digest = sha256_of(path)
    try:
        info = sf.info(str(path))
        audio, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = "cannot decode as audio: " + " ".join(str(exc).split())
        return _replace(empty, sha256=digest, reason=reason)
    row = IndexRow(
        track=path.name,
        path=str(path),
        size_bytes=size,
        sha256=digest,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(audio.shape[0]),
        duration_s=round(audio.shape[0] / info.samplerate, 6),
        status="ok",
        reason="",
    )
    if audio.shape[0] == 0:
        return _replace(row, status="rejected", reason="no audio frames")
    if row.duration_s < min_seconds:
        reason = f"too short: {row.duration_s:.2f} s < min_seconds {min_seconds:g} s"
        return _replace(row, status="rejected", reason=reason)
    if not np.isfinite(audio).all():
        return _replace(row, status="rejected", reason="contains NaN or infinite samples")
    if not np.any(audio):
        return _replace(row, status="rejected", reason="silent (every sample is zero)")
    return row


def _replace(row: IndexRow, **changes: object) -> IndexRow:
    return IndexRow(**{**asdict(row), **changes})


def index_genre(files: Iterable[Path], min_seconds: float, threads: int = 1) -> pd.DataFrame:
    """Index every file of one genre folder (sorted by name); rejected files keep their reason."""
    paths = sorted((Path(f) for f in files), key=lambda p: p.name)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        rows = list(pool.map(lambda p: inspect_file(p, min_seconds), paths))
    table = pd.DataFrame([asdict(r) for r in rows], columns=INDEX_COLUMNS)
    for row in rows:
        if row.status != "ok":
            log.warning("rejected %s: %s", row.path, row.reason)
    return table


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


# --------------------------------------------------------------------------------------------
# Stage 2: shards
# --------------------------------------------------------------------------------------------


def load_clip(
    path: Path, sample_rate: int, n_samples: int, offset_seconds: float = 0.0
) -> tuple[np.ndarray, int, int]:
    """Decode a file, down-mix to mono, resample with soxr (HQ) and crop or zero-pad it.

    Returns (clip of exactly n_samples float32, resampled length of the whole file, source rate).
    The length comes from our own crop/pad, never from the resampler's rounding.
    """
    audio, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1, dtype=np.float32)
    if source_rate != sample_rate:
        mono = soxr.resample(mono, source_rate, sample_rate, quality="HQ").astype(np.float32)
    start = int(round(offset_seconds * sample_rate))
    kept = mono[start : start + n_samples]
    clip = np.zeros(n_samples, dtype=np.float32)
    clip[: kept.shape[0]] = kept
    return clip, int(mono.shape[0]), int(source_rate)


def build_shard(
    index: pd.DataFrame,
    genre: str,
    sample_rate: int,
    n_samples: int,
    offset_seconds: float = 0.0,
    threads: int = 1,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Resample every usable file of an index into one (n_clips, n_samples) float32 array."""
    usable = require_usable(index, genre).reset_index(drop=True)

    def one(path: str) -> tuple[np.ndarray, int, int]:
        return load_clip(Path(path), sample_rate, n_samples, offset_seconds)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = list(pool.map(one, usable["path"]))
    shard = np.stack([clip for clip, _, _ in results]).astype(np.float32, copy=False)
    start = int(round(offset_seconds * sample_rate))
    resampled = np.array([n for _, n, _ in results])
    kept = np.clip(resampled - start, 0, n_samples)
    tracks = pd.DataFrame(
        {
            "clip": np.arange(len(usable)),
            "track": usable["track"],
            "path": usable["path"],
            "sha256": usable["sha256"],
            "source_sample_rate": [rate for _, _, rate in results],
            "source_channels": usable["channels"],
            "source_seconds": usable["duration_s"],
            "resampled_samples": resampled,
            "kept_samples": kept,
            "padded_samples": n_samples - kept,
        },
        columns=TRACK_COLUMNS,
    )
    return shard, tracks


# --------------------------------------------------------------------------------------------
# Stage 3: split
# --------------------------------------------------------------------------------------------


def track_hash(track: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, file name) alone, so splits are stable."""
    digest = hashlib.sha256(f"{seed}:{track}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_tracks(
    tracks: Sequence[str],
    seed: int,
    test_fraction: float | None = None,
    test_count: int | None = None,
    lists: dict[str, list[str]] | None = None,
    genre: str = "",
) -> dict[str, str]:
    """Assign each track to "train", "test" (or "unused" with explicit lists).

    Fraction mode: a track is in test iff its seeded hash < test_fraction, which depends on that
    track alone, so adding or removing a clip never moves another one. Count mode takes the
    test_count lowest hashes. Both keep at least one clip on each side.
    """
    names = list(tracks)
    if len(set(names)) != len(names):
        raise DataError(f"genre '{genre}': duplicate track names in the track list")
    if lists is not None:
        return _explicit_split(names, lists, genre)
    if len(names) < 2:
        raise DataError(
            f"genre '{genre}' has {len(names)} usable clip(s); a train/test split needs at least 2"
        )
    by_hash = sorted(names, key=lambda t: track_hash(t, seed))
    if test_count is not None:
        if test_count >= len(names):
            raise DataError(
                f"config key 'split.test_count' ({test_count}) must be smaller than genre "
                f"'{genre}''s {len(names)} usable clips"
            )
        test = set(by_hash[:test_count])
    else:
        assert test_fraction is not None
        test = {t for t in names if track_hash(t, seed) < test_fraction}
        # Degenerate tiny sets: keep one clip on each side, chosen by the same hash order.
        if not test:
            test = {by_hash[0]}
        if len(test) == len(names):
            test.discard(by_hash[-1])
    return {t: ("test" if t in test else "train") for t in names}


def _explicit_split(names: list[str], lists: dict[str, list[str]], genre: str) -> dict[str, str]:
    train, test = set(lists["train"]), set(lists["test"])
    both = sorted(train & test)
    if both:
        raise DataError(
            f"config key 'split.lists.{genre}': {', '.join(both)} listed in both train and test; "
            "remove each from one list"
        )
    missing = sorted((train | test) - set(names))
    if missing:
        raise DataError(
            f"config key 'split.lists.{genre}' names tracks that are not usable clips of this "
            f"genre: {', '.join(missing)} (see the genre's index.csv for why)"
        )
    return {t: "train" if t in train else "test" if t in test else "unused" for t in names}


def split_table(tracks: pd.DataFrame, assignment: dict[str, str]) -> pd.DataFrame:
    table = pd.DataFrame(
        {"clip": tracks["clip"], "track": tracks["track"], "subset": tracks["track"].map(assignment)},
        columns=SPLIT_COLUMNS,
    )
    train = set(table.loc[table["subset"] == "train", "track"])
    test = set(table.loc[table["subset"] == "test", "track"])
    if train & test or not train or not test:
        raise AssertionError(f"split invariant broken: train={len(train)} test={len(test)}")
    return table
