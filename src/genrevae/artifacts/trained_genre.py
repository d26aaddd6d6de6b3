"""``results/<genre>/``: one trained genre, the layout of its folder and its model-half files.

:class:`TrainedGenre` is the one place that names the files of a genre folder; the workflow's
rules take their patterns from it (``TrainedGenre("results/{genre}")``, see
``workflow/rules/common.smk``) and the stages, the commands and the page their paths.  Each
file below has its one reader and one writer here (or, for the Keras archives and the JSON
reports, the pair named in the table)::

    ===============================  =====================  ===================================
    file (in the genre folder)       attribute              reader / writer
    ===============================  =====================  ===================================
    ``model/model.keras``            ``model_file``         genrevae.model.load_model / train
    ``model/config.json``            ``config_file``        :func:`read_config` / :func:`write_config`
    ``model/history.csv``            ``history_file``       :func:`read_history` / :func:`write_history`
    ``model/epoch_samples.npy``      ``epoch_samples_file`` :func:`read_epoch_samples` / :func:`write_epoch_samples`
    ``model/checkpoints/``           ``checkpoints_dir``    genrevae.checkpoints (train's resume state)
    ``prior/prior.keras``            ``prior_file``         genrevae.prior.load_prior / fit_prior_files
    ``prior/prior.json``             ``prior_report_file``  :func:`read_prior_report` / :func:`write_prior_report`
    ``metrics.json``                 ``metrics_file``       genrevae.artifacts.reports
    ``generation_quality.json``      ``quality_file``       genrevae.artifacts.reports
    ``judge.json``                   ``judge_file``         genrevae.artifacts.reports
    ``figures/<figure>``             ``figure_file(name)``  genrevae.figures (PNG, GIF)
    ``generated/manifest.csv``       ``manifest_file``      :func:`read_manifest` / :func:`write_manifest`
    ``transfer/``                    ``transfer_dir``       genrevae.clip_jobs.TransferJob
    ===============================  =====================  ===================================

The train and prior stages write into a sub-folder they are given (``--out-dir``, the rule's
``model/`` and ``prior/``) under the names :data:`MODEL_FILES` and :data:`PRIOR_FILES`, the same
names the genre folder's attributes join.  Every reader raises :class:`ArtifactError` naming
the file when it is missing or does not hold what the next stage needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from genrevae.artifacts import ArtifactError
from genrevae.artifacts.reports import read_report, write_report
from genrevae.files import write_csv, write_npy

__all__ = [
    "ADVERSARIAL_COLUMNS", "HISTORY_COLUMNS", "MANIFEST_COLUMNS", "MODEL_FILES", "PRIOR_FILES", "TrainedGenre",
    "read_config", "read_epoch_samples", "read_history", "read_manifest", "read_prior_report",
    "write_config", "write_epoch_samples", "write_history", "write_manifest", "write_prior_report",
]  # fmt: skip

# -- the layout: every name once -----------------------------------------------------------------
MODEL_DIR, PRIOR_DIR, FIGURES_DIR, GENERATED_DIR, TRANSFER_DIR = "model", "prior", "figures", "generated", "transfer"
#: What the train stage writes into the genre's ``model/`` folder (``model`` last: it means the run finished).
MODEL_FILES = {"model": "model.keras", "history": "history.csv", "config": "config.json", "epoch_samples": "epoch_samples.npy"}
#: Train's resume state, inside ``model/``.
CHECKPOINTS_DIR = "checkpoints"
#: What the prior stage writes into the genre's ``prior/`` folder.
PRIOR_FILES = {"prior": "prior.keras", "report": "prior.json"}
METRICS, QUALITY, JUDGE, MANIFEST = "metrics.json", "generation_quality.json", "judge.json", "manifest.csv"

#: Columns of history.csv; the adversarial phase's rows add ADVERSARIAL_COLUMNS (empty in VAE rows).
HISTORY_COLUMNS = ("step", "train_loss", "test_elbo", "test_recon", "test_kl", "kl_weight", "seconds", "phase")
ADVERSARIAL_COLUMNS = ("disc_loss", "gen_spectral", "gen_adversarial", "gen_feature_matching", "adversarial_weight")
#: What every reader of history.csv relies on (``phase`` came later: a file without it is all VAE rows).
_HISTORY_NEEDED = HISTORY_COLUMNS[:-1]

#: Columns of ``generated/manifest.csv``, in order.
MANIFEST_COLUMNS = [
    "file",  # path of the WAV at the model rate, relative to the folder
    "playback_file",  # the same clip at playback_rate
    "kind",  # sample (learned prior) | gaussian_sample (N(0, I)) | original | reconstruction | interpolation
    "group",  # clips that belong together: sample_03, pair_jazz.00004, interp_00
    "source_clips",  # shard row(s) the clip comes from, ';'-separated (empty for samples)
    "source_tracks",  # their file names, ';'-separated
    "seed",  # prior-draw seed (samples only)
    "temperature",  # sampling temperature of the learned prior (its samples only)
    "step",  # interpolation step (0 .. steps-1)
    "t",  # interpolation position in [0, 1]
    "latent_file",  # .npy holding z (decoded kinds only)
    "z1",  # latent coordinates when the latent has exactly 2 dimensions
    "z2",
    "n_samples",
    "duration_s",
    "sample_rate",
    "playback_rate",
    "gain",  # factor applied after DC removal (<= 1)
    "peak",  # peak |x| of the written signal, full scale = 1
    "rms",  # RMS of the written signal
]
#: What the page needs of a manifest (older manifests lack later columns, e.g. ``temperature``).
_MANIFEST_NEEDED = ("file", "kind")


@dataclass(frozen=True)
class TrainedGenre:
    """One genre folder, ``results/<genre>``: the paths of its files and their readers.

    ``TrainedGenre("results/{genre}")`` gives the workflow's patterns (the wildcard stays in
    the path).  Nothing is read when it is made: a reader raises :class:`ArtifactError` naming
    the file that is missing or malformed."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def name(self) -> str:
        return self.path.name

    # -- the layout --------------------------------------------------------------------------
    @property
    def model_dir(self) -> Path:
        return self.path / MODEL_DIR

    @property
    def prior_dir(self) -> Path:
        return self.path / PRIOR_DIR

    @property
    def model_file(self) -> Path:
        return self.model_dir / MODEL_FILES["model"]

    @property
    def config_file(self) -> Path:
        return self.model_dir / MODEL_FILES["config"]

    @property
    def history_file(self) -> Path:
        return self.model_dir / MODEL_FILES["history"]

    @property
    def epoch_samples_file(self) -> Path:
        return self.model_dir / MODEL_FILES["epoch_samples"]

    @property
    def checkpoints_dir(self) -> Path:
        return self.model_dir / CHECKPOINTS_DIR

    @property
    def prior_file(self) -> Path:
        return self.prior_dir / PRIOR_FILES["prior"]

    @property
    def prior_report_file(self) -> Path:
        return self.prior_dir / PRIOR_FILES["report"]

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def quality_file(self) -> Path:
        return self.path / QUALITY

    @property
    def judge_file(self) -> Path:
        return self.path / JUDGE

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES_DIR

    def figure_file(self, name: str) -> Path:
        """``figures/<name>`` (the names are :data:`genrevae.figure_list.FIGURES`' files)."""
        return self.figures_dir / name

    @property
    def generated_dir(self) -> Path:
        return self.path / GENERATED_DIR

    @property
    def manifest_file(self) -> Path:
        return self.generated_dir / MANIFEST

    @property
    def transfer_dir(self) -> Path:
        return self.path / TRANSFER_DIR

    def enclosing_genre(self) -> "TrainedGenre | None":
        """The genre folder whose ``model/`` or ``prior/`` subfolder this path is (the usual slip
        when a command is given a genre folder), or None: the commands then name the right one."""
        parent = TrainedGenre(self.path.parent)
        if self.path in (parent.model_dir, parent.prior_dir) and parent.model_dir.is_dir():
            return parent
        return None

    # -- the readers -------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        return read_config(self.config_file)

    def read_history(self) -> pd.DataFrame:
        return read_history(self.history_file)

    def read_epoch_samples(self) -> np.ndarray:
        return read_epoch_samples(self.epoch_samples_file)

    def read_prior_report(self) -> dict[str, Any]:
        return read_prior_report(self.prior_report_file)

    def read_metrics(self) -> dict[str, Any]:
        return _read_object(self.metrics_file)

    def read_quality(self) -> dict[str, Any]:
        return _read_object(self.quality_file)

    def read_judge(self) -> dict[str, Any]:
        return _read_object(self.judge_file)

    def read_manifest(self) -> pd.DataFrame:
        return read_manifest(self.manifest_file)


