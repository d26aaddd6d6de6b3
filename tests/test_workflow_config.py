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
