"""Config validation and the DAG-time decisions of the Snakefile (genre discovery, file lists)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from conftest import REPO_ROOT, write_tone
from genrevae.config import ConfigError, load_config_file, resolve_config
from genrevae.workflow_support import (
    discover_genres,
    genre_audio_files,
    select_genres,
    split_arguments,
)


def test_defaults_match_the_seed_report() -> None:
    config = resolve_config({})
    assert config["sample_rate"] == 3000
    assert config["n_samples"] == 90001
    assert config["data_dir"] == "data/toy"
    assert config["split"]["test_fraction"] == pytest.approx(0.3)
    # training now runs in steps on random windows; the seed report's optimiser settings live
    # in config/seed_report.yaml (see test_seed_report_config_reproduces_its_split_without_the_leak)
    train = config["train"]
    assert (train["steps"], train["window_samples"], train["batch_size"]) == (3000, 8192, 16)
    assert train["learning_rate"] == pytest.approx(1e-3)
    assert train["checkpoint_every"] == 250 and train["kl_warmup_steps"] == 500
    assert not {"epochs", "steps_per_epoch", "kl_warmup_epochs"} & set(train)
    assert config["model"]["conv"]["bands"] == 8 and "res_blocks" not in config["model"]["conv"]
    assert config["prior"]["temperature"] == pytest.approx(1.0)


def test_shipped_config_files_are_valid() -> None:
    for path in [REPO_ROOT / "config.yaml", *sorted((REPO_ROOT / "config").glob("*.yaml"))]:
        load_config_file(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"sample_rat": 3000}, r"unknown config key 'sample_rat'; allowed keys here: .*sample_rate"),
        ({"train": {"epochz": 3}}, r"unknown config key 'train.epochz'"),
        ({"train": {"epochs": 3}}, r"unknown config key 'train.epochs'; allowed keys here: .*steps"),
        ({"model": {"conv": {"res_blocks": 1}}}, r"unknown config key 'model.conv.res_blocks'"),
        ({"prior": {"hidden": 0}}, r"config key 'prior.hidden': 0 is less than the minimum of 1"),
        ({"train": {"window_samples": 8}}, r"config key 'train.window_samples'"),
        ({"sample_rate": "3k"}, r"config key 'sample_rate': '3k' is not of type 'integer'"),
        ({"split": {"test_fraction": 1.5}}, r"config key 'split.test_fraction'"),
        ({"model": {"preset": "mlp"}}, r"config key 'model.preset': 'mlp' is not one of"),
        ({"genres": "jazz"}, r"config key 'genres': 'jazz' is not of type 'array'"),
        ({"min_seconds": -1}, r"config key 'min_seconds': -1 is less than the minimum of 0"),
    ],
)
def test_bad_config_names_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(raw)


def test_explicit_n_samples_wins() -> None:
    assert resolve_config({"n_samples": 4096})["n_samples"] == 4096
    config = resolve_config({"sample_rate": 8000, "clip_seconds": 3})
    assert config["n_samples"] == 24001
    assert config["min_seconds"] == pytest.approx(2.0, abs=1e-3)
    assert resolve_config({})["min_seconds"] == pytest.approx(20.0, abs=1e-3)


def test_missing_data_dir_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config key 'data_dir': folder .*nowhere' does not exist"):
        discover_genres(tmp_path / "nowhere")


def test_genre_discovery_skips_empty_folders_and_lists_what_exists(tmp_path: Path) -> None:
    write_tone(tmp_path / "jazz" / "jazz.00000.wav", 1.0)
    write_tone(tmp_path / "rock" / "rock.00000.wav", 1.0)
    (tmp_path / "blues").mkdir()  # empty genre folder
    available = discover_genres(tmp_path)
    assert available == ["jazz", "rock"]
    assert select_genres([], available, tmp_path) == ["jazz", "rock"]
    assert select_genres(["rock"], available, tmp_path) == ["rock"]
    with pytest.raises(ConfigError, match=r"genre 'blues' does not exist .*genres that do: jazz, rock"):
        select_genres(["blues"], available, tmp_path)
    with pytest.raises(ConfigError, match=r"genre 'metal' does not exist"):
        genre_audio_files(tmp_path, "metal", available)


def test_genre_files_are_every_visible_file_plus_toy_names(tmp_path: Path) -> None:
    write_tone(tmp_path / "jazz" / "jazz.00000.wav", 1.0)
    (tmp_path / "jazz" / "readme.txt").write_text("x")
    (tmp_path / "jazz" / ".jazz.00001.wav.tmp").write_text("partial")
    assert genre_audio_files(tmp_path, "jazz", ["jazz"]) == [
        str(tmp_path / "jazz" / "jazz.00000.wav"),
        str(tmp_path / "jazz" / "readme.txt"),
    ]
    toy = {"clips_per_genre": 2}
    files = genre_audio_files(tmp_path, "jazz", ["jazz"], toy=toy)
    assert [Path(f).name for f in files] == ["jazz.00000.wav", "jazz.00001.wav", "readme.txt"]


def test_split_arguments_pick_the_mode_per_genre() -> None:
    split = resolve_config({})["split"]
    assert split_arguments(split, "jazz") == "--seed 123 --test-fraction 0.3"
    split = resolve_config({"split": {"test_count": 4, "lists": {"jazz": {"train": ["a"], "test": ["b"]}}}})["split"]
    assert split_arguments(split, "rock") == "--seed 123 --test-count 4"
    assert split_arguments(split, "jazz").startswith("--seed 123 --lists '{\"test\": [\"b\"]")


def test_seed_report_config_reproduces_its_split_without_the_leak() -> None:
    config = load_config_file(REPO_ROOT / "config" / "seed_report.yaml")
    lists = config["split"]["lists"]["jazz"]
    assert len(lists["train"]) == 13 and len(lists["test"]) == 11
    assert not set(lists["train"]) & set(lists["test"])
    assert "jazz.00045.wav" in lists["train"]
    seed_train = [0, 52, 19, 39, 71, 12, 75, 85, 3, 45, 24, 46, 88]
    seed_test = [4, 43, 56, 55, 45, 31, 11, 13, 70, 37, 21, 78]
    assert lists["train"] == [f"jazz.{i:05d}.wav" for i in seed_train]
    assert lists["test"] == [f"jazz.{i:05d}.wav" for i in seed_test if i != 45]
    assert config["model"]["preset"] == "seed" and config["model"]["likelihood"] == "bernoulli"
    assert config["model"]["latent_dim"] == 2
    # the report's 20 epochs of 13 clips at batch 10 (2 steps each), on whole clips, Adam(3e-4)
    train = config["train"]
    assert (train["steps"], train["batch_size"], train["window_samples"]) == (40, 10, None)
    assert train["learning_rate"] == pytest.approx(3e-4) and train["stft_weight"] == 0


def test_package_defaults_equal_the_schema_defaults() -> None:
    # The functions carry their own defaults so they work without the workflow; the schema is
    # the reference, and this keeps the two from drifting apart.
    from genrevae.config import _fill_defaults, load_schema
    from genrevae.export import DEFAULT_RENDER_SETTINGS
    from genrevae.model import DEFAULT_MODEL_SETTINGS
    from genrevae.prior import PRIOR_SETTING_KEYS, validate_prior_settings
    from genrevae.quality import DEFAULT_QUALITY_SETTINGS
    from genrevae.toy import DEFAULT_TOY_GENRES, write_toy_genre
    from genrevae.training import DEFAULT_SETTINGS

    schema = _fill_defaults(load_schema(), {})
    assert DEFAULT_MODEL_SETTINGS == schema["model"]
    assert DEFAULT_RENDER_SETTINGS == schema["render"]
    assert DEFAULT_QUALITY_SETTINGS == schema["quality"]
    assert list(DEFAULT_TOY_GENRES) == schema["toy"]["genres"]
    toy_defaults = inspect.signature(write_toy_genre).parameters
    for key in ("sample_rate", "duration"):
        assert toy_defaults[key].default == schema["toy"][key], key
    for key in ("seed", "sample_rate", "train", "evaluate"):
        assert DEFAULT_SETTINGS[key] == schema[key], key
    # the prior has no package defaults (every key is required): the schema's must validate
    assert set(schema["prior"]) == set(PRIOR_SETTING_KEYS)
    assert validate_prior_settings(schema["prior"]) == schema["prior"]
