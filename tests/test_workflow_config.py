"""Nested `snakemake --config` values, with the real snakemake CLI (dry runs): Snakemake gives
them as strings, the workflow types them as YAML would (issue 24, row 5)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workflow_helpers import snakemake, write_config

pytestmark = pytest.mark.workflow


def _train_settings(output: str) -> dict:
    """The --settings JSON of the train job a `--dry-run --printshellcmds` prints."""
    match = re.search(r"genrevae train .*?--settings '([^']*)'", output)
    assert match, output
    return json.loads(match.group(1))


def test_nested_command_line_values_are_typed_as_yaml(tmp_path: Path) -> None:
    write_config(tmp_path, train={"steps": 7})
    result = snakemake(
        tmp_path, "--dry-run", "--printshellcmds",
        "--config", "train={kl_beta: 0.1, xla: true, window_samples: null}", "model={conv: {strides: [2, 4, 4]}}",
        "--", "results/jazz/model/model.keras",
    )  # fmt: skip
    settings = _train_settings(result.stdout + result.stderr)
    train = settings["train"]
    assert (train["kl_beta"], train["xla"], train["window_samples"]) == (0.1, True, None)
    assert train["steps"] == 7  # the config file's value under the same section is kept
    assert settings["model"]["conv"]["strides"] == [2, 4, 4]


def test_a_bad_nested_command_line_value_says_to_use_a_configfile(tmp_path: Path) -> None:
    write_config(tmp_path)
    result = snakemake(tmp_path, "--dry-run", "--config", "train={kl_beta: abc}", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "config key 'train.kl_beta': 'abc' is not of type 'number' (given with --config" in output, output
    assert "they can also be set in a file given with --configfile" in output, output


def _stage_settings(output: str, stage: str) -> dict[str, dict]:
    """Each genre's --settings JSON of `stage`'s jobs in a `--dry-run --printshellcmds` output."""
    found = {}
    for match in re.finditer(rf"genrevae {stage} --genre-dir results/(\w+) .*?--settings '([^']*)'", output):
        found[match.group(1)] = json.loads(match.group(2))
    return found


def test_genre_settings_reach_that_genres_jobs_only(tmp_path: Path) -> None:
    write_config(tmp_path, toy={"genres": ["jazz", "rock"]}, prior={"steps": 7}, genre_settings={"rock": {"prior": {"scheduled_sampling": 0.5}}})
    result = snakemake(
        tmp_path, "--dry-run", "--printshellcmds",
        "--config", "genre_settings={rock: {prior: {scheduled_sampling: 0.5}}, jazz: {prior: {hidden: '64'}}}",
        "--", "results/jazz/prior/prior.keras", "results/rock/prior/prior.keras",
    )  # fmt: skip
    prior = _stage_settings(result.stdout + result.stderr, "prior")
    assert prior["rock"]["prior"]["scheduled_sampling"] == 0.5 and prior["rock"]["prior"]["hidden"] == 128
    assert prior["jazz"]["prior"]["scheduled_sampling"] == 0.0 and prior["jazz"]["prior"]["hidden"] == 64
    assert prior["jazz"]["prior"]["steps"] == prior["rock"]["prior"]["steps"] == 7  # the shared section under both


def test_genre_settings_of_a_missing_genre_are_named_not_used(tmp_path: Path) -> None:
    write_config(tmp_path, toy={"genres": ["jazz", "rock"]}, genre_settings={"rokc": {"prior": {"scheduled_sampling": 0.5}}})
    result = snakemake(tmp_path, "--dry-run", "--printshellcmds", "--", "results/rock/prior/prior.keras")
    output = result.stdout + result.stderr
    assert "config key 'genre_settings.rokc' is not used: genre 'rokc' does not exist" in output, output
    assert _stage_settings(output, "prior")["rock"]["prior"]["scheduled_sampling"] == 0.0


def test_null_genre_settings_drop_the_config_files(tmp_path: Path) -> None:
    write_config(tmp_path, toy={"genres": ["jazz", "rock"]}, genre_settings={"rock": {"prior": {"scheduled_sampling": 0.5}}})
    result = snakemake(
        tmp_path, "--dry-run", "--printshellcmds", "--config", "genre_settings=null", "--", "results/rock/prior/prior.keras"
    )
    assert _stage_settings(result.stdout + result.stderr, "prior")["rock"]["prior"]["scheduled_sampling"] == 0.0
