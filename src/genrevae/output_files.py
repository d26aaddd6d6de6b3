"""Files a command writes for a person: all checked before any work, none replaced unless asked,
all moved into place together.

``generate``, ``transfer`` and ``interpolate`` write beside a person's own recordings, so every
output is checked before the Keras backend starts (:class:`OutputFiles`): it must not be an input, nor
another output of the same call, nor lie inside a trained genre folder (the workflow owns those:
a sidecar ``model/config.json`` would break the model, new clips in ``generated/`` would make its
manifest lie), nor replace an existing file without ``--force``; its folder must be writable and
the disk must hold what the call will write.  The files are then written under hidden temporary
names in their own folders and renamed only when every one of them is complete
(:meth:`OutputFiles.staged`), so a failure, Ctrl-C or SIGTERM leaves nothing of the call.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from genrevae.artifacts.trained_genre import TrainedGenre
from genrevae.config import ConfigError
from genrevae.files import PLAIN_FILE_MODE

__all__ = ["MAX_CLIP_SECONDS", "OutputFiles", "genre_folder_around", "wav_bytes"]

#: The longest clip a command writes (24 h): its latent sequence (130 MB) and spool (1 GB at
#: 3 kHz) stay small, and a typo such as ``--seconds 1e9`` is refused instead of filling a disk.
MAX_CLIP_SECONDS = 24 * 3600.0
#: Bytes of a mono 16-bit RF64 header (the canonical RIFF one is 44): an upper bound for any WAV we write.
_RF64_HEADER = 124


def wav_bytes(n_samples: int) -> int:
    """Size of a mono 16-bit PCM WAV file of ``n_samples`` (an upper bound: RF64's header)."""
    return _RF64_HEADER + 2 * int(n_samples)


def genre_folder_around(path: Path) -> Path | None:
    """The trained genre folder (one holding ``model/model.keras`` or ``model/config.json``) that
    ``path`` is or lies in, if any."""
    for folder in [Path(path), *Path(path).parents]:
        genre = TrainedGenre(folder)
        if genre.model_file.is_file() or genre.config_file.is_file():
            return folder
    return None


def _nearest_existing(path: Path) -> Path:
    for folder in [path, *path.parents]:
        if folder.exists():
            return folder
    return Path("/")


def _size(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes / 1e3:.1f} kB"


@dataclass
class OutputFiles:
    """The files one command call will write, checked as they are added.

    ``inputs`` are never written; ``force`` lets an existing file (not a folder, not an input,
    not inside a genre folder) be replaced; ``in_genre_folder`` lets outputs lie inside a trained
    genre folder (only the workflow's own jobs, which Snakemake gives their output folders).
    """

    inputs: Sequence[Path] = ()
    force: bool = False
    in_genre_folder: bool = False
    _files: dict[Path, tuple[Path, str, int]] = field(default_factory=dict)  # resolved -> (given, what, disk)
    _disks: dict[int, Path] = field(default_factory=dict)  # disk (st_dev) -> a folder on it
    _bytes: dict[int, int] = field(default_factory=dict)  # disk -> bytes of the outputs there
    _scratch: dict[int, int] = field(default_factory=dict)  # disk -> largest temporary file there

    def __post_init__(self) -> None:
        self._inputs = {Path(p).resolve() for p in self.inputs}

    def add(self, path: Path, what: str) -> Path:
        """Check ``path`` as an output of this call; ``what`` names it in errors (e.g. "--playback-out")."""
        path = Path(path)
        resolved = path.resolve()
        if resolved in self._inputs:
            raise ConfigError(f"{path}: {what} is also an input; choose another name so the input is kept")
        if resolved in self._files:
            other = self._files[resolved][1]
            raise ConfigError(f"{path}: given as {other} and as {what}; give each output its own file")
        genre_folder = None if self.in_genre_folder else genre_folder_around(resolved.parent)
        if genre_folder is not None:
            raise ConfigError(
                f"{path}: {what} lies inside the trained genre folder {genre_folder}, which the workflow owns; "
                "write it somewhere else"
            )
        if path.is_dir():
            raise ConfigError(f"{path}: {what} is a folder; give a file name")
        existing = _nearest_existing(resolved.parent)
        if not existing.is_dir():
            raise ConfigError(f"{path}: {what} cannot be written: {existing} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(f"{path}: {what} cannot be written: no permission to write in {existing}")
        if (path.exists() or path.is_symlink()) and not self.force:
            raise ConfigError(f"{path}: {what} exists; give --force to replace it, or another name")
        disk = existing.stat().st_dev  # what the outputs on one disk need is summed there
        self._files[resolved] = (path, what, disk)
        self._disks.setdefault(disk, existing)
        self._bytes.setdefault(disk, 0)
        return path

    def reserve(self, path: Path, n_bytes: int, scratch_bytes: int = 0) -> None:
        """Count ``n_bytes`` for the output ``path`` (added before) and a temporary file of
        ``scratch_bytes`` it is written through."""
        disk = self._files[Path(path).resolve()][2]
        self._bytes[disk] += int(n_bytes)
        self._scratch[disk] = max(self._scratch.get(disk, 0), int(scratch_bytes))

    def check_space(self) -> None:
        """Refuse when a disk cannot hold the outputs and the largest temporary file with them."""
        for disk, total in self._bytes.items():
            folder, need = self._disks[disk], total + self._scratch.get(disk, 0)
            free = shutil.disk_usage(folder).free
            if need > free:
                raise ConfigError(
                    f"{folder}: the outputs need about {_size(need)} there but only {_size(free)} is free; "
                    "free some space, write elsewhere or ask for less audio"
                )

    @contextlib.contextmanager
    def staged(self) -> Iterator[dict[Path, Path]]:
        """Yield ``{output: temporary path}`` (hidden, in the output's own folder); when the block
        succeeds, every temporary file is renamed to its output, else all of them are removed
        together with the folders made for them."""
        made: list[Path] = []
        temporary: dict[Path, Path] = {}
        done = False
        try:
            for given, _, _ in self._files.values():
                missing = [p for p in [given.parent, *given.parent.parents] if not p.exists()]
                for folder in reversed(missing):
                    folder.mkdir()
                    made.append(folder)
                fd, name = tempfile.mkstemp(dir=given.parent, prefix=f".{given.name}.", suffix=given.suffix)
                os.close(fd)
                temporary[given] = Path(name)
                temporary[given].chmod(PLAIN_FILE_MODE)
            yield dict(temporary)
            for given, tmp in temporary.items():
                os.replace(tmp, given)
            done = True
        finally:
            if not done:
                for tmp in temporary.values():
                    tmp.unlink(missing_ok=True)
                for folder in reversed(made):  # made for this call: they hold nothing else
                    with contextlib.suppress(OSError):
                        folder.rmdir()
