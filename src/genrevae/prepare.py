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
import os
import stat
import struct
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
from genrevae.messages import summarise

log = logging.getLogger(__name__)

# A float file may go a little over full scale (a master's inter-sample peaks, a mix bus with
# headroom): kept.  Past twice full scale (+6 dBFS) the samples are not headroom but a level
# error or not audio at all, and such a file is rejected; see prepare_file.
MAX_PEAK = 2.0


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
    frames: int  # decoded
    declared_frames: int  # what the file's header promises; more than frames when it was cut short
    duration_s: float
    peak: float  # largest |sample| (finite ones), 1.0 = full scale
    status: str  # "ok" or "rejected"
    reason: str  # why rejected ("" when ok)
    warning: str  # what is wrong with a file that is kept anyway, or that explains its reason
    duplicate_of: str  # the first file (in name order) with the same bytes, "" when none


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
    later stages may use it and, if so, cut its clip.  Rejected files keep their reason; a file
    kept although something is wrong with it (cut short, a little over full scale) says so in
    ``warning``."""
    path = Path(path)
    data, unreadable = _read_regular_file(path)
    digest = hashlib.sha256(data).hexdigest() if data else ""
    empty = IndexRow(path.name, str(path), len(data), digest, 0, 0, 0, 0, 0.0, 0.0, "rejected", "", "", "")

    def rejected(row: IndexRow, reason: str) -> PreparedFile:
        return PreparedFile(_replace(row, status="rejected", reason=reason), None, 0)

    if unreadable:
        return rejected(empty, unreadable)
    if not data:
        return rejected(empty, "empty file (0 bytes)")
    buffer = io.BytesIO(data)
    try:
        with sf.SoundFile(buffer) as decoder:
            listed_frames, container = int(decoder.frames), decoder.format
            audio = decoder.read(dtype="float32", always_2d=True)
            source_rate = decoder.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        # libsndfile names what it opened: the file, not the in-memory copy of its bytes
        message = " ".join(str(exc).replace(repr(buffer), repr(str(path))).split())
        return rejected(empty, "cannot decode as audio: " + message)
    frames = int(audio.shape[0])
    declared = max(frames, declared_frames(data, listed_frames, container))
    finite = np.isfinite(audio)
    all_finite = bool(finite.all())
    magnitude = np.abs(audio if all_finite else audio[finite])
    peak = float(magnitude.max(initial=0.0))
    warnings = []
    if declared > frames:
        # Cut short (in copying, a download, a full disk): libsndfile reads what is there.  What is
        # there is real audio, so the file stays usable when long enough (a clip shorter than
        # n_samples is zero-padded, counted in tracks.csv's padded_samples); flagged here.
        warnings.append(
            f"truncated: holds {frames / source_rate:.2f} s ({frames} frames) of the "
            f"{declared / source_rate:.2f} s ({declared} frames) its header declares; the file was cut short"
        )
    if MAX_PEAK >= peak > 1.0:
        warnings.append(f"peak {peak:.3g} above full scale 1.0, kept as is")
    row = IndexRow(
        track=path.name,
        path=str(path),
        size_bytes=len(data),
        sha256=digest,
        sample_rate=int(source_rate),
        channels=int(audio.shape[1]),
        frames=frames,
        declared_frames=declared,
        duration_s=round(frames / source_rate, 6),
        peak=round(peak, 6),
        status="ok",
        reason="",
        warning="; ".join(warnings),
        duplicate_of="",
    )
    if frames == 0:
        return rejected(row, "no audio frames")
    if row.duration_s < min_seconds:
        cut = " (truncated, see warning)" if declared > frames else ""
        return rejected(row, f"too short: {row.duration_s:.2f} s < min_seconds {min_seconds:g} s{cut}")
    if not all_finite:
        return rejected(row, "contains NaN or infinite samples")
    if peak == 0.0:
        return rejected(row, "silent (every sample is zero)")
    if peak > MAX_PEAK:
        # Rejected, not scaled down: the model learns waveforms in [-1, 1] at their recorded
        # level, and the factor that would repair this file is a guess (a float export at
        # integer scale needs 1/32768, a gain slip something else; bytes that are not audio at
        # all have no right factor).  Scaling would train on a level nobody chose and hide the
        # file's fault; rejecting shows it here and in the log, and the user's one-command fix
        # (normalising the file) brings it back.
        return rejected(
            row,
            f"samples far beyond full scale: peak {peak:.3g} > {MAX_PEAK:g} (an unnormalised float "
            f"export?); if it is audio, scale it into [-1, 1] (divide its samples by {peak:.3g}) and rerun",
        )
    clip, resampled = resample_clip(audio, int(source_rate), sample_rate, n_samples, offset_seconds)
    return PreparedFile(row, clip, resampled)


_FILE_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def _read_regular_file(path: Path) -> tuple[bytes, str]:
    """(the bytes of ``path``, "") or (b"", why it cannot be read).

    Only regular files are opened: opening a FIFO for reading blocks until a writer comes, and
    reading /dev/zero never ends.  The type is checked with stat (following links) before
    opening, and again on the open descriptor (opened non-blocking) in case the path changed in
    between."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return b"", f"dangling symbolic link (to '{os.readlink(path)}', which does not exist)"
        return b"", "file does not exist"
    except OSError as exc:  # a link loop, a path through a file, no permission on a folder
        return b"", f"cannot read: {exc.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return b"", f"not a regular file ({_file_kind(info.st_mode)})"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return b"", f"cannot read: {exc.strerror}"
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            return b"", f"not a regular file ({_file_kind(mode)})"
        try:
            return file.read(), ""
        except OSError as exc:
            return b"", f"cannot read: {exc.strerror}"


