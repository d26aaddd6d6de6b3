"""The spectrogram thumbnails beside the players: each rendered once from its model-rate WAV
(:func:`genrevae.spectrum.spectrogram_thumbnail`) and written as one fresh folder, so no
thumbnail of an older run survives; the report variant embeds the same PNGs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence


class _Thumbnails:
    """The spectrogram thumbnails of one run, each rendered once from its model-rate WAV."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = Path(results_dir)
        self._png: dict[Path, bytes | None] = {}

    def png(self, wav: Path) -> bytes | None:
        """The thumbnail PNG of a model-rate WAV (None when there is no such file)."""
        from genrevae.audio import read_wav
        from genrevae.spectrum import spectrogram_thumbnail

        wav = Path(wav)
        if wav not in self._png:
            png = None
            if wav.is_file():
                signal, rate = read_wav(wav)
                png = spectrogram_thumbnail(signal, rate)
            self._png[wav] = png
        return self._png[wav]

    def relative(self, wav: Path) -> Path:
        """A thumbnail's path inside the thumbnails folder: its WAV's path relative to the
        results folder, as ``.png`` (so two clips never share a thumbnail)."""
        return Path(wav).relative_to(self.results_dir).with_suffix(".png")

    def write(self, wavs: Sequence[Path], folder: Path) -> dict[Path, Path]:
        """Write the thumbnails of ``wavs`` into a fresh ``folder`` (replacing any older one as
        a whole: a temp folder beside it, moved into place); returns {wav: thumbnail path}."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        written: dict[Path, Path] = {}
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            out = staging / "out"  # made by mkdir, not mkdtemp: the usual permissions, servable
            out.mkdir()
            for wav in wavs:
                png = self.png(wav)
                if png is None or wav in written:
                    continue
                target = out / self.relative(wav)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(png)
                written[wav] = folder / self.relative(wav)
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
            elif folder.exists() or folder.is_symlink():
                folder.unlink()
            os.replace(out, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return written
