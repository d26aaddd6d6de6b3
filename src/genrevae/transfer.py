"""The clips the workflow transfers into every genre, prepared once for the model and the page.

The ``transfer`` stage re-synthesises source clips through each genre's VAE
(``genrevae transfer``, :func:`genrevae.clip_jobs.write_transfer`).  Its sources come from
the config: every audio file in ``transfer.dir``, or -- when that is empty, as by default --
the first test clip of each configured genre, which is then transferred into every *other*
genre.  :func:`write_transfer_source` turns one source into what the model hears and a
person can play::

    results/transfer/sources/<name>.wav            mono 16-bit at the model's rate
    results/transfer/sources/playback/<name>.wav   the same at the playback rate
    results/transfer/sources/<name>.json           where it came from (for the page)

A file is read block by block (any format libsndfile reads, any rate, channels and length),
so a recording hours long is prepared in bounded memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from genrevae.config import ConfigError

__all__ = ["AUDIO_SUFFIXES", "source_names", "transfer_files", "write_transfer_source"]

#: File name endings the stage picks up in ``transfer.dir`` (what libsndfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".au")


def source_names(paths: Sequence[Path], what: str) -> dict[str, Path]:
    """``paths`` by the name their outputs get (:func:`genrevae.files.safe_name` of the file
    name), in order; two files with one name are a ConfigError naming both and ``what``."""
    from genrevae.files import safe_name

    sources: dict[str, Path] = {}
    for path in paths:
        name = safe_name(Path(path).name)
        if name in sources:
            raise ConfigError(f"{what}: {sources[name]} and {path} both give the name {name!r}; rename one")
        sources[name] = Path(path)
    return sources


def transfer_files(folder: Path) -> dict[str, Path]:
    """The audio files of ``folder`` by source name (:func:`source_names`), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"transfer.dir: {folder} is not a folder; give a folder of audio files or leave it empty")
    audio = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES]
    sources = source_names(audio, "transfer.dir")
    if not sources:
        raise ConfigError(f"transfer.dir: {folder} holds no audio file ({', '.join(AUDIO_SUFFIXES)})")
    return sources


def write_transfer_source(
    name: str,
    out_dir: Path,
    sample_rate: int,
    playback_rate: int,
    peak_dbfs: float,
    file: Path | None = None,
    genre: str | None = None,
    shard: Path | None = None,
    split: Path | None = None,
) -> dict[str, Any]:
    """Write source ``name`` from an audio ``file`` or from the first test clip of ``genre``
    (its ``shard`` and ``split``); returns the JSON record written beside the WAVs."""
    from genrevae.audio import inspect_audio, read_blocks, write_waveform
    from genrevae.artifacts.reports import write_report
    from genrevae.clip_files import clip_files

    files = clip_files(out_dir, name)
    wav, playback = files.wav, files.playback
    if file is not None:
        info = inspect_audio(file)
        written = write_waveform(wav, read_blocks(file, sample_rate), sample_rate, peak_dbfs, playback, playback_rate)
        record = {
            "description": f"{Path(file).name} ({info.seconds:.1f} s, {info.sample_rate} Hz, {info.channels} channel(s))",
            "genre": None,
            "track": Path(file).name,
            "input": str(file),
        }
    elif genre is not None and shard is not None and split is not None:
        from genrevae.artifacts.shard import read_shard
        from genrevae.artifacts.split import read_split

        clips = read_shard(shard)
        subsets = read_split(split, clips.shape[0])
        clip = int(subsets.test[0])
        track = subsets.track(clip)
        written = write_waveform(wav, [np.asarray(clips[clip], dtype=np.float32)], sample_rate, peak_dbfs, playback, playback_rate)
        record = {"description": f"test clip {track} of genre {genre}", "genre": genre, "track": track, "input": f"{shard}[{clip}]"}
    else:
        raise ConfigError("transfer-source: give --file, or --genre with --shard and --split")
    record = {
        "source": name,
        **record,
        "file": wav.name,
        "playback_file": files.playback_name,
        "sample_rate": int(sample_rate),
        "seconds": round(written.seconds, 6),
        "gain": written.gain,
    }
    write_report(record, files.sidecar)
    return record
