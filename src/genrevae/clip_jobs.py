"""The user tools that write clips with a trained genre: ``genrevae generate``, ``transfer`` and
``interpolate``, as jobs, and the same from Python.

Each command is a job (:class:`GenerateJob`, :class:`TransferJob`, :class:`InterpolateJob`) whose
arguments, inputs and outputs are checked first (``check``: no backend, no model; a
:class:`~genrevae.genre_model.GenreFolder` is enough), then run with the loaded
:class:`~genrevae.genre_model.GenreModel` (``run``), writing every file under a temporary name and
renaming them all at the end (:class:`~genrevae.output_files.OutputFiles`).  Every clip is written
at the model's rate with a playback copy and the settings that made it (a manifest or a JSON
sidecar).  :func:`write_generated`, :func:`write_transfer` and :func:`write_interpolation` do the
same with a model already loaded: check, then run.

Opening a genre folder and the latent operations (generate, transfer, interpolate, decode) are
:mod:`genrevae.genre_model`'s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from genrevae.artifacts import ArtifactError
from genrevae.artifacts.reports import json_text, read_report
from genrevae.config import ConfigError
from genrevae.genre_model import (
    GenreFolder,
    GenreModel,
    Rendering,
    check_prior_kind,
    check_recordings,
    check_temperature,
    check_unit,
    clip_samples,
)
from genrevae.messages import summarise
from genrevae.output_files import OutputFiles, wav_bytes

__all__ = ["GenerateJob", "TransferJob", "InterpolateJob", "write_generated", "write_transfer", "write_interpolation"]


#: A clip `generate` names (what ``--force`` may remove of an earlier run in the same folder).
_GENERATED_CLIP = re.compile(r"(sample|gaussian)_\d{2,}_seed-?\d+\.wav")
#: Bytes counted for a JSON sidecar or a manifest's line per clip.
_JSON_BYTES = 4096


def _recording_samples(info: Any, sample_rate: int) -> int:
    """A recording's length in samples at ``sample_rate`` (what its re-synthesis lasts)."""
    return max(1, math.ceil(info.frames * int(sample_rate) / info.sample_rate))


def _wav_name(path: Path, what: str) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise ConfigError(f"{path}: {what} must be a .wav file name")
    return path


def _count_clip(
    outputs: OutputFiles, path: Path, playback: Path | None, n_samples: int, sample_rate: int, rendering: Rendering
) -> None:
    """The bytes of one clip, its playback copy and the spool it is written through."""
    outputs.reserve(path, wav_bytes(n_samples), scratch_bytes=4 * n_samples)
    if playback is not None:
        from genrevae.audio import playback_samples

        outputs.reserve(playback, wav_bytes(playback_samples(n_samples, sample_rate, rendering.playback_rate)))


def _write_clip(
    genre_model: GenreModel, z: np.ndarray, n_samples: int | None, path: Path, playback_path: Path | None,
    rendering: Rendering,
) -> dict[str, Any]:  # fmt: skip
    from genrevae.audio import write_waveform

    written = write_waveform(
        path, genre_model.decode(z, n_samples, rendering.chunk_frames), genre_model.sample_rate, rendering.peak_dbfs,
        playback_path, rendering.playback_rate,
    )  # fmt: skip
    return {
        "n_samples": written.n_samples,
        "seconds": round(written.seconds, 6),
        "gain": written.gain,
        "peak": written.peak,
        "rms": written.rms,
        "latent_frames": int(z.shape[0]),
    }


def _settings(genre_model: GenreModel, rendering: Rendering, **values: Any) -> dict[str, Any]:
    return {
        "model": str(genre_model.folder),
        "model_fingerprint": genre_model.fingerprint,
        "sample_rate": genre_model.sample_rate,
        **values,
        "playback_rate": rendering.playback_rate,
        "peak_dbfs": rendering.peak_dbfs,
        "chunk_frames": rendering.chunk_frames,
    }


