"""The files of one named clip in a folder of clips: ``<name>.wav`` at the model's rate,
``playback/<name>.wav`` at the playback rate and the ``<name>.json`` sidecar that says what it is.

Transfer sources (``results/transfer/sources/``) and every genre's transfers
(``results/<genre>/transfer/``) are such folders: ``genrevae transfer-source`` and
``genrevae transfer --out-dir`` write them and the listening page reads them, all through
:func:`clip_files`, so the layout is named once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["PLAYBACK_DIR", "ClipFiles", "clip_files"]

#: The sub-folder of the playback-rate copies.
PLAYBACK_DIR = "playback"


@dataclass(frozen=True)
class ClipFiles:
    wav: Path
    playback: Path
    sidecar: Path

    @property
    def playback_name(self) -> str:
        """The playback copy's path relative to the folder, as the sidecar records it."""
        return f"{PLAYBACK_DIR}/{self.playback.name}"


def clip_files(folder: Path, name: str) -> ClipFiles:
    """Where clip ``name`` of ``folder`` lives."""
    folder = Path(folder)
    return ClipFiles(folder / f"{name}.wav", folder / PLAYBACK_DIR / f"{name}.wav", folder / f"{name}.json")
