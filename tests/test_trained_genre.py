"""A trained genre folder (genrevae.artifacts.trained_genre): one layout, one reader and one writer per file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO_ROOT
from genrevae.artifacts import ArtifactError
from genrevae.artifacts.trained_genre import (
    ADVERSARIAL_COLUMNS,
    HISTORY_COLUMNS,
    MANIFEST_COLUMNS,
    MODEL_FILES,
    PRIOR_FILES,
    TrainedGenre,
    read_config,
    read_epoch_samples,
    read_history,
    read_manifest,
    read_prior_report,
    write_config,
    write_epoch_samples,
    write_history,
    write_manifest,
    write_prior_report,
)

#: The folder as the README, the rules' outputs and the rebuild tests know it: must not change.
LAYOUT = {
    "model_file": "model/model.keras",
    "config_file": "model/config.json",
    "history_file": "model/history.csv",
    "epoch_samples_file": "model/epoch_samples.npy",
    "checkpoints_dir": "model/checkpoints",
    "prior_file": "prior/prior.keras",
    "prior_report_file": "prior/prior.json",
    "metrics_file": "metrics.json",
    "quality_file": "generation_quality.json",
    "judge_file": "judge.json",
    "figures_dir": "figures",
    "generated_dir": "generated",
    "manifest_file": "generated/manifest.csv",
    "transfer_dir": "transfer",
}


def test_the_layout_of_a_genre_folder() -> None:
    genre = TrainedGenre("results/jazz")
    assert genre.path == Path("results/jazz") and genre.name == "jazz"
    for attribute, relative in LAYOUT.items():
        assert getattr(genre, attribute) == Path("results/jazz") / relative, attribute
    assert genre.figure_file("samples_grid.png") == Path("results/jazz/figures/samples_grid.png")
    # the stages that write into a sub-folder use the same names
    assert {genre.model_dir / n for n in MODEL_FILES.values()} == {
        genre.model_file, genre.config_file, genre.history_file, genre.epoch_samples_file
    }  # fmt: skip
    assert {genre.prior_dir / n for n in PRIOR_FILES.values()} == {genre.prior_file, genre.prior_report_file}


def test_the_workflow_patterns_keep_the_wildcard() -> None:
    genre = TrainedGenre("results/{genre}")
    assert str(genre.model_file) == "results/{genre}/model/model.keras"
    assert str(genre.path).format(genre="rock") == "results/rock"


def test_no_rule_spells_a_genre_folder_file_itself() -> None:
    """The rules take every model-half path from common.smk's ``GENRE``; only the data half is spelt out."""
    for path in sorted((REPO_ROOT / "workflow" / "rules").glob("*.smk")):
        spelt = re.findall(r"results/\{+genre\}+/(?!data/)[\w./{}]+", path.read_text(encoding="utf-8"))
        assert not spelt, f"{path.name}: {spelt}"


def test_no_rule_passes_a_model_or_prior_file_to_a_command() -> None:
    """The model stages are given the genre folder (--genre-dir) and open its model and prior
    through TrainedGenre; their rules list those files as inputs but never pass them."""
    for path in sorted((REPO_ROOT / "workflow" / "rules").glob("*.smk")):
        loose = re.findall(r"--(?:model|prior)s?\b(?!-)", path.read_text(encoding="utf-8"))
        assert not loose, f"{path.name}: {loose}"


def test_a_model_or_prior_subfolder_names_its_genre_folder(tmp_path: Path) -> None:
    genre = TrainedGenre(tmp_path / "jazz")
    assert TrainedGenre(genre.model_dir).enclosing_genre() is None  # nothing on disk yet
    genre.model_dir.mkdir(parents=True)
    assert TrainedGenre(genre.model_dir).enclosing_genre() == genre
    assert TrainedGenre(genre.prior_dir).enclosing_genre() == genre
    assert genre.enclosing_genre() is None and TrainedGenre(genre.figures_dir).enclosing_genre() is None


def _history(adversarial: bool = False) -> pd.DataFrame:
    rows = [
        {"step": 2, "train_loss": 0.5, "test_elbo": -120.0, "test_recon": -100.0, "test_kl": 20.0, "kl_weight": 0.5,
         "seconds": 1.25, "phase": "vae"},
        {"step": 4, "train_loss": 0.25, "test_elbo": -110.0, "test_recon": -95.0, "test_kl": 15.0, "kl_weight": 1.0,
         "seconds": 1.5, "phase": "adversarial" if adversarial else "vae"},
    ]  # fmt: skip
    columns = list(HISTORY_COLUMNS) + (list(ADVERSARIAL_COLUMNS) if adversarial else [])
    if adversarial:
        rows[1].update(dict.fromkeys(ADVERSARIAL_COLUMNS, 0.125))
    return pd.DataFrame(rows, columns=columns)


@pytest.mark.parametrize("adversarial", [False, True])
def test_history_round_trips(tmp_path: Path, adversarial: bool) -> None:
    genre = TrainedGenre(tmp_path / "jazz")
    write_history(_history(adversarial), genre.history_file)
    back = genre.read_history()
    pd.testing.assert_frame_equal(back, _history(adversarial))
    if adversarial:  # the VAE row's adversarial cells are empty in the file, NaN when read
        assert np.isnan(back.loc[0, "disc_loss"]) and back.loc[1, "disc_loss"] == 0.125