def _earlier_clips(out_dir: Path, keep: Sequence[str]) -> tuple[Path, ...]:
    """The clips an earlier ``generate`` run left in ``out_dir`` (by its manifest) that a new run
    does not write: ``--force`` removes them so that the folder holds what its manifest lists."""
    try:
        manifest = read_report(out_dir / "manifest.json")
        names = [clip["file"] for clip in manifest["clips"]] if manifest.get("command") == "generate" else []
    except (ArtifactError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return ()
    stale = [n for n in names if isinstance(n, str) and _GENERATED_CLIP.fullmatch(n) and n not in keep]
    return tuple(p for n in stale for p in (out_dir / n, out_dir / "playback" / n) if p.is_file())


@dataclass(frozen=True)
class GenerateJob:
    """``n`` clips of ``seconds`` (clip ``i`` from seed ``seed + i``) into ``out_dir``:
    ``<prior>_NN_seedS.wav`` at the model rate, ``playback/<same>.wav`` at the playback rate and
    ``manifest.json`` with every setting; same arguments, same bytes."""

    out_dir: Path
    n: int
    seconds: float
    seed: int
    prior_kind: str
    temperature: float
    rendering: Rendering
    names: tuple[str, ...]
    outputs: OutputFiles
    stale: tuple[Path, ...]

    @classmethod
    def check(
        cls, folder: GenreFolder, out_dir: Path, n: int, seconds: float, seed: int, prior_kind: str = "learned",
        temperature: float | None = None, rendering: Rendering | None = None, force: bool = False,
    ) -> "GenerateJob":  # fmt: skip
        """Every argument and output checked; ``out_dir`` must be new or empty unless ``force``
        (which replaces an earlier run's clips there)."""
        if int(n) < 1:
            raise ConfigError(f"--n must be >= 1, got {n}")
        check_prior_kind(folder, prior_kind)
        tau = check_temperature((folder.temperature or 1.0) if temperature is None else temperature)
        n_samples = clip_samples(seconds, folder.sample_rate)
        rendering = rendering or Rendering.from_settings()
        out_dir = Path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"{out_dir}: --out exists and is not a folder; give a folder")
        earlier = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
        if earlier and not force:
            raise ConfigError(
                f"{out_dir}: --out is not empty ({summarise(earlier, 3, ', ')}); give a new or empty folder, "
                "or --force to replace an earlier generate run there"
            )
        prefix = "sample" if prior_kind == "learned" else "gaussian"
        names = tuple(f"{prefix}_{i:02d}_seed{int(seed) + i}.wav" for i in range(int(n)))
        outputs = OutputFiles(force=force)
        for name in names:
            outputs.add(out_dir / name, "a clip")
            outputs.add(out_dir / "playback" / name, "a playback copy")
            _count_clip(outputs, out_dir / name, out_dir / "playback" / name, n_samples, folder.sample_rate, rendering)
        outputs.add(out_dir / "manifest.json", "the manifest")
        outputs.reserve(out_dir / "manifest.json", _JSON_BYTES * (1 + int(n)))
        outputs.check_space()
        stale = _earlier_clips(out_dir, names) if force else ()
        return cls(out_dir, int(n), float(seconds), int(seed), prior_kind, tau, rendering, names, outputs, stale)

    def run(self, genre_model: GenreModel) -> dict[str, Any]:
        clips = []
        with self.outputs.staged() as temporary:
            for i, name in enumerate(self.names):
                seed = self.seed + i
                z, n_samples = genre_model.generate(self.seconds, seed, self.prior_kind, self.temperature)
                clip, playback = self.out_dir / name, self.out_dir / "playback" / name
                info = _write_clip(genre_model, z, n_samples, temporary[clip], temporary[playback], self.rendering)
                clips.append({"file": name, "playback_file": f"playback/{name}", "seed": seed, **info})
            manifest = {
                "command": "generate",
                "settings": _settings(
                    genre_model, self.rendering, n=self.n, seconds=self.seconds, seed=self.seed, prior=self.prior_kind,
                    temperature=self.temperature if self.prior_kind == "learned" else None,
                ),  # fmt: skip
                "clips": clips,
            }
            temporary[self.out_dir / "manifest.json"].write_text(json_text(manifest), encoding="utf-8")
        for path in self.stale:
            path.unlink(missing_ok=True)
        return manifest


