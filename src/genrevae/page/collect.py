"""Reading one run's results for the listening page: what every genre
(:class:`~genrevae.artifacts.trained_genre.TrainedGenre`, the one owner of a genre folder's
layout and readers) and every transfer left on disk; nothing here renders or writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from genrevae.artifacts.reports import read_report
from genrevae.artifacts.trained_genre import TrainedGenre
from genrevae.clip_files import clip_files
from genrevae.figure_list import FIGURES


#: Where the workflow's transfer_source rule writes the originals, under the results folder.
TRANSFER_SOURCES_DIR = Path("transfer") / "sources"


@dataclass
class GenreResults:
    """What the page shows of one genre (paths are as found on disk)."""

    name: str
    metrics: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    manifest: pd.DataFrame = field(default_factory=pd.DataFrame)
    generated_dir: Path = Path()
    figures: dict[str, Path] = field(default_factory=dict)
    prior: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)


@dataclass
class TransferClip:
    """One clip of the transfers: its model-rate WAV (thumbnail, download link), the 22,050 Hz
    ``playback/`` copy the player uses (when present) and its JSON sidecar (empty if missing)."""

    wav: Path
    playback: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def player_file(self) -> Path:
        """What the ``<audio>`` player plays: the playback copy, else the model-rate WAV."""
        return self.playback if self.playback.is_file() else self.wav


@dataclass
class TransferRow:
    """One source of the transfers: the original and its re-synthesis per genre (missing cells absent)."""

    source: str
    description: str = ""
    genre: str | None = None
    original: TransferClip | None = None
    outputs: dict[str, TransferClip] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    return read_report(path) if Path(path).is_file() else {}


def collect_genre(results_dir: Path, genre: str) -> GenreResults:
    """Read one genre's ``metrics.json``, ``generation_quality.json``, ``judge.json``, ``prior/prior.json``,
    ``generated/manifest.csv`` and figure paths under ``results_dir/<genre>``; missing pieces
    are left empty (a piece that is there but malformed is an error naming it)."""
    folder = TrainedGenre(Path(results_dir) / genre)

    def present(path: Path, read, empty):
        return read() if path.is_file() else empty

    figures = {f.file: folder.figure_file(f.file) for f in FIGURES if folder.figure_file(f.file).is_file()}
    return GenreResults(
        name=genre,
        metrics=present(folder.metrics_file, folder.read_metrics, {}),
        quality=present(folder.quality_file, folder.read_quality, {}),
        manifest=present(folder.manifest_file, folder.read_manifest, pd.DataFrame()),
        generated_dir=folder.generated_dir,
        figures=figures,
        prior=present(folder.prior_report_file, folder.read_prior_report, {}),
        judge=present(folder.judge_file, folder.read_judge, {}),
    )


def _transfer_clip(folder: Path, name: str) -> TransferClip | None:
    """The clip ``name`` of a transfer folder (``<name>.wav``, ``playback/<name>.wav``,
    ``<name>.json``), or None when it has no audio at all."""
    files = clip_files(folder, name)
    clip = TransferClip(files.wav, files.playback, _read_json(files.sidecar))
    return clip if clip.wav.is_file() or clip.playback.is_file() else None


def _clip_names(folder: Path) -> set[str]:
    """Stems of the WAV and JSON files directly in ``folder`` (none if it is missing)."""
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".wav", ".json")}


def collect_transfers(results_dir: Path, genres: Sequence[str], sources: Sequence[str] | None = None) -> list[TransferRow]:
    """The transfers of ``genres``, one row per source (sorted by name): the original in
    ``results_dir/transfer/sources/`` and its re-synthesis in each genre folder's
    :attr:`~genrevae.artifacts.trained_genre.TrainedGenre.transfer_dir`.

    ``sources`` are the source names to show -- the workflow's page rule passes the ones it
    built, so nothing is found by listing folders and sources left from an earlier
    configuration do not show.  Without it (the page made by hand) every source either folder
    kind holds is shown.  Every file is optional: a source with no clip at all has no row.  A
    source's ``description`` and ``genre`` come from its ``transfer/sources/<source>.json``."""
    results_dir = Path(results_dir)
    sources_dir = results_dir / TRANSFER_SOURCES_DIR
    folders = {g: TrainedGenre(results_dir / g).transfer_dir for g in genres}
    if sources is None:
        names = _clip_names(sources_dir).union(*(_clip_names(f) for f in folders.values()))
    else:
        names = set(sources)
    rows = []
    for name in sorted(names):
        info = _read_json(clip_files(sources_dir, name).sidecar)
        genre = info.get("genre")
        rows.append(
            TransferRow(
                source=str(info.get("source") or name),
                description=str(info.get("description") or ""),
                genre=None if genre is None else str(genre),
                original=_transfer_clip(sources_dir, name),
                outputs={g: c for g, f in folders.items() if (c := _transfer_clip(f, name)) is not None},
            )
        )
    return [r for r in rows if r.original is not None or r.outputs]