def test_history_writer_and_reader_check_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    with pytest.raises(ArtifactError, match="history.csv: history columns"):
        write_history(_history().drop(columns="test_kl"), path)
    with pytest.raises(ArtifactError, match=r"history.csv: no such file; run training"):
        read_history(path)
    _history().drop(columns="test_kl").to_csv(path, index=False)
    with pytest.raises(ArtifactError, match=r"history.csv: missing column\(s\) \['test_kl'\]"):
        read_history(path)
    path.write_bytes(b"")
    with pytest.raises(ArtifactError, match="history.csv: not a readable CSV"):
        read_history(path)
    # written before the adversarial phase existed: no phase column, still read
    _history().drop(columns="phase").to_csv(path, index=False)
    assert read_history(path)["step"].tolist() == [2, 4]


def test_epoch_samples_round_trip_and_checks(tmp_path: Path) -> None:
    genre = TrainedGenre(tmp_path)
    samples = np.random.default_rng(0).standard_normal((3, 16, 32)).astype(np.float32)
    write_epoch_samples(samples, genre.epoch_samples_file)
    assert np.array_equal(genre.read_epoch_samples(), samples) and genre.read_epoch_samples().dtype == np.float32
    with pytest.raises(ArtifactError, match="epoch_samples.npy: epoch samples are"):
        write_epoch_samples(samples[0], genre.epoch_samples_file)
    np.save(genre.epoch_samples_file, samples.astype(np.float64))
    with pytest.raises(ArtifactError, match="epoch_samples.npy: expected float32"):
        read_epoch_samples(genre.epoch_samples_file)
    genre.epoch_samples_file.write_text("not an array")
    with pytest.raises(ArtifactError, match="epoch_samples.npy: not a NumPy array file"):
        read_epoch_samples(genre.epoch_samples_file)
    with pytest.raises(ArtifactError, match="other.npy: no such file; run training"):
        read_epoch_samples(tmp_path / "other.npy")


def test_config_and_prior_report_round_trip_and_checks(tmp_path: Path) -> None:
    genre = TrainedGenre(tmp_path)
    config = {"settings": {"sample_rate": 3000, "seed": 1}, "n_samples": 3001, "fingerprint": "abc"}
    write_config(config, genre.config_file)
    assert genre.read_config() == config
    with pytest.raises(ArtifactError, match="config.json: a training config holds a 'settings' object"):
        write_config({"n_samples": 1}, genre.config_file)
    genre.config_file.write_text('{"n_samples": 1}')
    with pytest.raises(ArtifactError, match="config.json: no 'settings' object"):
        read_config(genre.config_file)
    genre.config_file.write_text("{not json")
    with pytest.raises(ArtifactError, match="config.json: not valid JSON"):
        read_config(genre.config_file)
    with pytest.raises(ArtifactError, match="prior.json: no such report"):
        genre.read_prior_report()
    report = {"settings": {"temperature": 0.7}, "report": {"test": {"learned": {"nll_per_frame": float("nan")}}}}
    write_prior_report(report, genre.prior_report_file)
    assert genre.read_prior_report()["report"]["test"]["learned"]["nll_per_frame"] is None  # NaN is null
    genre.prior_report_file.write_text("[1, 2]")
    with pytest.raises(ArtifactError, match="prior.json: expected a JSON object, got list"):
        read_prior_report(genre.prior_report_file)


def _manifest() -> pd.DataFrame:
    row = dict.fromkeys(MANIFEST_COLUMNS, "")
    row.update(file="sample_00_seed1.wav", playback_file="playback/sample_00_seed1.wav", kind="sample", seed=1,
               temperature=0.7, n_samples=3000, duration_s=1.0, sample_rate=3000, playback_rate=22050, gain=1.0,
               peak=0.123456789, rms=0.05)  # fmt: skip
    return pd.DataFrame([row], columns=MANIFEST_COLUMNS)


def test_manifest_round_trips_with_eight_significant_digits(tmp_path: Path) -> None:
    genre = TrainedGenre(tmp_path)
    write_manifest(_manifest(), genre.manifest_file)
    assert "0.12345679," in genre.manifest_file.read_text()
    back = genre.read_manifest()
    assert list(back.columns) == MANIFEST_COLUMNS and back.loc[0, "file"] == "sample_00_seed1.wav"
    assert back.loc[0, "group"] == ""  # empty cells stay empty strings, as the page expects
    with pytest.raises(ArtifactError, match="manifest.csv: a manifest has the columns"):
        write_manifest(_manifest().drop(columns="rms"), genre.manifest_file)
    _manifest().drop(columns="kind").to_csv(genre.manifest_file, index=False)
    with pytest.raises(ArtifactError, match=r"manifest.csv: missing column\(s\) \['kind'\]; run the export again"):
        read_manifest(genre.manifest_file)


def test_json_reports_of_the_folder(tmp_path: Path) -> None:
    from genrevae.artifacts.reports import write_report

    genre = TrainedGenre(tmp_path)
    for name, read in (("metrics_file", genre.read_metrics), ("quality_file", genre.read_quality), ("judge_file", genre.read_judge)):
        with pytest.raises(ArtifactError, match=f"{getattr(genre, name).name}: no such report"):
            read()
        write_report({"value": 1.5}, getattr(genre, name))
        assert read() == {"value": 1.5}
