"""``tracks.csv``: one row per shard row, saying which file it came from and how it was cut.

``clip`` is the shard row; ``resampled_samples`` the length of the whole file at the model's
rate, ``kept_samples`` what the clip holds of it and ``padded_samples`` the zeros after it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genrevae.artifacts import ArtifactError
from genrevae.files import write_csv

__all__ = ["TRACK_COLUMNS", "read_tracks", "write_tracks"]

TRACK_COLUMNS = [
    "clip", "track", "path", "sha256", "source_sample_rate", "source_channels",
    "source_seconds", "resampled_samples", "kept_samples", "padded_samples",
]  # fmt: skip


def read_tracks(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, keep_default_na=False)
    missing = [c for c in ("clip", "track") if c not in table.columns]
    if missing:
        raise ArtifactError(f"{path}: missing column(s) {missing}; rebuild it with `genrevae prepare`")
    return table


def write_tracks(table: pd.DataFrame, path: Path) -> None:
    write_csv(table[TRACK_COLUMNS], path)
