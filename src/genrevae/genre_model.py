"""A trained genre model as a tool: generate any length, transfer audio into the genre, morph.

A *genre folder* is what the workflow leaves in ``results/<genre>/``: ``model/model.keras``
(the VAE) with ``model/config.json`` (its settings and sample rate) and, once fitted,
``prior/prior.keras`` with ``prior/prior.json`` (the learned prior over latent sequences).
:meth:`GenreModel.load` opens one with a clear error for every way it can be incomplete.

* :meth:`GenreModel.generate` -- latent sequences of any length from the learned prior (or
  N(0, I)), one seed per clip, decoded in chunks.
* :meth:`GenreModel.transfer` -- "timbre transfer": any recording encoded to its posterior
  mean and decoded by this genre's decoder, so it is re-played in the genre's sounds along
  the recording's contour; ``strength`` slerps every latent frame towards a prior draw.
* :meth:`GenreModel.interpolate` -- one clip that morphs from recording A into recording B:
  frame ``t`` of the output decodes ``slerp(z_A[t], z_B[t], t / (T - 1))``.

Long audio never has to fit in memory: files are read and encoded block by block
(:func:`genrevae.audio.read_blocks`, :func:`genrevae.generation.encode_blocks`), latents are
decoded in chunks (:func:`genrevae.generation.decode_blocks`, seamless by construction) and
written through a spool (:func:`genrevae.audio.write_waveform`).  Only the latent sequence is
held whole: 16 channels x 23.4 frames per second, 5.4 MB per hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from genrevae.artifacts import ArtifactError
from genrevae.artifacts.reports import json_text, read_report
from genrevae.config import ConfigError
from genrevae.generation import CHUNK_FRAMES, PRIORS, decode_blocks, encode_blocks, generate_latents, slerp_frames

__all__ = ["ModelFolderError", "GenreModel", "Rendering", "write_generated", "write_transfer", "write_interpolation"]


@dataclass(frozen=True)
class Rendering:
    """How the commands write clips: the playback copy's rate and the peak limit (defaults: the
    schema's ``audio`` section, as for the workflow's clips) and the decoder's chunk size."""

    playback_rate: int
    peak_dbfs: float
    chunk_frames: int = CHUNK_FRAMES

    @classmethod
    def from_settings(cls, audio: Mapping[str, Any] | None = None, chunk_frames: int = CHUNK_FRAMES) -> "Rendering":
        """``audio`` settings (any subset; the rest from the schema) and a chunk size."""
        from genrevae.config import section

        settings = section("audio", dict(audio or {}))
        return cls(int(settings["playback_rate"]), float(settings["peak_dbfs"]), int(chunk_frames))


class ModelFolderError(ConfigError):
    """A genre folder that cannot be used (missing, unfinished, no prior); says what to do."""


def _no_prior(folder: Path) -> ModelFolderError:
    return ModelFolderError(
        f"{folder}: no learned prior (prior/prior.keras is missing); run snakemake --cores 4 "
        f"{Path(folder) / 'prior' / 'prior.keras'}, or use --prior gaussian"
    )


def _check_unit(value: float, name: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}")
    return value


def _check_temperature(value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"--temperature must be a finite number > 0, got {value!r}")
    return value


