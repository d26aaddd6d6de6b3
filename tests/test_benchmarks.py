"""Smoke test of the benchmark suite: every benchmark runs at its tiny size, so the scripts don't rot.

It asserts that the one command works and that its table has every row with finite numbers; it
never asserts anything about speed (benchmarks are scripts, not tests).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, jax_env

#: Each test runs benchmark scripts in subprocesses (minutes in all): none is in the fast tier.
pytestmark = pytest.mark.slow

RUN = REPO_ROOT / "benchmarks" / "run.py"


def _expected_ids() -> tuple[str, ...]:
    sys.path.insert(0, str(RUN.parent))
    try:
        import bench

        return bench.ROW_IDS
    finally:
        sys.path.remove(str(RUN.parent))


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_every_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    command = [sys.executable, str(RUN), "--size", "tiny", "--overlap", "--out", str(out), "--json", str(raw),
               "--workdir", str(tmp_path / "work")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]

    text = out.read_text()
    for heading in ("## Machine", "## Results"):
        assert heading in text
    for word in ("CPU:", "RAM", "TensorFlow", "Snakemake", "librosa", "Python"):
        assert word in text
    assert re.search(r"\d{4}-\d{2}-\d{2}", text), "the date is missing"

    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `([\w.]+)` \|", line)
        if match:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[match.group(1)] = cells
    expected = _expected_ids()
    assert set(rows) == set(expected), f"missing {sorted(set(expected) - set(rows))}, extra {sorted(set(rows) - set(expected))}"
    for row_id, cells in rows.items():
        _, case, seconds, rate, unit, ratio, ratio_is = cells
        assert case and unit, row_id
        for value in (seconds, rate):
            assert math.isfinite(_number(value)) and _number(value) >= 0, (row_id, cells)
        if ratio_is:
            assert math.isfinite(_number(ratio)) and _number(ratio) > 0, (row_id, cells)
    # The same table goes to stdout, and the raw numbers to JSON.
    assert "| `data.ours` |" in result.stdout
    payload = json.loads(raw.read_text())
    assert {r["id"] for r in payload["rows"]} == set(expected)
    assert payload["info"]["dag"]["dag_jobs"] > 0 and payload["info"]["e2e"]["tf_jobs"] > 0
    # Generated data is deleted when the run ends.
    assert not (tmp_path / "work").exists()


def test_quality_per_compute_runs_at_tiny_size(tmp_path: Path) -> None:
    """benchmarks/quality_per_compute.py (old default b5dd85e vs the new default's two decoder heads)
    at its tiny size: tiny widths, one genre of 3 clips of 4 s, budgets of 3 s and 6 s."""
    out, work = tmp_path / "out", tmp_path / "work"
    command = [sys.executable, str(RUN.parent / "quality_per_compute.py"), "--size", "tiny", "--out", str(out),
               "--workdir", str(work), "--models", "istft,old,amplitude"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    rows = [[c.strip() for c in line.strip().strip("|").split(" | ")]
            for line in result.stdout.splitlines() if re.match(r"\| \w+ \| (old|new|amplitude|istft) \|", line)]  # fmt: skip
    # table order is the script's (old, new, variants), whatever order --models gives
    assert [cells[1] for cells in rows] == ["old", "amplitude", "istft"] * 2, result.stdout
    for cells in rows:
        # train s, ELBO, recon MR-STFT, recon ratio, N(0, I) ratio; learned prior ratio and fit s for the step-trained models
        numbers = [cells[i] for i in (3, 5, 6, 7, 8)] + ([cells[9], cells[10]] if cells[1] != "old" else [])
        assert all(math.isfinite(_number(v)) for v in numbers), cells
    payload = json.loads((out / "quality_per_compute.json").read_text())
    assert {r["model"] for r in payload["rows"]} == {"old", "amplitude", "istft"}
    for head in ("amplitude", "istft"):
        assert payload["settings"][head]["settings"]["model"]["conv"]["head"] == head
    assert set(payload["probe"]) == {"amplitude", "istft"}
    assert (out / "quality_per_compute.png").stat().st_size > 0 and (out / "quality_per_compute.md").is_file()
    assert not work.exists()


def test_train_step_compares_backends(tmp_path: Path) -> None:
    """benchmarks/train_step.py at a tiny size: a row per backend with finite times."""
    env = jax_env()
    command = [sys.executable, str(RUN.parent / "train_step.py"), "--backends", "tensorflow,jax", "--batch-sizes", "2",
               "--steps", "2", "--repeats", "2", "--clips", "2", "--clip-seconds", "3", "--threads", "1",
               "--json", str(tmp_path / "steps.json")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    rows = json.loads((tmp_path / "steps.json").read_text())
    assert [r["backend"] for r in rows] == ["tensorflow", "jax"]
    assert all(math.isfinite(r["step_s"]) and r["step_s"] > 0 and len(r["blocks"]) == 2 for r in rows)
    assert re.search(r"\| jax \| 2 \| [0-9.]+ \| [0-9.]+ \|", result.stdout), result.stdout


def test_gpu_check_runs_on_a_cpu(tmp_path: Path) -> None:
    """benchmarks/gpu_check.py (what gpu_check.sh runs on a GPU machine) under JAX on the CPU, tiny."""
    env = jax_env()
    out = tmp_path / "check.json"
    command = [sys.executable, str(RUN.parent / "gpu_check.py"), "--tiny", "--clips", "5", "--clip-seconds", "6",
               "--batch-sizes", "2,4", "--steps", "2", "--repeats", "1", "--train-seconds", "3", "--checkpoint-every", "2",
               "--threads", "1", "--workdir", str(tmp_path / "work"), "--out", str(out)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    report = json.loads(out.read_text())
    assert report["versions"]["backend"] == "jax" and report["xla"] == "jit (always)"
    assert [r["batch_size"] for r in report["steps"]] == [2, 4]
    assert all(math.isfinite(r["step_s"]) and r["windows_per_s"] > 0 for r in report["steps"])
    assert report["training"]["steps"] >= 2 and report["clips"] == [5, 18001]
    assert "| 4 |" in result.stdout


@pytest.fixture(scope="module")
def tiny_genre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained genre folder (six 1 s tones, 4 steps on one thread, checkpoints at 2 and 4),
    trained in a subprocess; the tests below only read it."""
    root = tmp_path_factory.mktemp("genre")
    build = ("import sys; sys.path.insert(0, sys.argv[2]); from pathlib import Path; from genrevae import backend; "
             "backend.configure_threads(1); from genre_helpers import tiny_genre_folder; tiny_genre_folder(Path(sys.argv[1]), 1)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", build, str(root), str(REPO_ROOT / "tests")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "jazz"


def test_prior_compare_runs_on_a_tiny_genre(tmp_path: Path, tiny_genre: Path) -> None:
    """benchmarks/prior_compare.py on a tiny trained genre: a row per network with finite fit
    times, NLLs, sampling times and ratios, and the md/json."""
    out, genre = tmp_path / "out", tiny_genre
    command = [sys.executable, str(RUN.parent / "prior_compare.py"), "--model", str(genre / "model" / "model.keras"),
               "--shard", str(genre / "data" / "clips.npy"), "--split", str(genre / "data" / "split.csv"), "--out", str(out),
               "--set", "prior.hidden=8", "--set", "prior.heads=2", "--set", "prior.steps=5", "--set", "prior.batch_size=4",
               "--set", '{"prior": {"segment_frames": 16, "context_frames": 8, "var_order": 1}}',
               "--n-clips", "2", "--seconds", "1", "--sample-rate", "3000", "--threads", "1", "--no-machine"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    rows = [[c.strip() for c in line.strip().strip("|").split(" | ")]
            for line in result.stdout.splitlines() if re.match(r"\| (gru|transformer) \|", line)]  # fmt: skip
    assert [cells[0] for cells in rows] == ["gru", "transformer"], result.stdout
    for cells in rows:
        fit, sample = cells[2].split(" (")[0], cells[6].split(" / ")
        assert all(math.isfinite(_number(v)) for v in [fit, *cells[3:6], *sample, *cells[7:10]]), cells
    payload = json.loads((out / "prior_compare.json").read_text())
    assert [r["settings"]["network"] for r in payload["rows"]] == ["gru", "transformer"]
    assert all(r["settings"]["context_frames"] == 8 and r["steps"] == 5 for r in payload["rows"])
    assert (out / "prior_compare.md").is_file() and (out / "transformer" / "prior.keras").is_file()


def test_istft_ceiling_measures_the_head_s_representation(tmp_path: Path) -> None:
    """benchmarks/istft_ceiling.py on six clips of held notes: the exact STFT/iSTFT pair gives the
    test clips back (every ratio ~0), a radian of phase noise per bin does not, and every row is
    in the table and the json."""
    import numpy as np
    from genre_helpers import write_genre_data

    rate, rng = 3000, np.random.default_rng(0)
    t = np.arange(6 * rate) / rate
    pitches = [[110, 165, 220], [147, 196, 262], [131, 175, 247], [123, 185, 233], [139, 208, 277], [117, 156, 294]]
    clips = np.stack([sum(0.1 * np.sin(2 * np.pi * f * np.where(t % 1.5 < 0.75, 1.0, 1.06) * t) for f in chord) for chord in pitches])
    clips += 0.003 * rng.standard_normal(clips.shape)
    write_genre_data(tmp_path / "jazz" / "data", clips, ["train"] * 4 + ["test"] * 2)
    out = tmp_path / "ceiling.json"
    command = [sys.executable, str(RUN.parent / "istft_ceiling.py"), "--genre-dir", str(tmp_path / "jazz"),
               "--n-ffts", "128,256", "--phase-noises", "1.0", "--json", str(out)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["n_fft"], r["variant"]) for r in rows] == [(n, v) for n in (128, 256) for v in ("exact", "phase noise 1", "griffin-lim")]
    for r in rows:
        assert all(math.isfinite(r[k]) for k in ("ratio", "segment_ratio", "note_ratio")), r
        if r["variant"] == "exact":
            assert max(r["ratio"], r["segment_ratio"], r["note_ratio"]) < 1e-3, r
        if r["variant"] == "phase noise 1":
            assert r["ratio"] > 1e-2 and r["note_ratio"] > 1e-2, r
    assert result.stdout.count("| jazz | ") == 6


def test_adversarial_continue_resumes_a_run_and_measures_it(tmp_path: Path, tiny_genre: Path) -> None:
    """benchmarks/adversarial_continue.py on the tiny genre: `--mode adversarial` resumes from the
    run's newest checkpoint (the trainer logs it), adds its steps as the adversarial phase and
    measures finite reconstruction ratios; `--mode measure` of the continued model gives the same
    numbers back."""
    from genrevae.artifacts.trained_genre import read_config

    settings = tmp_path / "settings.json"  # what the run trained with, as the script asks
    settings.write_text(json.dumps(read_config(tiny_genre / "model" / "config.json")["settings"]))
    script = str(RUN.parent / "adversarial_continue.py")
    common = ["--run", str(tiny_genre / "model"), "--shard", str(tiny_genre / "data" / "clips.npy"),
              "--split", str(tiny_genre / "data" / "split.csv"), "--settings", str(settings)]  # fmt: skip
    adversarial = ["--mode", "adversarial", "--extra", "2", "--warmup", "1", "--adv", '{"channels": [4, 8], "kernel_size": 5, "scales": 1}']
    result = subprocess.run([sys.executable, script, *common, "--out", str(tmp_path / "adv"), *adversarial],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "resuming from checkpoint" in result.stderr, result.stderr[-3000:]
    continued = json.loads((tmp_path / "adv" / "result.json").read_text())
    phases = {row["step"]: row["phase"] for row in continued["history"]}
    assert phases == {2: "vae", 4: "vae", 6: "adversarial"}, continued["history"]
    keys = ("recon_stft", "recon_frechet_ratio", "recon_segment_ratio", "recon_note_ratio")
    assert all(math.isfinite(continued[k]) for k in keys), continued
    result = subprocess.run([sys.executable, script, *common, "--out", str(tmp_path / "measure"), "--mode", "measure",
                             "--model", continued["model"]], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    measured = json.loads((tmp_path / "measure" / "result.json").read_text())
    assert [measured[k] for k in keys] == pytest.approx([continued[k] for k in keys], rel=1e-6)
