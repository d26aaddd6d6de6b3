"""The resource models every job's mem_mb and runtime come from, at the default and GTZAN configs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import REPO_ROOT

from genrevae import resources as r
from genrevae.config import resolve_config

DEFAULT = resolve_config({})
GTZAN = resolve_config(yaml.safe_load((REPO_ROOT / "config" / "gtzan_gpu.yaml").read_text()))


def _table(config: dict, clips: int, genres: int) -> dict[str, int]:
    all_clips = [clips] * genres
    return {
        "prepare_mem": r.prepare_mem_mb(config, clips, 1),
        "data_min": r.data_runtime_min(clips, 1),
        "train_mem": r.train_mem_mb(config, clips, 1),
        "train_min": r.train_runtime_min(config, clips, 1),
        "prior_mem": r.prior_mem_mb(config, clips, 1),
        "prior_min": r.prior_runtime_min(config, 1),
        "evaluate_mem": r.evaluate_mem_mb(config, clips, 1),
        "evaluate_min": r.evaluate_runtime_min(config, clips, 1),
        "figures_mem": r.figures_mem_mb(config, clips, 1),
        "export_mem": r.export_mem_mb(config, clips, 1),
        "quality_mem": r.quality_mem_mb(config, clips, 1),
        "judge_mem": r.judge_mem_mb(config, clips, 1),
        "judge_min": r.judge_runtime_min(config, clips, 1),
        "fidelity_mem": r.fidelity_mem_mb(config, all_clips, 1),
        "fidelity_min": r.fidelity_runtime_min(config, all_clips, 1),
        "transfer_mem": r.transfer_mem_mb(config, 1),
    }


def test_default_config_numbers() -> None:
    """4 toy genres of 30 clips: the measured peaks (training 1.48 GB, evaluation 1.21 GB, ...) x 1.25."""
    assert _table(DEFAULT, 30, 4) == {
        "prepare_mem": 400, "data_min": 5, "train_mem": 1800, "train_min": 64, "prior_mem": 1400, "prior_min": 10,
        "evaluate_mem": 1600, "evaluate_min": 10, "figures_mem": 1400, "export_mem": 1200, "quality_mem": 1200,
        "judge_mem": 2800, "judge_min": 11, "fidelity_mem": 1300, "fidelity_min": 10, "transfer_mem": 1200,
    }  # fmt: skip


def test_gtzan_config_numbers() -> None:
    """config/gtzan_gpu.yaml, 10 genres of 100 clips: wider model, longer windows, 200,000 steps."""
    table = _table(GTZAN, 100, 10)
    assert table == {
        "prepare_mem": 500, "data_min": 5, "train_mem": 2700, "train_min": 45152, "prior_mem": 1400,
        "prior_min": 402, "evaluate_mem": 1700, "evaluate_min": 30, "figures_mem": 1700, "export_mem": 1200,
        "quality_mem": 1200, "judge_mem": 2900, "judge_min": 33, "fidelity_mem": 1700, "fidelity_min": 19,
        "transfer_mem": 1200,
    }  # fmt: skip
    # The runtime model is a CPU estimate: on 2 cores the GTZAN preset would train for a month.
    assert table["train_min"] > 30 * 24 * 60


def test_attempts_double_and_budgets_cap() -> None:
    assert r.train_mem_mb(DEFAULT, 30, 2) == 2 * r.train_mem_mb(DEFAULT, 30, 1)
    assert r.train_runtime_min(DEFAULT, 30, 2) == 2 * r.train_runtime_min(DEFAULT, 30, 1)
    capped = {**DEFAULT, "train": {**DEFAULT["train"], "max_seconds": 60}}
    assert r.train_runtime_min(capped, 30, 1) < r.train_runtime_min(DEFAULT, 30, 1)
    prior_capped = {**DEFAULT, "prior": {**DEFAULT["prior"], "steps": 10**6, "max_seconds": 60}}
    assert r.prior_runtime_min(prior_capped, 1) == r.minutes(30 + 60, 1, floor=10)


@pytest.mark.parametrize(
    "model",
    [
        lambda c, n: r.prepare_mem_mb(c, n, 1),
        lambda c, n: r.train_mem_mb(c, n, 1),
        lambda c, n: r.train_runtime_min(c, n, 1),
        lambda c, n: r.evaluate_runtime_min(c, n, 1),
        lambda c, n: r.fidelity_mem_mb(c, [n] * 4, 1),
    ],
)
def test_more_clips_never_ask_for_less(model) -> None:
    assert model(DEFAULT, 1000) >= model(DEFAULT, 30) >= model(DEFAULT, 1)


def test_building_blocks() -> None:
    assert r.mem(80, 1) == 100 and r.mem(81, 1) == 200 and r.mem(80, 3) == 300
    assert r.minutes(1, 1) == 5 and r.minutes(1, 1, floor=10) == 10 and r.minutes(600, 1) == 30
    seed = {**DEFAULT, "model": {**DEFAULT["model"], "preset": "report"}}
    assert r.window_samples(seed) == DEFAULT["n_samples"] and r.window_samples(DEFAULT) == 8192
    assert r.band_rate_samples(DEFAULT, 8192) == 1024 and r.model_width(seed) == 8


def test_the_estimates_import_no_stage() -> None:
    """Snakemake imports this module at every DAG build: it shares training's sizes through
    genrevae.sizes instead of importing training (numpy, pandas, a Keras backend)."""
    code = "import sys, genrevae.resources; print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas', 'keras') or m == 'genrevae.train'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
    from genrevae import train

    assert (r.N_EPOCH_SAMPLES, r.window_length) == (train.N_EPOCH_SAMPLES, train.window_length)