def _write_with_sidecar(
    genre_model: GenreModel, z: np.ndarray, n_samples: int, out: Path, playback_out: Path | None,
    rendering: Rendering, record: dict[str, Any], temporary: Mapping[Path, Path],
) -> dict[str, Any]:  # fmt: skip
    """``out`` (WAV), optionally ``playback_out``, and ``out`` with ``.json`` (every setting),
    each written to its ``temporary`` name."""
    playback_tmp = None if playback_out is None else temporary[playback_out]
    info = _write_clip(genre_model, z, n_samples, temporary[out], playback_tmp, rendering)
    record = {**record, "file": out.name, "playback_file": None if playback_out is None else str(playback_out), **info}
    temporary[out.with_suffix(".json")].write_text(json_text(record), encoding="utf-8")
    return record


def _check_outputs_of(
    outputs: OutputFiles, out: Path, playback_out: Path | None, out_what: str = "--out"
) -> tuple[Path, Path | None]:
    out = outputs.add(_wav_name(out, out_what), out_what)
    outputs.add(out.with_suffix(".json"), f"the settings file of {out_what}")
    outputs.reserve(out.with_suffix(".json"), _JSON_BYTES)
    if playback_out is not None:
        playback_out = outputs.add(_wav_name(playback_out, "--playback-out"), "--playback-out")
    return out, playback_out


@dataclass(frozen=True)
class TransferJob:
    """Recordings re-synthesised by the genre (:meth:`GenreModel.transfer`), each into its
    ``out`` WAV with a JSON sidecar of the settings and optionally a playback copy."""

    jobs: tuple[tuple[Path, Path, Path | None], ...]  # (recording, out, playback_out)
    strength: float
    seed: int
    prior_kind: str
    temperature: float
    rendering: Rendering
    outputs: OutputFiles

    @classmethod
    def check(
        cls, folder: GenreFolder, jobs: Sequence[tuple[Path, Path, Path | None]], strength: float = 0.0, seed: int = 0,
        prior_kind: str = "learned", temperature: float | None = None, rendering: Rendering | None = None,
        force: bool = False, in_genre_folder: bool = False,
    ) -> "TransferJob":  # fmt: skip
        """Arguments, outputs (named first: refused at once) and every recording (read once);
        ``in_genre_folder``: see :class:`~genrevae.output_files.OutputFiles`."""
        strength = check_unit(strength, "--strength")
        check_prior_kind(folder, prior_kind, needed=strength > 0)
        tau = check_temperature((folder.temperature or 1.0) if temperature is None else temperature)
        rendering = rendering or Rendering.from_settings()
        outputs = OutputFiles([Path(source) for source, _, _ in jobs], force, in_genre_folder)
        checked = [(Path(source), *_check_outputs_of(outputs, out, playback)) for source, out, playback in jobs]
        infos = check_recordings([source for source, _, _ in checked], folder.sample_rate)
        for info, (_, out, playback) in zip(infos, checked):
            _count_clip(outputs, out, playback, _recording_samples(info, folder.sample_rate), folder.sample_rate, rendering)
        outputs.check_space()
        return cls(tuple(checked), strength, int(seed), prior_kind, tau, rendering, outputs)

    def run(self, genre_model: GenreModel) -> list[dict[str, Any]]:
        records = []
        with self.outputs.staged() as temporary:
            for source, out, playback in self.jobs:
                z, n_samples = genre_model.transfer(
                    source, self.strength, self.seed, self.prior_kind, self.temperature, self.rendering.chunk_frames, checked=True
                )
                record = {
                    "command": "transfer",
                    "source": source.stem,
                    "input": str(source),
                    "genre": genre_model.folder.name,
                    **_settings(
                        genre_model, self.rendering, strength=self.strength, seed=self.seed, prior=self.prior_kind,
                        temperature=self.temperature,
                    ),  # fmt: skip
                }
                records.append(_write_with_sidecar(genre_model, z, n_samples, out, playback, self.rendering, record, temporary))
        return records


