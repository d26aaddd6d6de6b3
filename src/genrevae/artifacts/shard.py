"""``clips.npy``: one genre's clips at the model's rate, ``(n_clips, n_samples)`` float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrevae.artifacts import ArtifactError
from genrevae.files import write_npy

__all__ = ["read_shard", "write_shard"]


def read_shard(path: Path) -> np.ndarray:
    """Memory-map a shard (clips are read on demand) and check that it is a non-empty 2-D float32 array."""
    clips = np.load(Path(path), mmap_mode="r")
    if clips.ndim != 2:
        raise ArtifactError(f"{path}: expected shape (n_clips, n_samples), got {clips.shape}")
    if clips.dtype != np.float32:
        raise ArtifactError(f"{path}: expected float32, got {clips.dtype}")
    if clips.shape[0] < 1 or clips.shape[1] < 1:
        raise ArtifactError(f"{path}: empty shard {clips.shape}")
    return clips


def write_shard(clips: np.ndarray, path: Path) -> None:
    if clips.ndim != 2 or clips.dtype != np.float32:
        raise ArtifactError(f"{path}: a shard is a 2-D float32 array, got {clips.dtype} {clips.shape}")
    write_npy(clips, path)