@dataclass
class GenreModel:
    folder: Path
    model: Any  # genrevae.model.WaveVAE
    prior: Any | None  # genrevae.prior.LatentPrior, None when not fitted
    sample_rate: int
    temperature: float  # the prior's sampling temperature from the workflow's settings
    fingerprint: str  # model/config.json's fingerprint of the training run

    @classmethod
    def load(cls, folder: Path, need_prior: bool = False) -> "GenreModel":
        """Open ``results/<genre>``; :class:`ModelFolderError` names what is missing and how to make it."""
        folder = Path(folder)
        if folder.name in ("model", "prior") and (folder.parent / "model").is_dir():
            raise ModelFolderError(f"{folder}: give the genre folder {folder.parent}, not its {folder.name}/ subfolder")
        if not folder.is_dir():
            raise ModelFolderError(
                f"{folder}: no such genre folder; train one first (snakemake --cores 4 results/<genre>/generated) "
                "and give results/<genre>"
            )
        model_file, config_file = folder / "model" / "model.keras", folder / "model" / "config.json"
        if not model_file.is_file():
            checkpoints = sorted((folder / "model" / "checkpoints").glob("step-*"))
            if checkpoints:
                raise ModelFolderError(
                    f"{folder}: training has not finished (last checkpoint {checkpoints[-1].name}, no model/model.keras); "
                    f"run snakemake --cores 4 {model_file} to resume and finish it"
                )
            raise ModelFolderError(
                f"{folder}: no trained model (model/model.keras is missing); "
                f"run snakemake --cores 4 {folder}/generated first"
            )
        try:
            config = read_report(config_file)
            sample_rate = int(config["settings"]["sample_rate"])
            fingerprint = str(config.get("fingerprint", ""))
        except (ArtifactError, OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFolderError(
                f"{config_file}: missing or unreadable ({exc}); it is written with model.keras: re-run training"
            ) from exc
        from genrevae.model import load_model

        try:
            model = load_model(model_file)
        except Exception as exc:  # Keras raises many kinds for a damaged archive
            raise ModelFolderError(f"{model_file}: cannot be loaded ({type(exc).__name__}: {exc}); re-run training") from exc
        prior, temperature = None, 1.0
        prior_file = folder / "prior" / "prior.keras"
        if prior_file.is_file():
            from genrevae.prior import load_prior

            try:
                prior = load_prior(prior_file)
            except Exception as exc:
                raise ModelFolderError(f"{prior_file}: cannot be loaded ({type(exc).__name__}: {exc}); re-fit it") from exc
            try:
                report = read_report(folder / "prior" / "prior.json")
                temperature = float(report["settings"]["temperature"])
            except (OSError, ValueError, KeyError, TypeError):
                temperature = 1.0
        elif need_prior:
            raise _no_prior(folder)
        return cls(folder, model, prior, sample_rate, temperature, fingerprint)

    # -- latents ---------------------------------------------------------------------------
    def check_prior(self, prior_kind: str) -> None:
        """Raise unless ``prior_kind`` names a prior this folder can sample."""
        if prior_kind not in PRIORS:
            raise ConfigError(f"--prior must be one of {PRIORS}, got {prior_kind!r}")
        if prior_kind == "learned" and self.prior is None:
            raise _no_prior(self.folder)

    def _prior_latents(self, frames_for: int, seed: int, prior_kind: str, temperature: float) -> np.ndarray:
        """One latent sequence for a waveform of ``frames_for`` samples, from seed ``seed``."""
        self.check_prior(prior_kind)
        return generate_latents(self.model, self.prior, 1, int(seed), prior_kind, float(temperature), int(frames_for))[0]

    def encode_file(self, path: Path, chunk_frames: int = CHUNK_FRAMES) -> tuple[np.ndarray, int]:
        """Posterior mean ``(frames, C)`` of any audio file (checked first, read in blocks) and
        the file's length in samples at the model's rate."""
        from genrevae.audio import inspect_audio, read_blocks

        inspect_audio(path)
        length = 0

        def counted():
            nonlocal length
            for block in read_blocks(path, self.sample_rate):
                length += block.size
                yield block

        try:
            mean, _ = encode_blocks(self.model, counted(), chunk_frames)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        return mean, length

    def samples_for(self, seconds: float) -> int:
        seconds = float(seconds)
        if not (math.isfinite(seconds) and seconds > 0):
            raise ConfigError(f"--seconds must be a finite number > 0, got {seconds!r}")
        return max(1, int(round(seconds * self.sample_rate)))

    # -- the three uses ------------------------------------------------------------------------
    def generate(
        self, seconds: float, seed: int, prior_kind: str = "learned", temperature: float | None = None
    ) -> tuple[np.ndarray, int]:
        """The latent sequence of one generated clip of ``seconds`` from ``seed``, and its length in samples."""
        n_samples = self.samples_for(seconds)
        if self.model.context_frames() is None and n_samples != self.model.n_samples:
            raise ConfigError(
                f"the {self.model.preset} preset generates clips of exactly {self.model.n_samples / self.sample_rate:.4f} s; "
                "give that --seconds or train a conv model"
            )
        tau = _check_temperature(self.temperature if temperature is None else temperature)
        return self._prior_latents(n_samples, seed, prior_kind, tau), n_samples

    def transfer(
        self,
        path: Path,
        strength: float = 0.0,
        seed: int = 0,
        prior_kind: str = "learned",
        temperature: float | None = None,
        chunk_frames: int = CHUNK_FRAMES,
    ) -> tuple[np.ndarray, int]:
        """Latents of ``path`` re-played by this genre, and its length in samples: the posterior
        mean, every frame slerped by ``strength`` towards a prior draw of the same length from
        ``seed`` (0: none, 1: the draw alone)."""
        strength = _check_unit(strength, "--strength")
        tau = _check_temperature(self.temperature if temperature is None else temperature)
        z, n_samples = self.encode_file(path, chunk_frames)
        if strength == 0.0:
            return z, n_samples
        draw = self._prior_latents(z.shape[0] * int(self.model.hop), seed, prior_kind, tau)[: z.shape[0]]
        return slerp_frames(z, draw, strength).astype(np.float32), n_samples

    def interpolate(
        self, path_a: Path, path_b: Path, seconds: float | None = None, chunk_frames: int = CHUNK_FRAMES
    ) -> tuple[np.ndarray, int]:
        """Latents of one clip morphing from ``path_a`` into ``path_b``, and its length in samples:
        frame ``t`` of ``T`` (the shorter recording, or ``seconds`` if shorter still) decodes
        ``slerp(z_A[t], z_B[t], t / (T - 1))``."""
        (za, length_a), (zb, length_b) = self.encode_file(path_a, chunk_frames), self.encode_file(path_b, chunk_frames)
        n_samples = min(length_a, length_b)
        if seconds is not None:
            n_samples = min(n_samples, self.samples_for(seconds))
        frames = self.model.latent_frames(n_samples)
        t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(frames)
        return slerp_frames(za[:frames], zb[:frames], t).astype(np.float32), n_samples

    def decode(self, z: np.ndarray, n_samples: int | None = None, chunk_frames: int = CHUNK_FRAMES):
        """The waveform of a latent sequence as consecutive blocks (see :func:`decode_blocks`)."""
        return decode_blocks(self.model, z, n_samples, chunk_frames)


# ---------------------------------------------------------------------------------------------
# Writing what the three uses make (the `generate`, `transfer` and `interpolate` commands)
# ---------------------------------------------------------------------------------------------
def _check_wav_path(path: Path, inputs: tuple[Path, ...] = ()) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise ConfigError(f"{path}: the output must be a .wav file name")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a .wav file name")
    for source in inputs:
        if Path(source).exists() and path.resolve() == Path(source).resolve():
            raise ConfigError(f"{path}: is also an input; choose another output name so the input is kept")
    return path


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


def write_generated(
    genre_model: GenreModel,
    out_dir: Path,
    n: int,
    seconds: float,
    seed: int,
    prior_kind: str = "learned",
    temperature: float | None = None,
    rendering: Rendering | None = None,
) -> dict[str, Any]:
    """``n`` clips of ``seconds`` (clip ``i`` from seed ``seed + i``) into ``out_dir``:
    ``<prior>_NN_seedS.wav`` at the model rate, ``playback/<same>.wav`` at ``playback_rate`` and
    ``manifest.json`` with every setting.  Everything is written under temporary names and moved
    into place at the end, so a failure leaves no partial file; same arguments, same bytes."""
    import os
    import shutil
    import tempfile

    rendering = rendering or Rendering.from_settings()
    if int(n) < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    tau = _check_temperature(genre_model.temperature if temperature is None else temperature)
    genre_model.check_prior(prior_kind)
    genre_model.samples_for(seconds)  # checks --seconds before anything is written
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a folder; give a folder for --out")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = "sample" if prior_kind == "learned" else "gaussian"
    clips = []
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".generate."))
    done = False
    try:
        for i in range(int(n)):
            z, n_samples = genre_model.generate(seconds, int(seed) + i, prior_kind, tau)
            name = f"{prefix}_{i:02d}_seed{int(seed) + i}.wav"
            info = _write_clip(genre_model, z, n_samples, tmp / name, tmp / "playback" / name, rendering)
            clips.append({"file": name, "playback_file": f"playback/{name}", "seed": int(seed) + i, **info})
        manifest = {
            "command": "generate",
            "settings": _settings(
                genre_model, rendering, n=int(n), seconds=float(seconds), seed=int(seed), prior=prior_kind,
                temperature=tau if prior_kind == "learned" else None,
            ),  # fmt: skip
            "clips": clips,
        }
        (tmp / "manifest.json").write_text(json_text(manifest), encoding="utf-8")
        (out_dir / "playback").mkdir(exist_ok=True)
        for clip in clips:
            os.replace(tmp / clip["file"], out_dir / clip["file"])
            os.replace(tmp / clip["playback_file"], out_dir / clip["playback_file"])
        os.replace(tmp / "manifest.json", out_dir / "manifest.json")
        done = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not done:
            shutil.rmtree(out_dir, ignore_errors=True)  # it held nothing but our temporary folder
    return manifest


