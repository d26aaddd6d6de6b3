"""``index.csv``: every file of one genre folder, whether later stages may use it, and why not.

A rejected file (empty, not a regular file, a dangling link, not audio, too short, NaN, silent,
far beyond full scale, a byte-identical copy of an earlier file) keeps its row with ``status:
rejected`` and the ``reason``, so a corrupt download is reported, not silently dropped.
``frames`` is what decoded and ``declared_frames`` what the header promises (more when the file
was cut short); ``peak`` the largest |sample| (1.0 = full scale); ``warning`` says what is wrong
with a file kept anyway (truncated, a little over full scale); ``duplicate_of`` names the first
file (in name order) with the same SHA-256.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genrevae.artifacts import ArtifactError
from genrevae.files import write_csv

__all__ = ["INDEX_COLUMNS", "read_index", "write_index"]

INDEX_COLUMNS = [
    "track", "path", "size_bytes", "sha256", "sample_rate", "channels", "frames",
    "declared_frames", "duration_s", "peak", "status", "reason", "warning", "duplicate_of",
]  # fmt: skip


def read_index(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, keep_default_na=False)
    missing = [c for c in INDEX_COLUMNS if c not in table.columns]
    if missing:
        raise ArtifactError(f"{path}: missing column(s) {missing}; rebuild it with `genrevae prepare`")
    return table


def write_index(table: pd.DataFrame, path: Path) -> None:
    write_csv(table[INDEX_COLUMNS], path)
