"""Atomic file writing (a temp file in the target folder, then os.replace) and safe file names.

A job that is killed mid-write never leaves a truncated file under the final name, so Snakemake
and the checkpoint/resume logic only ever see complete files.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

# mkstemp creates files 0600; outputs get the mode a plain open() gives (0666 & ~umask), so a
# web server running as another user can serve the listening page.
_UMASK = os.umask(0)
os.umask(_UMASK)
PLAIN_FILE_MODE = 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a hidden temp path beside `path` (same suffix, which Keras insists on) and move it
    into place when the block succeeds; on error the temp file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(PLAIN_FILE_MODE)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(table: pd.DataFrame, path: Path, float_format: str | None = None) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format=float_format)


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_npy(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array, allow_pickle=False)


def safe_name(name: str) -> str:
    """A file-name-safe stem of a track name: ``jazz.00004.wav -> jazz.00004``; letters and digits
    of any script are kept (``音楽.wav -> 音楽``, NFC so that a macOS file name gives the same
    stem), every run of anything else but ``.``, ``_`` and ``-`` becomes one ``_``."""
    stem = unicodedata.normalize("NFC", Path(str(name)).name)
    stem = re.sub(r"\.(wav|au|mp3|flac|ogg|opus|aiff?)$", "", stem, flags=re.IGNORECASE)
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._-")
    return stem or "clip"