# -- one reader and one writer per file ------------------------------------------------------------
def _missing(path: Path, what: str) -> ArtifactError:
    return ArtifactError(f"{path}: no such file; {what}")


def _read_object(path: Path) -> dict[str, Any]:
    """A JSON report that must hold an object; a missing or malformed file names itself."""
    try:
        report = read_report(path)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc}); run the stage that writes it again") from exc
    if not isinstance(report, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(report).__name__}")
    return report


def read_config(path: Path) -> dict[str, Any]:
    """``model/config.json``: what training used (``settings``) and what it did."""
    report = _read_object(path)
    if not isinstance(report.get("settings"), dict):
        raise ArtifactError(f"{path}: no 'settings' object; it is written with model.keras: re-run training")
    return report


def write_config(config: dict[str, Any], path: Path) -> None:
    if not isinstance(config.get("settings"), dict):
        raise ArtifactError(f"{path}: a training config holds a 'settings' object")
    write_report(config, path)


def read_prior_report(path: Path) -> dict[str, Any]:
    """``prior/prior.json``: the prior's settings, fit history and likelihood report."""
    return _read_object(path)


def write_prior_report(report: dict[str, Any], path: Path) -> None:
    write_report(report, path)


def _read_table(path: Path, needed: Sequence[str], stage: str, empty_as_nan: bool) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise _missing(path, f"run {stage}")
    try:
        table = pd.read_csv(path, keep_default_na=empty_as_nan)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: not a readable CSV table ({exc}); run {stage} again") from exc
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ArtifactError(f"{path}: missing column(s) {missing}; run {stage} again")
    return table