def _file_kind(mode: int) -> str:
    return next((name for test, name in _FILE_KINDS if test(mode)), "unknown file type")


def declared_frames(data: bytes, listed_frames: int, container: str) -> int:
    """The frame count a file's header declares, to tell a file cut short from a whole one.

    libsndfile's own count (``listed_frames``) is clamped to the bytes present for WAV and AIFF,
    so for those the audio chunk's size is read from the header here; a FLAC's count comes from
    its STREAMINFO and is taken as is.  MP3 has no count in its header (libsndfile estimates it
    from the size and bit rate), so it declares what it decodes: 0 here.
    """
    if container == "MP3":
        return 0
    return max(listed_frames, _riff_declared_frames(data) or 0, _aiff_declared_frames(data) or 0)


def _chunks(data: bytes, start: int, endian: str) -> Iterable[tuple[bytes, int, int]]:
    """(id, declared size, offset of the body) of each chunk of a RIFF or IFF file; stops at the
    first header that does not fit (a file cut short inside its chunks)."""
    pos = start
    while pos + 8 <= len(data):
        size = struct.unpack_from(endian + "I", data, pos + 4)[0]
        yield data[pos : pos + 4], size, pos + 8
        pos += 8 + size + (size & 1)


def _riff_declared_frames(data: bytes) -> int | None:
    """Frames the data chunk of a RIFF / RIFX / RF64 WAV declares (its size over the fmt chunk's
    block align), or None when not a WAV or the size is unknown (0 or 0xFFFFFFFF: a streaming
    writer's placeholder).  For compressed WAVs (ADPCM, GSM) the block align covers many frames,
    so this undercounts and never flags them."""
    kind = data[:4]
    if kind not in (b"RIFF", b"RIFX", b"RF64") or data[8:12] != b"WAVE":
        return None
    endian = ">" if kind == b"RIFX" else "<"
    block_align, ds64_size = 0, None
    for chunk, size, body in _chunks(data, 12, endian):
        if chunk == b"ds64" and size >= 16 and body + 16 <= len(data):
            ds64_size = struct.unpack_from(endian + "Q", data, body + 8)[0]
        elif chunk == b"fmt " and size >= 14 and body + 14 <= len(data):
            block_align = struct.unpack_from(endian + "H", data, body + 12)[0]
        elif chunk == b"data":
            if kind == b"RF64" and size == 0xFFFFFFFF:
                size = ds64_size or 0
            if not block_align or size in (0, 0xFFFFFFFF):
                return None
            return size // block_align
    return None


