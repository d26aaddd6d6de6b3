"""A trained genre model as a tool: generate any length, transfer audio into the genre, morph.

A *genre folder* is what the workflow leaves in ``results/<genre>/``
(:class:`~genrevae.artifacts.trained_genre.TrainedGenre` owns its layout and readers):
``model/model.keras`` (the VAE) with ``model/config.json`` (its settings and sample rate) and,
once fitted, ``prior/prior.keras`` with ``prior/prior.json`` (the learned prior over latent
sequences).  :meth:`GenreModel.load` opens one with a clear error for every way it can be
incomplete.

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

The commands that write clips with a genre (``genrevae generate``, ``transfer``, ``interpolate``)
are jobs in :mod:`genrevae.clip_jobs`; the checks they share with :class:`GenreModel` are here
(:func:`clip_samples`, :func:`check_recordings`, :func:`check_prior_kind`, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from genrevae.artifacts import ArtifactError
from genrevae.artifacts.trained_genre import TrainedGenre
from genrevae.config import ConfigError, load_schema
from genrevae.generation import CHUNK_FRAMES, PRIORS, decode_blocks, encode_blocks, generate_latents, slerp_frames
from genrevae.messages import summarise
from genrevae.output_files import MAX_CLIP_SECONDS

__all__ = ["ModelFolderError", "GenreFolder", "GenreModel", "Rendering", "clip_samples", "check_recordings"]


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


def no_prior_error(folder: Path) -> ModelFolderError:
    prior_file = TrainedGenre(folder).prior_file
    return ModelFolderError(
        f"{folder}: no learned prior ({prior_file.relative_to(folder)} is missing); run snakemake --cores 4 "
        f"{prior_file}, or use --prior gaussian"
    )


def check_unit(value: float, name: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}")
    return value


def check_temperature(value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"--temperature must be a finite number > 0, got {value!r}")
    return value


def check_prior_kind(folder: GenreFolder, prior_kind: str, needed: bool = True) -> None:
    if prior_kind not in PRIORS:
        raise ConfigError(f"--prior must be one of {PRIORS}, got {prior_kind!r}")
    if needed and prior_kind == "learned" and folder.temperature is None:
        raise no_prior_error(folder.path)


def clip_samples(seconds: float, sample_rate: int) -> int:
    """Samples of a clip of ``seconds`` at ``sample_rate``; a ConfigError names ``--seconds``
    unless it is a finite number > 0 and at most :data:`MAX_CLIP_SECONDS`."""
    seconds = float(seconds)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"--seconds must be a finite number > 0, got {seconds!r}")
    if seconds > MAX_CLIP_SECONDS:
        raise ConfigError(f"--seconds {seconds:g} is more than the {MAX_CLIP_SECONDS:,.0f} s (24 h) a clip may last")
    return max(1, int(round(seconds * int(sample_rate))))


def check_recordings(paths: Sequence[Path], sample_rate: int) -> list[Any]:
    """Check every recording a command reads (:func:`genrevae.audio.inspect_audio`, then its
    length at the model's ``sample_rate``: at least one sample, at most 24 h) before anything is
    written; returns their :class:`~genrevae.audio.AudioInfo`.  One AudioError lists every bad
    one (the first few and a count)."""
    from genrevae.audio import AudioError, inspect_audio

    infos, problems = [], []
    for path in paths:
        try:
            info = inspect_audio(path)
            if info.frames * int(sample_rate) < info.sample_rate:
                raise AudioError(
                    f"{path}: {info.frames} frame(s) at {info.sample_rate} Hz is shorter than one sample at the "
                    f"model's {sample_rate} Hz; give a longer recording"
                )
            if info.seconds > MAX_CLIP_SECONDS:
                raise AudioError(
                    f"{path}: lasts {info.seconds / 3600:.1f} h, more than the 24 h a clip may last; cut it into parts"
                )
            infos.append(info)
        except AudioError as exc:
            problems.append(str(exc))
    if len(problems) == 1 and len(paths) == 1:
        raise AudioError(problems[0])
    if problems:
        raise AudioError(f"{len(problems)} of {len(paths)} inputs cannot be used: {summarise(problems)}")
    return infos


@dataclass(frozen=True)
class GenreFolder:
    """A genre folder as checked on disk, before the Keras backend starts: its files are there, its
    settings readable and sane.  :meth:`GenreModel.load` then loads the networks."""

    path: Path
    sample_rate: int
    fingerprint: str  # model/config.json's fingerprint of the training run
    temperature: float | None  # the learned prior's sampling temperature; None when not fitted

    @property
    def genre(self) -> TrainedGenre:
        """The folder's files (their paths and readers)."""
        return TrainedGenre(self.path)

    @property
    def model_file(self) -> Path:
        return self.genre.model_file

    @property
    def prior_file(self) -> Path:
        return self.genre.prior_file

    @classmethod
    def open(cls, folder: Path, need_prior: bool = False) -> "GenreFolder":
        """Check ``results/<genre>``; :class:`ModelFolderError` names what is missing or broken and how to mend it."""
        folder = Path(folder)
        parent = TrainedGenre(folder).enclosing_genre()
        if parent is not None:
            raise ModelFolderError(f"{folder}: give the genre folder {parent.path}, not its {folder.name}/ subfolder")
        if not folder.is_dir():
            raise ModelFolderError(
                f"{folder}: no such genre folder; train one first (snakemake --cores 4 results/<genre>/generated) "
                "and give results/<genre>"
            )
        genre = TrainedGenre(folder)
        model_file, config_file = genre.model_file, genre.config_file
        model_name = model_file.relative_to(folder)
        if not model_file.is_file():
            checkpoints = sorted(genre.checkpoints_dir.glob("step-*"))
            if checkpoints:
                raise ModelFolderError(
                    f"{folder}: training has not finished (last checkpoint {checkpoints[-1].name}, no {model_name}); "
                    f"run snakemake --cores 4 {model_file} to resume and finish it"
                )
            raise ModelFolderError(
                f"{folder}: no trained model ({model_name} is missing); "
                f"run snakemake --cores 4 {genre.generated_dir} first"
            )
        try:
            config = genre.read_config()
            sample_rate = config["settings"]["sample_rate"]
            fingerprint = str(config.get("fingerprint", ""))
        except (ArtifactError, OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFolderError(
                f"{config_file}: missing or unreadable ({exc}); it is written with model.keras: re-run training"
            ) from exc
        bounds = load_schema()["properties"]["sample_rate"]  # what the workflow could have trained at
        low, high = bounds["minimum"], bounds["maximum"]
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not low <= sample_rate <= high:
            raise ModelFolderError(
                f"{config_file}: settings.sample_rate is {sample_rate!r}, not a rate in Hz ({low}..{high}); "
                "the file is damaged: re-run training"
            )
        temperature = None
        prior_file, report_file = genre.prior_file, genre.prior_report_file
        if prior_file.is_file():
            try:
                temperature = float(genre.read_prior_report()["settings"]["temperature"])
            except (ArtifactError, OSError, ValueError, KeyError, TypeError) as exc:
                raise ModelFolderError(
                    f"{report_file}: missing or unreadable ({type(exc).__name__}: {exc}); it holds the prior's "
                    f"temperature: re-fit the prior (snakemake --cores 4 {report_file})"
                ) from exc
            if not (math.isfinite(temperature) and temperature > 0):
                raise ModelFolderError(
                    f"{report_file}: settings.temperature is {temperature!r}, not a number > 0; re-fit the prior "
                    f"(snakemake --cores 4 {report_file})"
                )
        elif need_prior:
            raise no_prior_error(folder)
        return cls(folder, sample_rate, fingerprint, temperature)


@dataclass
class GenreModel:
    folder: Path
    model: Any  # genrevae.model.WaveVAE
    prior: Any | None  # genrevae.prior.LatentPrior, None when not fitted
    sample_rate: int
    temperature: float  # the prior's sampling temperature from the workflow's settings (1.0 without a prior)
    fingerprint: str  # model/config.json's fingerprint of the training run

    @classmethod
    def load(cls, folder: Path | GenreFolder, need_prior: bool = False) -> "GenreModel":
        """Open ``results/<genre>`` (checked by :meth:`GenreFolder.open` unless given checked)
        and load its VAE and learned prior."""
        checked = folder if isinstance(folder, GenreFolder) else GenreFolder.open(folder, need_prior)
        if need_prior and checked.temperature is None:
            raise no_prior_error(checked.path)
        from genrevae.model import load_model

        try:
            model = load_model(checked.model_file)
        except Exception as exc:  # Keras raises many kinds for a damaged archive
            raise ModelFolderError(
                f"{checked.model_file}: cannot be loaded ({type(exc).__name__}: {exc}); re-run training"
            ) from exc
        prior = None
        if checked.temperature is not None:
            from genrevae.prior import load_prior

            try:
                prior = load_prior(checked.prior_file)
            except Exception as exc:
                raise ModelFolderError(f"{checked.prior_file}: cannot be loaded ({type(exc).__name__}: {exc}); re-fit it") from exc
        temperature = 1.0 if checked.temperature is None else checked.temperature
        return cls(checked.path, model, prior, checked.sample_rate, temperature, checked.fingerprint)

    @property
    def checked(self) -> GenreFolder:
        """This model's folder as :meth:`GenreFolder.open` describes it (what the jobs check against)."""
        return GenreFolder(self.folder, self.sample_rate, self.fingerprint, None if self.prior is None else self.temperature)

    # -- latents ---------------------------------------------------------------------------
    def check_prior(self, prior_kind: str) -> None:
        """Raise unless ``prior_kind`` names a prior this folder can sample."""
        check_prior_kind(self.checked, prior_kind)

    def _prior_latents(self, frames_for: int, seed: int, prior_kind: str, temperature: float) -> np.ndarray:
        """One latent sequence for a waveform of ``frames_for`` samples, from seed ``seed``."""
        self.check_prior(prior_kind)
        return generate_latents(self.model, self.prior, 1, int(seed), prior_kind, float(temperature), int(frames_for))[0]

    def encode_file(self, path: Path, chunk_frames: int = CHUNK_FRAMES, checked: bool = False) -> tuple[np.ndarray, int]:
        """Posterior mean ``(frames, C)`` of any audio file (checked first by
        :func:`check_recordings` unless ``checked``; read in blocks) and the file's length in
        samples at the model's rate."""
        from genrevae.audio import read_blocks

        if not checked:
            check_recordings([path], self.sample_rate)
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
        return clip_samples(seconds, self.sample_rate)

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
        tau = check_temperature(self.temperature if temperature is None else temperature)
        return self._prior_latents(n_samples, seed, prior_kind, tau), n_samples

    def transfer(
        self,
        path: Path,
        strength: float = 0.0,
        seed: int = 0,
        prior_kind: str = "learned",
        temperature: float | None = None,
        chunk_frames: int = CHUNK_FRAMES,
        checked: bool = False,
    ) -> tuple[np.ndarray, int]:
        """Latents of ``path`` re-played by this genre, and its length in samples: the posterior
        mean, every frame slerped by ``strength`` towards a prior draw of the same length from
        ``seed`` (0: none, 1: the draw alone).  ``checked``: ``path`` passed :func:`check_recordings`."""
        strength = check_unit(strength, "--strength")
        tau = check_temperature(self.temperature if temperature is None else temperature)
        z, n_samples = self.encode_file(path, chunk_frames, checked)
        if strength == 0.0:
            return z, n_samples
        draw = self._prior_latents(z.shape[0] * int(self.model.hop), seed, prior_kind, tau)[: z.shape[0]]
        return slerp_frames(z, draw, strength).astype(np.float32), n_samples

    def interpolate(
        self, path_a: Path, path_b: Path, seconds: float | None = None, chunk_frames: int = CHUNK_FRAMES, checked: bool = False
    ) -> tuple[np.ndarray, int]:
        """Latents of one clip morphing from ``path_a`` into ``path_b``, and its length in samples:
        frame ``t`` of ``T`` (the shorter recording, or ``seconds`` if shorter still) decodes
        ``slerp(z_A[t], z_B[t], t / (T - 1))``."""
        (za, length_a), (zb, length_b) = (self.encode_file(p, chunk_frames, checked) for p in (path_a, path_b))
        n_samples = min(length_a, length_b)
        if seconds is not None:
            n_samples = min(n_samples, self.samples_for(seconds))
        frames = self.model.latent_frames(n_samples)
        t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(frames)
        return slerp_frames(za[:frames], zb[:frames], t).astype(np.float32), n_samples

    def decode(self, z: np.ndarray, n_samples: int | None = None, chunk_frames: int = CHUNK_FRAMES):
        """The waveform of a latent sequence as consecutive blocks (see :func:`decode_blocks`)."""
        return decode_blocks(self.model, z, n_samples, chunk_frames)