def _write_with_sidecar(
    genre_model: GenreModel, z: np.ndarray, n_samples: int, out: Path, playback_out: Path | None,
    rendering: Rendering, record: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """``out`` (WAV), optionally ``playback_out``, and ``out`` with ``.json`` (every setting),
    the JSON last so that its presence means the WAVs are complete."""
    from genrevae.artifacts.reports import write_report

    info = _write_clip(genre_model, z, n_samples, out, playback_out, rendering)
    record = {**record, "file": out.name, "playback_file": None if playback_out is None else str(playback_out), **info}
    write_report(record, out.with_suffix(".json"))
    return record


def write_transfer(
    genre_model: GenreModel,
    source: Path,
    out: Path,
    playback_out: Path | None = None,
    strength: float = 0.0,
    seed: int = 0,
    prior_kind: str = "learned",
    temperature: float | None = None,
    rendering: Rendering | None = None,
) -> dict[str, Any]:
    """``source`` re-synthesised by the genre (:meth:`GenreModel.transfer`) into ``out``."""
    out = _check_wav_path(out, (Path(source),))
    rendering = rendering or Rendering.from_settings()
    tau = genre_model.temperature if temperature is None else temperature
    z, n_samples = genre_model.transfer(source, strength, seed, prior_kind, tau, rendering.chunk_frames)
    record = {
        "command": "transfer",
        "source": Path(source).stem,
        "input": str(source),
        "genre": genre_model.folder.name,
        **_settings(genre_model, rendering, strength=float(strength), seed=int(seed), prior=prior_kind, temperature=float(tau)),
    }
    return _write_with_sidecar(genre_model, z, n_samples, out, playback_out, rendering, record)


def write_interpolation(
    genre_model: GenreModel,
    source_a: Path,
    source_b: Path,
    out: Path,
    playback_out: Path | None = None,
    seconds: float | None = None,
    rendering: Rendering | None = None,
) -> dict[str, Any]:
    """One clip morphing from ``source_a`` into ``source_b`` (:meth:`GenreModel.interpolate`) into ``out``."""
    out = _check_wav_path(out, (Path(source_a), Path(source_b)))
    rendering = rendering or Rendering.from_settings()
    z, n_samples = genre_model.interpolate(source_a, source_b, seconds, rendering.chunk_frames)
    record = {
        "command": "interpolate",
        "inputs": [str(source_a), str(source_b)],
        "genre": genre_model.folder.name,
        **_settings(
            genre_model, rendering, seconds=None if seconds is None else float(seconds),
            path="slerp per latent frame, t = frame / (frames - 1)",
        ),  # fmt: skip
    }
    return _write_with_sidecar(genre_model, z, n_samples, out, playback_out, rendering, record)