def read_history(path: Path) -> pd.DataFrame:
    """``model/history.csv``: one row per checkpoint (see :data:`HISTORY_COLUMNS`); empty cells
    (the adversarial columns of VAE rows) are NaN, as in the frame training wrote."""
    return _read_table(path, _HISTORY_NEEDED, "training", empty_as_nan=True)


def write_history(table: pd.DataFrame, path: Path) -> None:
    columns = list(table.columns)
    if columns[: len(HISTORY_COLUMNS)] != list(HISTORY_COLUMNS) or not set(columns[len(HISTORY_COLUMNS) :]) <= set(
        ADVERSARIAL_COLUMNS
    ):
        raise ArtifactError(f"{path}: history columns are {list(HISTORY_COLUMNS)} (+ {list(ADVERSARIAL_COLUMNS)}), got {columns}")
    write_csv(table, path)


def read_epoch_samples(path: Path) -> np.ndarray:
    """``model/epoch_samples.npy``: float32 ``(checkpoints + 1, draws, points)``."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, "run training")
    try:
        samples = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ArtifactError(f"{path}: not a NumPy array file ({exc}); run training again") from exc
    if samples.ndim != 3 or samples.dtype != np.float32:
        raise ArtifactError(f"{path}: expected float32 (checkpoints + 1, draws, points), got {samples.dtype} {samples.shape}")
    return samples


def write_epoch_samples(samples: np.ndarray, path: Path) -> None:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 3:
        raise ArtifactError(f"{path}: epoch samples are (checkpoints + 1, draws, points), got {samples.shape}")
    write_npy(samples, path)


def read_manifest(path: Path) -> pd.DataFrame:
    """``generated/manifest.csv``: one row per exported WAV (empty cells as ``''``)."""
    return _read_table(path, _MANIFEST_NEEDED, "the export", empty_as_nan=False)


def write_manifest(table: pd.DataFrame, path: Path) -> None:
    if list(table.columns) != MANIFEST_COLUMNS:
        raise ArtifactError(f"{path}: a manifest has the columns {MANIFEST_COLUMNS}, got {list(table.columns)}")
    write_csv(table, path, float_format="%.8g")