def _aiff_declared_frames(data: bytes) -> int | None:
    """numSampleFrames of an AIFF / AIFF-C's COMM chunk, or None when not an AIFF."""
    if data[:4] != b"FORM" or data[8:12] not in (b"AIFF", b"AIFC"):
        return None
    for chunk, size, body in _chunks(data, 12, ">"):
        if chunk == b"COMM" and size >= 6 and body + 6 <= len(data):
            return struct.unpack_from(">I", data, body + 2)[0]
    return None


def drop_duplicates(prepared: list[PreparedFile], genre: str) -> list[PreparedFile]:
    """Mark every file whose bytes (SHA-256) equal an earlier one's (in the given order) with
    ``duplicate_of`` that first file, and leave the later copies of a usable file out of the shard.

    A byte-identical copy is the same clip again: it adds nothing to learn from, counts twice in
    the training loss and the prior fit, and, split apart from its twin, puts a training clip in
    the test set.  Keeping only the first copy (the usual hygiene for a dataset's exact repeats)
    avoids all three; the copies stay in index.csv, rejected with the reason, and each group is
    logged.  Identical bytes decode identically, so a rejected file's copies keep its reason.
    """
    first: dict[str, PreparedFile] = {}
    copies: dict[str, list[str]] = {}
    result = []
    for f in prepared:
        digest = f.row.sha256
        if not digest:  # not read (empty, not a regular file): nothing to compare
            result.append(f)
        elif digest not in first:
            first[digest] = f
            result.append(f)
        else:
            copies.setdefault(digest, []).append(f.row.path)
            row = _replace(f.row, duplicate_of=first[digest].row.track)
            if f.row.status == "ok":
                reason = f"byte-identical copy of {row.duplicate_of} (same SHA-256); only the first copy is used"
                f = PreparedFile(_replace(row, status="rejected", reason=reason), None, 0)
            else:
                f = PreparedFile(row, f.clip, f.resampled_samples)
            result.append(f)
    dropped = 0
    for digest, paths in copies.items():
        usable = first[digest].row.status == "ok"
        dropped += len(paths) if usable else 0
        log.warning(
            "genre %s: %d byte-identical cop%s of %s (SHA-256 %s...): %s%s",
            genre, len(paths), "y" if len(paths) == 1 else "ies", first[digest].row.path, digest[:12],
            ", ".join(paths), "; only the first is used" if usable else "",
        )  # fmt: skip
    if copies:
        log.warning(
            "genre %s: %d duplicate file(s) (index.csv column duplicate_of), %d of them left out of the shard",
            genre, sum(len(p) for p in copies.values()), dropped,
        )  # fmt: skip
    return result


def _replace(row: IndexRow, **changes: object) -> IndexRow:
    return IndexRow(**{**asdict(row), **changes})


def require_usable(index: pd.DataFrame, genre: str) -> pd.DataFrame:
    """The usable rows of an index; a genre with none is an error that lists what went wrong."""
    usable = index[index["status"] == "ok"]
    if usable.empty:
        reasons = summarise([f"{t}: {r}" for t, r in zip(index["track"], index["reason"])])
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
    taken in name order, and the shard rows follow the usable ones.  Byte-identical files keep
    only their first copy (see :func:`drop_duplicates`).  A genre without a usable file is a
    :class:`DataError` listing every file's reason.
    """
    paths = sorted((Path(f) for f in files), key=lambda p: p.name)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        prepared = list(pool.map(lambda p: prepare_file(p, min_seconds, sample_rate, n_samples, offset_seconds), paths))
    prepared = drop_duplicates(prepared, genre)
    index = pd.DataFrame([asdict(f.row) for f in prepared], columns=INDEX_COLUMNS)
    for f in prepared:
        if f.row.warning:
            log.warning("%s: %s", f.row.path, f.row.warning)
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