@dataclass(frozen=True)
class InterpolateJob:
    """One clip morphing from recording ``a`` into ``b`` (:meth:`GenreModel.interpolate`) into ``out``."""

    a: Path
    b: Path
    out: Path
    playback_out: Path | None
    seconds: float | None
    rendering: Rendering
    outputs: OutputFiles

    @classmethod
    def check(
        cls, folder: GenreFolder, a: Path, b: Path, out: Path, playback_out: Path | None = None,
        seconds: float | None = None, rendering: Rendering | None = None, force: bool = False,
    ) -> "InterpolateJob":  # fmt: skip
        rendering = rendering or Rendering.from_settings()
        limit = None if seconds is None else clip_samples(seconds, folder.sample_rate)
        outputs = OutputFiles(inputs=[Path(a), Path(b)], force=force)
        out, playback_out = _check_outputs_of(outputs, out, playback_out)
        info_a, info_b = check_recordings([Path(a), Path(b)], folder.sample_rate)
        n_samples = min(_recording_samples(i, folder.sample_rate) for i in (info_a, info_b))
        _count_clip(outputs, out, playback_out, min(n_samples, limit or n_samples), folder.sample_rate, rendering)
        outputs.check_space()
        return cls(Path(a), Path(b), out, playback_out, None if seconds is None else float(seconds), rendering, outputs)

    def run(self, genre_model: GenreModel) -> dict[str, Any]:
        with self.outputs.staged() as temporary:
            z, n_samples = genre_model.interpolate(self.a, self.b, self.seconds, self.rendering.chunk_frames, checked=True)
            record = {
                "command": "interpolate",
                "inputs": [str(self.a), str(self.b)],
                "genre": genre_model.folder.name,
                **_settings(
                    genre_model, self.rendering, seconds=self.seconds, path="slerp per latent frame, t = frame / (frames - 1)"
                ),
            }
            return _write_with_sidecar(
                genre_model, z, n_samples, self.out, self.playback_out, self.rendering, record, temporary
            )


# The same from Python, with a loaded model: check, then run.
def write_generated(
    genre_model: GenreModel, out_dir: Path, n: int, seconds: float, seed: int, prior_kind: str = "learned",
    temperature: float | None = None, rendering: Rendering | None = None, force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """See :class:`GenerateJob`; returns its manifest."""
    job = GenerateJob.check(genre_model.checked, out_dir, n, seconds, seed, prior_kind, temperature, rendering, force)
    return job.run(genre_model)


def write_transfer(
    genre_model: GenreModel, source: Path, out: Path, playback_out: Path | None = None, strength: float = 0.0,
    seed: int = 0, prior_kind: str = "learned", temperature: float | None = None, rendering: Rendering | None = None,
    force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """See :class:`TransferJob` (one recording); returns its record."""
    job = TransferJob.check(
        genre_model.checked, [(Path(source), Path(out), playback_out)], strength, seed, prior_kind, temperature, rendering, force
    )
    return job.run(genre_model)[0]


def write_interpolation(
    genre_model: GenreModel, source_a: Path, source_b: Path, out: Path, playback_out: Path | None = None,
    seconds: float | None = None, rendering: Rendering | None = None, force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """See :class:`InterpolateJob`; returns its record."""
    job = InterpolateJob.check(genre_model.checked, source_a, source_b, out, playback_out, seconds, rendering, force)
    return job.run(genre_model)
