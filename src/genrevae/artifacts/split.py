"""``split.csv``: which shard rows train the model, which test it, which are left out.

Columns ``clip`` (shard row), ``track`` (its file name) and ``subset`` (``train``, ``test`` or
``unused``, the last only with explicit lists).  Every consumer reads it through
:func:`read_split`, which checks what they all rely on: clips in range, each clip once (a clip
in both subsets would leak), at least one train and one test clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genrevae.artifacts import ArtifactError
from genrevae.files import write_csv

__all__ = ["SPLIT_COLUMNS", "SUBSETS", "Split", "read_split", "write_split"]

SPLIT_COLUMNS = ["clip", "track", "subset"]
SUBSETS = ("train", "test", "unused")


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # sorted shard rows (int64)
    test: np.ndarray
    unused: np.ndarray
    tracks: np.ndarray  # the track name of every shard row (object array of n_clips; '' if not listed)

    def track(self, clip: int) -> str:
        """The file name of shard row ``clip``, or ``clip00007`` when the split does not name it."""
        return str(self.tracks[clip]) or f"clip{int(clip):05d}"


def read_split(path: Path, n_clips: int) -> Split:
    """Read and check ``split.csv`` against a shard of ``n_clips`` rows; errors name the file."""
    table = pd.read_csv(path, keep_default_na=False)
    missing = {"clip", "subset"} - set(table.columns)
    if missing:
        raise ArtifactError(f"{path}: missing column(s) {sorted(missing)}")
    subset = table["subset"].astype(str).to_numpy()
    unknown = set(subset) - set(SUBSETS)
    if unknown:
        raise ArtifactError(f"{path}: unknown subset value(s) {sorted(unknown)}")
    clip = table["clip"].to_numpy()
    if not np.issubdtype(clip.dtype, np.integer):
        raise ArtifactError(f"{path}: column 'clip' must hold integers")
    if len(clip) and (clip.min() < 0 or clip.max() >= n_clips):
        raise ArtifactError(f"{path}: clip indices must lie in [0, {n_clips}), got {clip.min()}..{clip.max()}")
    if len(np.unique(clip)) != len(clip):
        raise ArtifactError(f"{path}: repeated clip indices (a clip in both subsets would leak)")
    rows = {name: np.sort(clip[subset == name]).astype(np.int64) for name in SUBSETS}
    if len(rows["train"]) == 0 or len(rows["test"]) == 0:
        raise ArtifactError(
            f"{path}: need at least one train and one test clip, got {len(rows['train'])} and {len(rows['test'])}"
        )
    tracks = np.full(n_clips, "", dtype=object)
    tracks[clip] = table["track"].astype(str).to_numpy() if "track" in table.columns else [f"clip{c:05d}" for c in clip]
    return Split(rows["train"], rows["test"], rows["unused"], tracks)


def write_split(table: pd.DataFrame, path: Path) -> None:
    if list(table.columns) != SPLIT_COLUMNS:
        raise ArtifactError(f"{path}: a split table has the columns {SPLIT_COLUMNS}, got {list(table.columns)}")
    write_csv(table, path)
